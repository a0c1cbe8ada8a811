import pytest
from django.core.management import call_command
from django.urls import reverse

from marketplace.demo import DEMO_PASSWORD, DEMO_USERS
from marketplace.models import Profile, User


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_logins_work(client):
    call_command("seed_demo")
    users_after_first_run = set(User.objects.values_list("email", flat=True))
    profiles_after_first_run = Profile.objects.count()

    call_command("seed_demo")

    assert set(User.objects.values_list("email", flat=True)) == users_after_first_run  # nothing new the second time
    assert Profile.objects.count() == profiles_after_first_run
    for fields in DEMO_USERS:
        assert fields["email"] in users_after_first_run
        # Through the login form: the demo addresses are verified, so each logs straight in.
        response = client.post(reverse("account_login"), {"login": fields["email"], "password": DEMO_PASSWORD})
        assert response.status_code == 302 and response.url == reverse("dashboard"), fields["email"]
        client.post(reverse("account_logout"))
    assert User.objects.get(email="admin@demo.test").is_staff


@pytest.mark.django_db
def test_seed_demo_fills_the_freelancer_directory():
    call_command("seed_demo")

    felix = User.objects.get(email="freelancer@demo.test")
    assert felix.profile.headline == "Full-stack Django developer"
    assert felix.profile.location == "New York, USA"
    assert list(felix.profile.skills.names()) == ["python", "django", "postgresql", "htmx"]
    freelancers = User.objects.filter(wants_to_work=True)
    assert freelancers.count() == 5
    assert Profile.objects.filter(user__in=freelancers).count() == 5
    assert User.objects.get(email="priya@demo.test").check_password(DEMO_PASSWORD)


@pytest.mark.django_db
def test_seed_demo_shows_an_active_contract_and_an_offer_to_answer(client):
    from contracts.models import Contract, Offer

    call_command("seed_demo")
    call_command("seed_demo")

    assert Contract.objects.filter(status="active").count() == 2  # the website, and one in every state
    offer = Offer.objects.get(status="pending")
    assert offer.revisions.count() == 2
    client.post(reverse("account_login"), {"login": "client@demo.test", "password": DEMO_PASSWORD})
    body = client.get("/dashboard/").content.decode()
    assert "Company website redesign" in body
    assert offer.get_absolute_url() in body  # the revision waiting for the client's answer


@pytest.mark.django_db
def test_seed_demo_has_a_review_that_ends_a_few_minutes_after_start():
    from datetime import timedelta

    from django.utils import timezone

    from contracts.models import Submission
    from escrow.tests.helpers import assert_ledger_consistent

    call_command("seed_demo")
    call_command("seed_demo")

    pending = Submission.objects.get(status="pending")
    assert timezone.now() < pending.review_deadline <= timezone.now() + timedelta(minutes=5)
    assert pending.milestone.state == "submitted"
    assert_ledger_consistent()


@pytest.mark.django_db
def test_the_demo_has_a_milestone_in_every_state_and_every_demo_page_answers_200_for_both_parties(client):
    from django.urls import reverse

    from contracts import policy
    from contracts.models import Contract, Milestone, MilestoneChange, Offer
    from contracts.selectors import milestones_money
    from messaging.models import Thread

    call_command("seed_demo")

    states = set(Milestone.objects.values_list("state", flat=True))
    assert {"draft", "funded", "submitted", "changes_requested", "released", "refunded", "disputed"} <= states
    money = milestones_money(Milestone.objects.all()).values()
    assert any(m.partially_refunded and m.held for m in money)  # partially refunded, still funded
    assert MilestoneChange.objects.filter(kind="refund", status="pending").exists()

    urls = [
        reverse("dashboard"),
        reverse("contracts:contract_list"),
        reverse("escrow:wallet"),
        reverse("messaging:inbox"),
    ]
    # The pages of the two demo users' contracts (the demo also has an ended contract with another freelancer).
    ours = {"client__email": "client@demo.test", "freelancer__email": "freelancer@demo.test"}
    for contract in Contract.objects.filter(**ours):
        urls.append(contract.get_absolute_url())
        urls += [reverse("contracts:milestone_detail", args=[contract.pk, m.pk]) for m in contract.milestones.all()]
        for m in contract.milestones.select_related("contract"):  # every action page a party is offered
            for name in policy.PARTY_BUTTONS + ("dispute",):
                action = policy.MILESTONE_ACTIONS[name]
                for party in (contract.client, contract.freelancer):
                    if action.page and name not in ("fund", "request_refund") and policy.milestone_may(party, m, name):
                        urls.append((party.email, reverse(action.page, args=[contract.pk, m.pk])))
    urls += [offer.get_absolute_url() for offer in Offer.objects.filter(**ours)]
    urls += [
        reverse("messaging:thread", args=[t.pk]) for t in Thread.objects.filter(offer__in=Offer.objects.filter(**ours))
    ]
    for email in ("client@demo.test", "freelancer@demo.test"):
        assert client.login(username=email, password=DEMO_PASSWORD)
        for url in urls:
            if isinstance(url, tuple):
                if url[0] != email:
                    continue
                url = url[1]
            assert client.get(url).status_code == 200, (email, url)


@pytest.mark.django_db
def test_seed_demo_has_open_jobs_with_proposals_and_an_invitation(client):
    from jobs.models import Invitation, Job, Proposal

    call_command("seed_demo")
    call_command("seed_demo")  # idempotent

    open_jobs = Job.objects.filter(status=Job.Status.OPEN)
    assert open_jobs.count() == 3 and Job.objects.filter(status=Job.Status.DRAFT).count() == 1
    checkout = Job.objects.get(title="Checkout redesign for our Django shop")
    assert Proposal.objects.filter(job=checkout).count() == 2 and checkout.proposal_count == 2
    felix = User.objects.get(email="freelancer@demo.test")
    assert Invitation.objects.filter(freelancer=felix, status=Invitation.Status.PENDING).exists()
    client.force_login(User.objects.get(email="client@demo.test"))
    assert client.get(checkout.get_absolute_url()).status_code == 200
    assert client.get("/dashboard/").status_code == 200
    client.force_login(felix)
    page = client.get("/dashboard/").content.decode()
    assert "Quarterly sales forecast" in page and "Checkout redesign" in page
    assert client.get("/jobs/?skills=django").context["page"].paginator.count == 1


@pytest.mark.django_db
def test_seed_demo_has_ended_contracts_with_published_feedback(client):
    from feedback.models import Feedback, FreelancerRating

    call_command("seed_demo")
    call_command("seed_demo")

    felix = User.objects.get(email="freelancer@demo.test")
    assert Feedback.objects.filter(window__published_at__isnull=False).count() == 4  # two contracts, both sides
    assert FreelancerRating.objects.get(user=felix).count == 1
    body = client.get(f"/freelancers/{felix.pk}/").content.decode()
    assert "(1 rating)" in body and "shipped a week early" in body and "1 completed contract" in body
    by_rating = client.get("/freelancers/", {"sort": "rating"})
    assert [f.email for f in by_rating.context["page"]][:2] == ["freelancer@demo.test", "priya@demo.test"]
