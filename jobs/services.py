"""Every write of the jobs domain: one action `<entity>_<verb>(*, actor, …)` each.

An action locks what it changes (job row -> the proposing freelancer's user row -> proposal rows -> invitation
rows -> the messaging thread; every `select_for_update` names `of=("self",)`), asks `jobs.policy` and enforces
the verdict, writes, records a `JobEvent` and notifies the people the event's spec names (emails leave after
commit, through messaging).
Hiring reuses the offer machinery: `contracts.services.offer_create` sends the proposal's plan as an offer
in the proposal's thread, and when the freelancer accepts it, `offer_accepted` (registered in the setting
CONTRACTS_OFFER_ACCEPTED_HOOKS) closes the job as filled in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import services as contract_services
from contracts.models import Contract, Offer
from contracts.rules import TITLE_MAX, MilestoneTerms, OfferTerms, check_milestone_amount, check_milestones
from marketplace.models import User
from marketplace.money import format_money
from marketplace.uploads import files_removed_on_failure, validate_uploads
from messaging.models import Thread
from messaging.services import notify, thread_create

from . import policy
from .events import CATEGORY, SPECS, JobEventKind, To
from .models import Invitation, Job, JobAttachment, JobEvent, Proposal, ProposalAttachment, SavedSearch

logger = logging.getLogger(__name__)
K = JobEventKind
EXPIRY_BATCH = 200


@dataclass(frozen=True)
class JobTerms:
    title: str
    description: str
    skills: list[str]
    budget_min: Decimal
    budget_max: Decimal
    deadline: date | None = None
    visibility: str = Job.Visibility.PUBLIC


def check_job_terms(terms: JobTerms, plan: list[MilestoneTerms]) -> None:
    if not terms.title.strip() or len(terms.title) > TITLE_MAX:
        raise ValidationError(_("A job needs a title of at most %(max)d characters.") % {"max": TITLE_MAX})
    if not terms.description.strip():
        raise ValidationError(_("Describe the work."))
    check_milestone_amount(terms.budget_min)
    if terms.budget_max < terms.budget_min:
        raise ValidationError(_("The highest budget must not be below the lowest."))
    if terms.budget_max > settings.OFFER_MAX_TOTAL:
        raise ValidationError(
            _("The budget must not exceed %(max)s.") % {"max": format_money(settings.OFFER_MAX_TOTAL)}
        )
    if terms.visibility not in Job.Visibility.values:
        raise ValidationError(_("Choose who can see the job."))
    if terms.deadline is not None and terms.deadline < timezone.localdate():
        raise ValidationError(_("The deadline can’t be in the past."))
    if plan:
        check_milestones(plan)


def _payloads(plan: list[MilestoneTerms]) -> list[dict]:
    return [m.as_payload() for m in plan]


def _total(plan: list[MilestoneTerms]) -> Decimal:
    return sum((m.amount for m in plan), Decimal("0.00"))


# --- events and notifications ---


def record(*, job: Job, kind: JobEventKind, actor: User | None, proposal=None, freelancer=None, **data) -> JobEvent:
    """Write the audit row and notify whom the kind's spec names. Callers hold their locks."""
    event = JobEvent.objects.create(
        job=job,
        proposal=proposal,
        actor=actor,
        kind=JobEventKind(kind).value,
        data={k: str(v) for k, v in data.items()},
    )
    spec = SPECS[JobEventKind(kind)]
    freelancer = freelancer or (proposal.freelancer if proposal is not None else None)
    recipient = {To.CLIENT: job.client, To.FREELANCER: freelancer}.get(spec.to)
    if recipient is not None and spec.text and (actor is None or recipient.pk != actor.pk):
        values = {
            "actor": actor.name if actor else "",
            "job": job.title,
            "freelancer": freelancer.name if freelancer else "",
        }
        url = proposal.get_absolute_url() if proposal is not None else job.get_absolute_url()
        # In the recipient's language (messaging.services.notify renders the function for them).
        notify(user=recipient, kind=CATEGORY, text=lambda: spec.text.format(**values, **data), url=url)
    return event


def _save_files(model, uploads, saved: list[str], **parent) -> None:
    for upload in uploads:
        row = model(original_name=upload.name, content_type=upload.content_type, size=upload.size, sha256=upload.sha256)
        for name, value in parent.items():
            setattr(row, name, value)
        row.file.save(upload.name, upload.file, save=False)
        saved.append(row.file.name)
        row.save()


def _check_file_count(existing: int, files) -> None:
    if existing + len([f for f in files if f]) > settings.UPLOAD_MAX_FILES:
        raise ValidationError(_("Attach at most %(count)d files in all.") % {"count": settings.UPLOAD_MAX_FILES})


# --- jobs ---


def _lock_job(job_id: int) -> Job:
    return Job.objects.select_for_update(of=("self",)).select_related("client").get(pk=job_id)


def job_create(*, actor: User, terms: JobTerms, plan: list[MilestoneTerms], files=(), publish: bool) -> Job:
    """A new job, saved as a draft or published at once (`publish`: which button the client pressed)."""
    policy.job_may_post(actor).enforce()
    check_job_terms(terms, plan)
    uploads = validate_uploads(files)
    with files_removed_on_failure() as saved, transaction.atomic():
        job = Job.objects.create(
            client=actor,
            title=terms.title.strip(),
            description=terms.description.strip(),
            budget_min=terms.budget_min,
            budget_max=terms.budget_max,
            deadline=terms.deadline,
            visibility=terms.visibility,
            milestone_plan=_payloads(plan),
        )
        job.skills.set(terms.skills)
        _save_files(JobAttachment, uploads, saved, job=job)
        record(job=job, kind=K.JOB_CREATED, actor=actor)
        if publish:
            job = job_publish(actor=actor, job_id=job.pk)
    return job


def job_update(*, actor: User, job_id: int, terms: JobTerms, plan: list[MilestoneTerms], files=()) -> Job:
    uploads = validate_uploads(files)
    with files_removed_on_failure() as saved, transaction.atomic():
        job = _lock_job(job_id)
        policy.job_may_edit(actor, job).enforce()
        check_job_terms(terms, plan)
        _check_file_count(job.attachments.count(), files)
        for name in ("title", "description"):
            setattr(job, name, getattr(terms, name).strip())
        for name in ("budget_min", "budget_max", "deadline", "visibility"):
            setattr(job, name, getattr(terms, name))
        job.milestone_plan = _payloads(plan)
        job.save()
        job.skills.set(terms.skills)
        _save_files(JobAttachment, uploads, saved, job=job)
        record(job=job, kind=K.JOB_EDITED, actor=actor)
    return job


@transaction.atomic
def job_publish(*, actor: User, job_id: int) -> Job:
    job = _lock_job(job_id)
    policy.job_may_publish(actor, job).enforce()
    job.status = Job.Status.OPEN
    job.published_at = timezone.now()
    job.save(update_fields=["status", "published_at", "updated_at"])
    record(job=job, kind=K.JOB_PUBLISHED, actor=actor)
    return job


def _close(job: Job, *, reason: str, actor: User | None, hired: Proposal | None = None) -> None:
    """Close a locked job: every other active proposal is told, pending invitations close."""
    job.status = Job.Status.CLOSED
    job.closed_reason = reason
    job.closed_at = timezone.now()
    job.save(update_fields=["status", "closed_reason", "closed_at", "updated_at"])
    others = (
        Proposal.objects.select_for_update(of=("self",))
        .filter(job=job, status=Proposal.Status.ACTIVE)
        .select_related("freelancer")
        .order_by("pk")
    )
    why = {
        Job.ClosedReason.HIRED: "",
        # Lazy: the notification is rendered in each recipient's language.
        Job.ClosedReason.CANCELLED: gettext_lazy(" (the client cancelled it)"),
        Job.ClosedReason.EXPIRED: gettext_lazy(" (it expired)"),
    }
    for proposal in others:
        if hired is not None and proposal.pk == hired.pk:
            continue
        proposal.status = Proposal.Status.NOT_HIRED
        proposal.closed_at = job.closed_at
        proposal.save(update_fields=["status", "closed_at", "updated_at"])
        proposal.job = job
        record(job=job, kind=K.PROPOSAL_NOT_HIRED, actor=actor, proposal=proposal, reason=why[reason])
    job.invitations.filter(status=Invitation.Status.PENDING).update(
        status=Invitation.Status.CLOSED, answered_at=job.closed_at
    )


@transaction.atomic
def job_cancel(*, actor: User, job_id: int) -> Job:
    job = _lock_job(job_id)
    policy.job_may_cancel(actor, job).enforce()
    _close(job, reason=Job.ClosedReason.CANCELLED, actor=actor)
    record(job=job, kind=K.JOB_CANCELLED, actor=actor)
    return job


def jobs_expire(*, now=None, limit: int = EXPIRY_BATCH) -> tuple[int, bool]:
    """The daily sweep: close open jobs published more than JOBS_EXPIRE_DAYS ago, each in its own transaction
    (rows locked by another worker are skipped, and found by the next run). Returns (closed, batch was full)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.JOBS_EXPIRE_DAYS)
    due = list(
        Job.objects.filter(status=Job.Status.OPEN, published_at__lt=cutoff)
        .order_by("published_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    closed = 0
    for job_id in due:
        with transaction.atomic():
            job = (
                Job.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("client")
                .filter(pk=job_id, status=Job.Status.OPEN, published_at__lt=cutoff)
                .first()
            )
            if job is None:
                continue
            _close(job, reason=Job.ClosedReason.EXPIRED, actor=None)
            record(job=job, kind=K.JOB_EXPIRED, actor=None, days=settings.JOBS_EXPIRE_DAYS)
            closed += 1
    return closed, len(due) >= limit


def job_mark_proposals_seen(*, actor: User, job: Job) -> None:
    """The client opened the job's proposals: the dashboard's "new" count starts again from now."""
    if policy.is_client(actor, job):
        job.proposals_seen_at = timezone.now()
        Job.objects.filter(pk=job.pk).update(proposals_seen_at=job.proposals_seen_at)


# --- proposals ---


def _lock_proposal(proposal_id: int) -> Proposal:
    """Lock the proposal's job, then the proposal (the domain's lock order)."""
    job_id = Proposal.objects.filter(pk=proposal_id).values_list("job_id", flat=True).first()
    if job_id is None:
        raise Proposal.DoesNotExist
    job = _lock_job(job_id)
    proposal = (
        Proposal.objects.select_for_update(of=("self",))
        .select_related("freelancer", "offer", "thread")
        .get(pk=proposal_id)
    )
    proposal.job = job
    return proposal


def _check_cover_letter(cover_letter: str) -> str:
    cover_letter = (cover_letter or "").strip()
    if not cover_letter:
        raise ValidationError(_("Write a cover letter: why you, and how you would do the work."))
    if len(cover_letter) > 5000:
        raise ValidationError(_("A cover letter can be at most 5,000 characters long."))
    return cover_letter


def proposal_create(
    *, actor: User, job_id: int, cover_letter: str, milestones: list[MilestoneTerms], files=()
) -> Proposal:
    """Propose on an open job: a cover letter and a milestone plan (the offers' rules), with files."""
    cover_letter = _check_cover_letter(cover_letter)
    check_milestones(milestones)
    uploads = validate_uploads(files)
    with files_removed_on_failure() as saved, transaction.atomic():
        job = _lock_job(job_id)
        # The freelancer's own row serialises their proposals, so the daily limit holds across jobs too.
        User.objects.select_for_update(of=("self",)).filter(pk=actor.pk).values_list("pk", flat=True).first()
        invitation = Invitation.objects.select_for_update(of=("self",)).filter(job=job, freelancer=actor).first()
        since = timezone.now() - timedelta(days=1)
        policy.proposal_may_create(
            actor,
            job,
            already_proposed=Proposal.objects.filter(job=job, freelancer=actor).exists(),
            sent_today=Proposal.objects.filter(freelancer=actor, created_at__gte=since).count(),
            invited=invitation is not None,
        ).enforce()
        proposal = Proposal.objects.create(
            job=job,
            freelancer=actor,
            cover_letter=cover_letter,
            milestones=_payloads(milestones),
            total=_total(milestones),
        )
        _save_files(ProposalAttachment, uploads, saved, proposal=proposal)
        job.proposal_count += 1
        job.save(update_fields=["proposal_count", "updated_at"])
        if invitation is not None and invitation.status == Invitation.Status.PENDING:
            invitation.status = Invitation.Status.ACCEPTED
            invitation.answered_at = timezone.now()
            invitation.save(update_fields=["status", "answered_at"])
            record(job=job, kind=K.INVITATION_ACCEPTED, actor=actor, freelancer=actor)
        record(
            job=job, kind=K.PROPOSAL_SENT, actor=actor, proposal=proposal, total=proposal.total
        )  # a Decimal string, as every event stores amounts
    return proposal


def proposal_update(
    *, actor: User, proposal_id: int, cover_letter: str, milestones: list[MilestoneTerms], files=()
) -> Proposal:
    """Edit a proposal until the client acts on it (shortlists, archives, messages or hires)."""
    cover_letter = _check_cover_letter(cover_letter)
    check_milestones(milestones)
    uploads = validate_uploads(files)
    with files_removed_on_failure() as saved, transaction.atomic():
        proposal = _lock_proposal(proposal_id)
        policy.proposal_may_edit(actor, proposal).enforce()
        _check_file_count(proposal.attachments.count(), files)
        proposal.cover_letter = cover_letter
        proposal.milestones = _payloads(milestones)
        proposal.total = _total(milestones)
        proposal.edited_at = timezone.now()
        proposal.save(update_fields=["cover_letter", "milestones", "total", "edited_at", "updated_at"])
        _save_files(ProposalAttachment, uploads, saved, proposal=proposal)
        record(job=proposal.job, kind=K.PROPOSAL_EDITED, actor=actor, proposal=proposal)
    return proposal


@transaction.atomic
def proposal_withdraw(*, actor: User, proposal_id: int) -> Proposal:
    proposal = _lock_proposal(proposal_id)
    policy.proposal_may_withdraw(actor, proposal).enforce()
    proposal.status = Proposal.Status.WITHDRAWN
    proposal.closed_at = timezone.now()
    proposal.save(update_fields=["status", "closed_at", "updated_at"])
    job = proposal.job
    job.proposal_count = max(0, job.proposal_count - 1)
    job.save(update_fields=["proposal_count", "updated_at"])
    record(job=job, kind=K.PROPOSAL_WITHDRAWN, actor=actor, proposal=proposal)
    return proposal


def _client_acts(proposal: Proposal, **fields) -> None:
    for name, value in fields.items():
        setattr(proposal, name, value)
    proposal.client_acted_at = proposal.client_acted_at or timezone.now()
    proposal.save(update_fields=[*fields, "client_acted_at", "updated_at"])


@transaction.atomic
def proposal_shortlist(*, actor: User, proposal_id: int) -> Proposal:
    proposal = _lock_proposal(proposal_id)
    policy.proposal_may_manage(actor, proposal).enforce()
    if not proposal.shortlisted:
        _client_acts(proposal, shortlisted=True, archived=False)
        record(job=proposal.job, kind=K.PROPOSAL_SHORTLISTED, actor=actor, proposal=proposal)
    return proposal


@transaction.atomic
def proposal_archive(*, actor: User, proposal_id: int) -> Proposal:
    proposal = _lock_proposal(proposal_id)
    policy.proposal_may_manage(actor, proposal).enforce()
    if not proposal.archived:
        _client_acts(proposal, shortlisted=False, archived=True)
        record(job=proposal.job, kind=K.PROPOSAL_ARCHIVED, actor=actor, proposal=proposal)
    return proposal


@transaction.atomic
def proposal_restore(*, actor: User, proposal_id: int) -> Proposal:
    """Back to the main list: neither shortlisted nor archived."""
    proposal = _lock_proposal(proposal_id)
    policy.proposal_may_manage(actor, proposal).enforce()
    if proposal.shortlisted or proposal.archived:
        _client_acts(proposal, shortlisted=False, archived=False)
        record(job=proposal.job, kind=K.PROPOSAL_RESTORED, actor=actor, proposal=proposal)
    return proposal


def _thread_for(proposal: Proposal) -> Thread:
    """The proposal's conversation, started on first use (caller holds the proposal's lock)."""
    if proposal.thread is None:
        proposal.thread = thread_create(
            participants=[proposal.job.client, proposal.freelancer],
            subject=f"Proposal: {proposal.job.title}"[:200],
            link_url=proposal.get_absolute_url(),
        )
        proposal.save(update_fields=["thread", "updated_at"])
    return proposal.thread


@transaction.atomic
def proposal_message(*, actor: User, proposal_id: int) -> Thread:
    """The client opens a conversation with the freelancer about their proposal (one thread per proposal)."""
    proposal = _lock_proposal(proposal_id)
    policy.proposal_may_manage(actor, proposal).enforce()
    if proposal.thread is None:
        thread = _thread_for(proposal)
        _client_acts(proposal)
        record(job=proposal.job, kind=K.PROPOSAL_MESSAGED, actor=actor, proposal=proposal)
        return thread
    return proposal.thread


@transaction.atomic
def proposal_hire(*, actor: User, proposal_id: int, terms: OfferTerms, milestones: list[MilestoneTerms]) -> Offer:
    """Send the freelancer an offer built from their proposal (the client may change it first), in the
    proposal's thread. The freelancer accepts it, or negotiates, on the offer's page; accepting closes the job."""
    proposal = _lock_proposal(proposal_id)
    policy.proposal_may_hire(actor, proposal).enforce()
    # A thread carries one offer: after a declined or withdrawn offer, a new offer starts its own thread.
    thread = _thread_for(proposal) if proposal.offer_id is None else None
    offer = contract_services.offer_create(
        client=actor, freelancer=proposal.freelancer, terms=terms, milestones=milestones, thread=thread
    )
    _client_acts(proposal, offer=offer)
    record(job=proposal.job, kind=K.PROPOSAL_OFFERED, actor=actor, proposal=proposal, offer=offer.pk)
    return offer


def offer_accepted(*, offer: Offer, contract: Contract, actor: User) -> None:
    """Registered in CONTRACTS_OFFER_ACCEPTED_HOOKS: an offer made from a proposal was accepted, so the
    proposal is hired and its job is filled (everyone else is told). Runs inside `offer_accept`'s transaction."""
    proposal_id = Proposal.objects.filter(offer=offer).values_list("pk", flat=True).first()
    if proposal_id is None:
        return  # an offer sent from the directory
    proposal = _lock_proposal(proposal_id)
    proposal.status = Proposal.Status.HIRED
    proposal.closed_at = timezone.now()
    proposal.save(update_fields=["status", "closed_at", "updated_at"])
    job = proposal.job
    if job.is_open:
        _close(job, reason=Job.ClosedReason.HIRED, actor=actor, hired=proposal)
    record(job=job, kind=K.JOB_FILLED, actor=actor, proposal=proposal, contract=contract.pk)


# --- invitations ---


@transaction.atomic
def invitation_create(*, actor: User, job_id: int, freelancer: User, message: str = "") -> Invitation:
    job = _lock_job(job_id)
    already = (
        Invitation.objects.filter(job=job, freelancer=freelancer).exists()
        or Proposal.objects.filter(job=job, freelancer=freelancer).exists()
    )
    policy.invitation_may_create(actor, job, freelancer, already=already).enforce()
    message = (message or "").strip()
    if len(message) > 2000:
        raise ValidationError(_("A note can be at most 2,000 characters long."))
    invitation = Invitation.objects.create(job=job, freelancer=freelancer, message=message)
    record(job=job, kind=K.INVITED, actor=actor, freelancer=freelancer)
    return invitation


@transaction.atomic
def invitation_decline(*, actor: User, invitation_id: int, reason: str = "") -> Invitation:
    job_id = Invitation.objects.filter(pk=invitation_id).values_list("job_id", flat=True).first()
    if job_id is None:
        raise Invitation.DoesNotExist
    job = _lock_job(job_id)
    invitation = Invitation.objects.select_for_update(of=("self",)).get(pk=invitation_id)
    invitation.job = job
    policy.invitation_may_answer(actor, invitation).enforce()
    invitation.status = Invitation.Status.DECLINED
    invitation.decline_reason = (reason or "").strip()[:2000]
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "decline_reason", "answered_at"])
    record(job=job, kind=K.INVITATION_DECLINED, actor=actor, freelancer=actor)
    return invitation


# --- saved searches ---

SAVED_SEARCH_PARAMS = ("q", "skills", "budget_min", "budget_max", "posted_within", "proposals", "sort")
SAVED_SEARCHES_MAX = 20


def clean_query(params: QueryDict) -> str:
    """Only the filter parameters, in a stable order (no page number)."""
    kept = QueryDict(mutable=True)
    for name in SAVED_SEARCH_PARAMS:
        value = params.get(name, "").strip()
        if value:
            kept[name] = value
    return kept.urlencode()


def saved_search_create(*, actor: User, name: str, params: QueryDict) -> SavedSearch:
    name = " ".join((name or "").split())[:120] or _("My job search")
    query = clean_query(params)
    if not query:
        raise ValidationError(_("Search or filter first, then save the search."))
    if SavedSearch.objects.filter(user=actor).count() >= SAVED_SEARCHES_MAX:
        raise ValidationError(
            _("You can keep at most %(count)d saved searches; delete one first.") % {"count": SAVED_SEARCHES_MAX}
        )
    return SavedSearch.objects.create(user=actor, name=name, query=query, notified_through=timezone.now())


def saved_search_delete(*, actor: User, saved_search_id: int) -> None:
    deleted, _rows = SavedSearch.objects.filter(pk=saved_search_id, user=actor).delete()
    if not deleted:
        raise SavedSearch.DoesNotExist


def _saved_search_text(counts: list[tuple[int, str]]) -> str:
    found = ", ".join(_("%(count)d for “%(name)s”") % {"count": count, "name": name} for count, name in counts)
    return _("New jobs match your saved searches: %(found)s.") % {"found": found}


def saved_searches_notify(*, now=None) -> int:
    """The daily sweep: for each user, one notification (and email) listing how many new jobs match each of
    their saved searches since the last run. Each user's searches advance in one transaction, so a run that
    fails part-way re-sends nothing that was sent and skips nothing that was not. Returns how many were sent."""
    from .selectors import saved_search_matches  # the filters live with the reads

    now = now or timezone.now()
    sent = 0
    user_ids = SavedSearch.objects.order_by().values_list("user_id", flat=True).distinct()
    for user_id in user_ids:
        try:
            with transaction.atomic():
                searches = list(
                    SavedSearch.objects.select_for_update(of=("self",)).filter(user_id=user_id).order_by("pk")
                )
                counts = []
                for search in searches:
                    found = saved_search_matches(search=search, since=search.notified_through, until=now)
                    if found:
                        counts.append((found, search.name))
                    search.notified_through = now
                SavedSearch.objects.bulk_update(searches, ["notified_through"])
                if counts:
                    user = User.objects.get(pk=user_id)
                    notify(
                        user=user,
                        kind=CATEGORY,
                        text=partial(_saved_search_text, counts),
                        url=reverse("jobs:saved_searches"),
                    )
                    sent += 1
        except Exception:
            logger.exception("Could not send the saved-search email for user %s", user_id)
    return sent
