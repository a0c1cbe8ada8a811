"""The jobs actions: job lifecycle, proposals (one per job, daily limit, editable until the client acts),
the client's sorting, hiring through an offer, invitations, expiry and saved-search emails."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from contracts import services as contract_services
from contracts.models import Contract, Offer
from contracts.rules import OfferTerms
from jobs import services
from jobs.models import Invitation, Job, JobEvent, Proposal
from jobs.tests.factories import job_terms, make_job, make_proposal, plan
from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging.models import Notification

pytestmark = pytest.mark.django_db


def test_a_job_goes_from_draft_to_open_and_only_then_takes_proposals(client_user, freelancer):
    job = make_job(client=client_user, publish=False)
    assert job.status == Job.Status.DRAFT
    with pytest.raises(PermissionDenied):  # a draft is invisible to freelancers
        services.proposal_create(actor=freelancer, job_id=job.pk, cover_letter="Hi", milestones=plan())

    job = services.job_publish(actor=client_user, job_id=job.pk)

    assert job.status == Job.Status.OPEN and job.published_at is not None
    proposal = services.proposal_create(actor=freelancer, job_id=job.pk, cover_letter="Hi", milestones=plan())
    assert proposal.total == Decimal("700.00")
    job.refresh_from_db()
    assert job.proposal_count == 1
    assert list(job.skills.names()) == ["django", "python"] or set(job.skills.names()) == {"django", "python"}
    note = Notification.objects.get(user=client_user)
    assert "Felix Freelancer sent a proposal" in note.text


def test_job_rules_are_enforced_by_the_action(client_user):
    with pytest.raises(ValidationError, match="below the lowest"):
        services.job_create(
            actor=client_user,
            terms=job_terms(budget_min=Decimal("100"), budget_max=Decimal("50")),
            plan=[],
            publish=True,
        )
    with pytest.raises(ValidationError, match="minimum amount"):
        services.job_create(actor=client_user, terms=job_terms(budget_min=Decimal("1")), plan=[], publish=True)
    with pytest.raises(ValidationError, match="minimum amount"):  # a desired plan follows the offers' rules
        services.job_create(actor=client_user, terms=job_terms(), plan=plan("2.00"), publish=True)
    worker = FreelancerFactory()
    with pytest.raises(PermissionDenied):
        services.job_create(actor=worker, terms=job_terms(), plan=[], publish=True)


def test_one_proposal_per_freelancer_and_the_offers_milestone_rules(freelancer):
    job = make_job()
    with pytest.raises(ValidationError, match="minimum amount"):
        services.proposal_create(actor=freelancer, job_id=job.pk, cover_letter="Hi", milestones=plan("4.99"))
    with pytest.raises(ValidationError, match="at least one milestone"):
        services.proposal_create(actor=freelancer, job_id=job.pk, cover_letter="Hi", milestones=[])
    make_proposal(job=job, freelancer=freelancer)
    with pytest.raises(ValidationError, match="already sent a proposal"):
        make_proposal(job=job, freelancer=freelancer)
    with pytest.raises(PermissionDenied, match="your own job"):
        make_proposal(job=job, freelancer=job.client)


def test_daily_limit(settings, freelancer):
    settings.JOBS_PROPOSALS_PER_DAY = 2
    make_proposal(freelancer=freelancer)
    make_proposal(freelancer=freelancer)
    with pytest.raises(ValidationError, match="at most 2 proposals a day"):
        make_proposal(freelancer=freelancer)
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        make_proposal(freelancer=freelancer)


def test_closed_jobs_refuse_proposals(client_user, freelancer):
    job = make_job(client=client_user)
    services.job_cancel(actor=client_user, job_id=job.pk)
    with pytest.raises(TransitionNotAllowed, match="no longer takes proposals"):
        make_proposal(job=job, freelancer=freelancer)


def test_a_proposal_is_editable_until_the_client_acts(client_user, freelancer):
    proposal = make_proposal(job=make_job(client=client_user), freelancer=freelancer)
    services.proposal_update(
        actor=freelancer, proposal_id=proposal.pk, cover_letter="Updated", milestones=plan("100.00")
    )
    proposal.refresh_from_db()
    assert proposal.total == Decimal("100.00") and proposal.cover_letter == "Updated"
    with pytest.raises(PermissionDenied):  # only its freelancer
        services.proposal_update(actor=client_user, proposal_id=proposal.pk, cover_letter="x", milestones=plan())

    services.proposal_shortlist(actor=client_user, proposal_id=proposal.pk)

    assert Notification.objects.filter(user=freelancer, text__contains="shortlisted").exists()
    with pytest.raises(TransitionNotAllowed, match="already acted"):
        services.proposal_update(actor=freelancer, proposal_id=proposal.pk, cover_letter="x", milestones=plan())
    services.proposal_archive(actor=client_user, proposal_id=proposal.pk)
    proposal.refresh_from_db()
    assert proposal.archived and not proposal.shortlisted
    with pytest.raises(PermissionDenied):  # the freelancer can't sort the client's list
        services.proposal_shortlist(actor=freelancer, proposal_id=proposal.pk)


def test_withdraw(client_user, freelancer):
    job = make_job(client=client_user)
    proposal = make_proposal(job=job, freelancer=freelancer)
    services.proposal_withdraw(actor=freelancer, proposal_id=proposal.pk)
    proposal.refresh_from_db()
    job.refresh_from_db()
    assert proposal.status == Proposal.Status.WITHDRAWN and job.proposal_count == 0
    with pytest.raises(TransitionNotAllowed):
        services.proposal_withdraw(actor=freelancer, proposal_id=proposal.pk)


def test_hiring_sends_an_offer_in_the_proposals_thread_and_accepting_fills_the_job(client_user, freelancer):
    job = make_job(client=client_user)
    hired = make_proposal(job=job, freelancer=freelancer, amounts=("250.00", "350.00", "400.00"))
    other = make_proposal(job=job, amounts=("900.00",))
    thread = services.proposal_message(actor=client_user, proposal_id=hired.pk)
    hired.refresh_from_db()

    offer = services.proposal_hire(
        actor=client_user,
        proposal_id=hired.pk,
        terms=OfferTerms(title=job.title, scope=job.description, acceptance_criteria="Shop live", revision_rounds=2),
        milestones=hired.plan,
    )

    assert offer.thread_id == thread.pk  # the conversation carries on into the offer
    assert Proposal.objects.get(pk=hired.pk).offer_id == offer.pk
    assert Job.objects.get(pk=job.pk).status == Job.Status.OPEN  # not filled until the freelancer accepts

    contract = contract_services.offer_accept(offer_id=offer.pk, actor=freelancer, revision_number=1)

    assert contract.offer.thread_id == thread.pk
    assert [(m.title, str(m.amount)) for m in contract.milestones.all()] == [
        ("Step 1", "250.00"),
        ("Step 2", "350.00"),
        ("Step 3", "400.00"),
    ]
    job.refresh_from_db()
    assert (job.status, job.closed_reason) == (Job.Status.CLOSED, Job.ClosedReason.HIRED)
    assert Proposal.objects.get(pk=hired.pk).status == Proposal.Status.HIRED
    assert Proposal.objects.get(pk=other.pk).status == Proposal.Status.NOT_HIRED
    assert Notification.objects.filter(user=other.freelancer, text__contains="was filled").exists()
    assert JobEvent.objects.filter(job=job, kind="job_filled").exists()


def test_an_offer_from_the_directory_is_not_touched_by_the_jobs_hook(client_user, freelancer):
    from contracts.tests.factories import make_contract

    contract = make_contract(client=client_user, freelancer=freelancer)
    assert Contract.objects.filter(pk=contract.pk).exists()
    assert not Proposal.objects.exists()


def test_an_offer_thread_must_be_between_the_two_parties(client_user, freelancer):
    from messaging.services import thread_create

    stranger = FreelancerFactory()
    thread = thread_create(participants=[client_user, stranger], subject="Elsewhere")
    with pytest.raises(ValidationError):
        contract_services.offer_create(
            client=client_user,
            freelancer=freelancer,
            terms=OfferTerms(title="T", scope="S", acceptance_criteria="A", revision_rounds=1),
            milestones=plan(),
            thread=thread,
        )
    assert not Offer.objects.exists()


def test_a_declined_offer_lets_the_client_hire_again_in_a_new_thread(client_user, freelancer):
    job = make_job(client=client_user)
    proposal = make_proposal(job=job, freelancer=freelancer)
    terms = OfferTerms(title="T", scope="S", acceptance_criteria="A", revision_rounds=1)
    first = services.proposal_hire(actor=client_user, proposal_id=proposal.pk, terms=terms, milestones=proposal.plan)
    with pytest.raises(TransitionNotAllowed, match="waiting for their answer"):
        services.proposal_hire(actor=client_user, proposal_id=proposal.pk, terms=terms, milestones=proposal.plan)
    contract_services.offer_decline(offer_id=first.pk, actor=freelancer, reason="Booked")
    second = services.proposal_hire(actor=client_user, proposal_id=proposal.pk, terms=terms, milestones=proposal.plan)
    assert second.thread_id != first.thread_id


def test_invitations(client_user, freelancer):
    job = make_job(client=client_user, visibility=Job.Visibility.INVITE_ONLY)
    outsider = FreelancerFactory()
    with pytest.raises(PermissionDenied):  # invite-only: nobody uninvited may propose
        make_proposal(job=job, freelancer=outsider)
    invitation = services.invitation_create(actor=client_user, job_id=job.pk, freelancer=freelancer, message="Hi")
    assert Notification.objects.filter(user=freelancer, text__contains="invited you").exists()
    with pytest.raises(ValidationError, match="already invited"):
        services.invitation_create(actor=client_user, job_id=job.pk, freelancer=freelancer)
    with pytest.raises(PermissionDenied):
        services.invitation_create(actor=outsider, job_id=job.pk, freelancer=FreelancerFactory())

    make_proposal(job=job, freelancer=freelancer)  # accepting = proposing

    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.ACCEPTED
    second = services.invitation_create(actor=client_user, job_id=job.pk, freelancer=outsider)
    services.invitation_decline(actor=outsider, invitation_id=second.pk, reason="Too busy")
    assert Invitation.objects.get(pk=second.pk).status == Invitation.Status.DECLINED
    assert Notification.objects.filter(user=client_user, text__contains="declined your invitation").exists()


def test_jobs_expire_after_30_days_and_proposals_are_told(client_user, freelancer):
    job = make_job(client=client_user)
    proposal = make_proposal(job=job, freelancer=freelancer)
    fresh = make_job(client=client_user)
    later = timezone.now() + timedelta(days=30, minutes=1)

    with time_machine.travel(later):
        Job.objects.filter(pk=fresh.pk).update(published_at=timezone.now() - timedelta(days=29))
        assert services.jobs_expire() == (1, False)
        assert services.jobs_expire() == (0, False)  # idempotent

    job.refresh_from_db()
    assert (job.status, job.closed_reason) == (Job.Status.CLOSED, Job.ClosedReason.EXPIRED)
    assert Job.objects.get(pk=fresh.pk).status == Job.Status.OPEN
    assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.NOT_HIRED
    assert Notification.objects.filter(user=client_user, text__contains="expired").exists()


def test_saved_searches_send_one_batched_email_a_day(freelancer, mailoutbox, django_capture_on_commit_callbacks):
    services.saved_search_create(actor=freelancer, name="Django work", params=QueryDict("skills=django"))
    services.saved_search_create(actor=freelancer, name="Shops", params=QueryDict("q=shop"))
    with pytest.raises(ValidationError):
        services.saved_search_create(actor=freelancer, name="Nothing", params=QueryDict("page=2"))
    client = UserFactory()
    make_job(client=client)  # matches both
    make_job(client=client, title="Logo", description="A logo.", skills=["design"])  # matches neither
    make_job(client=client, visibility=Job.Visibility.INVITE_ONLY)  # private: never sent

    with django_capture_on_commit_callbacks(execute=True):
        assert services.saved_searches_notify() == 1

    note = Notification.objects.get(user=freelancer)
    assert note.text == "New jobs match your saved searches: 1 for “Django work”, 1 for “Shops”."
    assert len(mail.outbox) == 1 and "Django work" in mail.outbox[0].subject
    assert services.saved_searches_notify() == 0  # nothing new: nothing sent
