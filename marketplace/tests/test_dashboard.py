"""The dashboard's next steps for each role, the profile prompt, and the directory's minimum profile."""

import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.tests.factories import act, fund_milestones, make_contract
from marketplace.models import Profile
from marketplace.selectors import freelancer_list, profile_completion
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("dashboard")
START = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)


def submitted_contract(freelancer=None, count=1):
    contract = make_contract(freelancer=freelancer, count=count, amount="200.00")
    milestones = list(contract.milestones.order_by("position"))
    fund_milestones(contract, *milestones)
    for milestone in milestones:
        act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    return contract


def test_a_freelancer_under_review_is_told_when_they_will_be_paid(client):
    freelancer = FreelancerFactory(timezone="America/New_York")
    with time_machine.travel(START, tick=False):
        contract = submitted_contract(freelancer)
    client.force_login(freelancer)

    with time_machine.travel(START + datetime.timedelta(days=1), tick=False):
        page = client.get(DASHBOARD).content.decode()

    # 14 days after 15:00 UTC on March 2 is March 16, 11:00 in New York (daylight saving time began March 8).
    assert (
        "Payment releases automatically on <strong>Mon, Mar 16, 2026, 11:00 EDT</strong> unless the client acts" in page
    )
    assert "Nothing needs your attention" not in page
    assert "Nothing needs your action: your work is with the client." in page
    assert contract.title in page and "$200.00" in page
    assert "Available to withdraw" in page and "In escrow for you" in page and reverse("escrow:wallet") in page


def test_a_new_freelancer_is_asked_to_complete_their_profile(client):
    freelancer = FreelancerFactory()
    client.force_login(freelancer)

    page = client.get(DASHBOARD).content.decode()
    assert "Complete your profile" in page and 'aria-valuenow="0"' in page
    assert "Clients cannot find you yet" in page and reverse("profile_edit") in page

    Profile.objects.create(user=freelancer, headline="Illustrator", location="Lisbon")
    page = client.get(DASHBOARD).content.decode()
    assert 'aria-valuenow="50"' in page and "Clients find you in the directory" in page


def test_a_complete_profile_is_not_nagged_about(client):
    freelancer = FreelancerFactory()
    profile = Profile.objects.create(user=freelancer, headline="Illustrator", bio="Books", location="Lisbon")
    profile.skills.add("drawing")
    client.force_login(freelancer)

    assert profile_completion(user=freelancer).complete
    assert "Complete your profile" not in client.get(DASHBOARD).content.decode()


def test_a_new_clients_empty_dashboard_offers_the_first_steps(client):
    client.force_login(UserFactory(wants_to_hire=True, wants_to_work=False))

    page = client.get(DASHBOARD).content.decode()

    assert f'href="{reverse("directory")}">Find freelancers</a>' in page
    assert f'href="{reverse("jobs:job_create")}">Post a job</a>' in page
    assert "Complete your profile" not in page and "Available to withdraw" not in page


def test_the_dashboard_query_count_does_not_grow_with_work_under_review(client):
    freelancer = FreelancerFactory()
    Profile.objects.create(user=freelancer, headline="Illustrator")
    submitted_contract(freelancer)
    client.force_login(freelancer)
    cache.clear()
    with CaptureQueriesContext(connection) as few:
        client.get(DASHBOARD)

    submitted_contract(freelancer, count=3)
    submitted_contract(freelancer, count=2)
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        assert "Payments on their way" in client.get(DASHBOARD).content.decode()

    assert len(many) == len(few), [query["sql"] for query in many]


def test_the_dashboard_shows_a_few_contracts_and_links_to_all(client):
    from contracts.models import Contract
    from contracts.selectors import DASHBOARD_CONTRACTS, DASHBOARD_ENDED

    hirer = UserFactory()
    contracts = [make_contract(client=hirer, count=1, amount="100.00") for _ in range(DASHBOARD_CONTRACTS + 1)]
    ended = [make_contract(client=hirer, count=1) for _ in range(DASHBOARD_ENDED + 1)]
    for number, contract in enumerate(contracts + ended):
        contract.title = f"Contract number {number:02d}"
        Contract.objects.filter(pk=contract.pk).update(title=contract.title)
    Contract.objects.filter(pk__in=[c.pk for c in ended]).update(status=Contract.Status.ENDED)
    fund_milestones(contracts[-1], *contracts[-1].milestones.all())
    client.force_login(hirer)

    page = client.get(DASHBOARD).content.decode()

    section = page.split('aria-labelledby="contracts-title"')[1].split("</section>")[0]
    newest_first = [c.title for c in reversed(contracts)]
    assert all(title in section for title in newest_first[:DASHBOARD_CONTRACTS])
    assert newest_first[DASHBOARD_CONTRACTS] not in section  # the oldest active one: on the contract list
    assert "In escrow $100.00 · Released $0.00 · Not funded $0.00" in section  # the newest, funded
    assert "See all your active contracts" in section and "?status=active" in section
    assert [c.title in section for c in ended] == [False] + [True] * DASHBOARD_ENDED  # the newest ones

    Contract.objects.filter(pk=contracts[0].pk).update(status=Contract.Status.ENDED)  # exactly 10 active now
    assert "See all your active contracts" not in client.get(DASHBOARD).content.decode()


def test_the_directory_lists_freelancers_with_a_headline_only(client):
    empty = FreelancerFactory(name="Empty Emma")
    no_profile = FreelancerFactory(name="Nobody Nick")
    listed = FreelancerFactory(name="Listed Lena")
    Profile.objects.create(user=empty)
    Profile.objects.create(user=listed, headline="Copywriter")

    assert list(freelancer_list()) == [listed]
    page = client.get(reverse("directory")).content.decode()
    assert "Listed Lena" in page and "Empty Emma" not in page and "Nobody Nick" not in page
    # Their profile pages stay open (a client may know them from a proposal), so offers and invitations still work.
    assert client.get(reverse("freelancer_detail", args=[no_profile.pk])).status_code == 200
