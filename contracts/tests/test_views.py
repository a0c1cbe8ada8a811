from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contracts import services
from contracts.models import Contract, ContractEvent, Milestone, MilestoneChange, Offer
from contracts.tests.factories import (
    ContractFactory,
    MilestoneFactory,
    act,
    fund_milestones,
    make_contract,
    make_offer,
    set_state,
)
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db


def offer_post(freelancer, rows, **terms):
    data = {
        "freelancer": freelancer.pk,
        "title": "Mobile app",
        "scope": "Build an iOS app.",
        "acceptance_criteria": "Published in the App Store.",
        "revision_rounds": "2",
        "milestones-TOTAL_FORMS": str(len(rows)),
        "milestones-INITIAL_FORMS": "1",
        "milestones-MIN_NUM_FORMS": "1",
        "milestones-MAX_NUM_FORMS": "50",
        **terms,
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"milestones-{i}-{key}"] = value
    return data


def row(title="Design", amount="100.00", days=7, deliverable="Screens"):
    return {
        "title": title,
        "deliverable": deliverable,
        "due_date": (timezone.localdate() + timedelta(days=days)).isoformat(),
        "amount": amount,
    }


@pytest.fixture
def logged_in_client(client, client_user):
    client.force_login(client_user)
    return client


def test_client_sends_an_offer_with_three_milestones(logged_in_client, client_user, freelancer):
    url = reverse("contracts:offer_create")
    page = logged_in_client.get(url, {"freelancer": freelancer.pk})
    assert "Send an offer to Felix Freelancer" in page.content.decode()

    response = logged_in_client.post(
        url, offer_post(freelancer, [row("A", "100.00"), row("B", "250.50"), row("C", "5.00")])
    )

    offer = Offer.objects.get()
    assert response.status_code == 302 and response.url == offer.get_absolute_url()
    assert (offer.client, offer.freelancer) == (client_user, freelancer)
    assert [str(m.amount) for m in offer.revisions.get().milestones.all()] == ["100.00", "250.50", "5.00"]


@pytest.mark.parametrize(
    ("rows", "terms", "field", "message"),
    [
        ([row(amount="4.99")], {}, "milestones-0-amount", "The minimum amount for a milestone is 5.00."),
        ([row(amount="10.123")], {}, "milestones-0-amount", "no more than 2 decimal places"),
        ([row(days=-1)], {}, "milestones-0-due_date", "can’t be in the past"),
        ([row(title="  ")], {}, "milestones-0-title", "This field is required."),
        ([row()], {"title": ""}, "title", "This field is required."),
        ([row()], {"revision_rounds": "11"}, "revision_rounds", "less than or equal to 10"),
    ],
)
def test_invalid_offer_shows_the_error_next_to_the_field_and_saves_nothing(
    logged_in_client, freelancer, rows, terms, field, message
):
    response = logged_in_client.post(reverse("contracts:offer_create"), offer_post(freelancer, rows, **terms))

    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert f'id="error_1_id_{field}"' in body  # crispy renders the error under that field
    assert 'value="Build an iOS app."' in body or "Build an iOS app." in body  # what was typed is kept
    assert not Offer.objects.exists()


def test_offer_without_any_milestone_is_refused(logged_in_client, freelancer):
    data = offer_post(freelancer, [{**row(), "DELETE": "on"}])

    response = logged_in_client.post(reverse("contracts:offer_create"), data)

    assert "Add at least one milestone." in response.content.decode()
    assert not Offer.objects.exists()


def test_adding_a_row_without_javascript_keeps_what_was_typed(logged_in_client, freelancer):
    data = offer_post(freelancer, [row("Kept title")], add_row="1")

    response = logged_in_client.post(reverse("contracts:offer_create"), data)

    body = response.content.decode()
    assert 'value="Kept title"' in body
    assert 'name="milestones-1-title"' in body
    assert not Offer.objects.exists()


def test_no_offer_page_for_yourself_or_a_non_freelancer(logged_in_client, client_user):
    url = reverse("contracts:offer_create")
    assert logged_in_client.get(url, {"freelancer": client_user.pk}).status_code == 404
    assert logged_in_client.get(url, {"freelancer": UserFactory(wants_to_work=False).pk}).status_code == 404
    assert logged_in_client.get(url).status_code == 404


def test_freelancer_proposes_a_change_and_client_sees_the_diff(client):
    offer = make_offer(count=3)
    revision = offer.revisions.get()
    client.force_login(offer.freelancer)
    form_page = client.get(reverse("contracts:offer_propose", args=[offer.pk]))
    assert form_page.status_code == 200
    rows = [
        {"key": str(m.key), **row(m.title, "100.00", 7 * m.position, m.deliverable)} for m in revision.milestones.all()
    ]
    rows[1]["amount"] = "180.00"
    data = offer_post(offer.freelancer, rows, seen_revision="1", **{"milestones-INITIAL_FORMS": "3"})
    data["title"] = "Company website"
    response = client.post(reverse("contracts:offer_propose", args=[offer.pk]), data)
    assert response.status_code == 302

    client.force_login(offer.client)
    body = client.get(offer.get_absolute_url()).content.decode()
    assert "What changed in revision 2" in body
    assert "$100.00</del>" in body and "$180.00</ins>" in body
    assert "Accept revision 2 and start the contract" in body


def test_accept_through_the_page_starts_the_contract(client):
    offer = make_offer()
    client.force_login(offer.freelancer)

    response = client.post(reverse("contracts:offer_accept", args=[offer.pk]), {"revision": "1"})

    contract = Contract.objects.get()
    assert response.url == contract.get_absolute_url()
    page = client.get(contract.get_absolute_url()).content.decode()
    assert "Not funded yet — don’t start work on it until it is funded." in page


def test_refused_action_returns_4xx_with_a_clear_message_and_changes_nothing(client):
    offer = make_offer()
    client.force_login(offer.client)  # the client cannot accept their own revision

    response = client.post(reverse("contracts:offer_accept", args=[offer.pk]), {"revision": "1"})

    assert response.status_code == 403
    assert "The other party has to answer your latest revision first." in response.content.decode()
    assert not Contract.objects.exists()


def test_submitting_an_unfunded_milestone_says_why_and_is_refused_with_409(client):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    client.force_login(contract.freelancer)
    url = reverse("contracts:milestone_submit", args=[contract.pk, milestone.pk])

    page = client.get(url)
    response = client.post(url, {"message": "Here it is"})

    assert page.status_code == 409  # the page refuses a GET just like the POST
    assert "not funded" in page.content.decode()
    assert response.status_code == 409
    assert "not funded" in response.content.decode()
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.DRAFT


def urls_for(contract, offer, milestone, change):
    c, m = contract.pk, milestone.pk
    return [
        ("get", reverse("contracts:offer_detail", args=[offer.pk])),
        ("get", reverse("contracts:offer_revision", args=[offer.pk, 1])),
        ("get", reverse("contracts:offer_propose", args=[offer.pk])),
        ("post", reverse("contracts:offer_accept", args=[offer.pk])),
        ("get", reverse("contracts:offer_decline", args=[offer.pk])),
        ("get", reverse("contracts:offer_withdraw", args=[offer.pk])),
        ("get", reverse("contracts:contract_detail", args=[c])),
        ("get", reverse("contracts:contract_end", args=[c])),
        ("get", reverse("contracts:milestone_add", args=[c])),
        ("get", reverse("contracts:milestone_edit", args=[c, m])),
        ("post", reverse("contracts:milestone_remove", args=[c, m])),
        ("post", reverse("contracts:milestone_move", args=[c, m, "up"])),
        ("get", reverse("contracts:milestone_action", args=[c, m, "cancel"])),
        ("get", reverse("contracts:milestone_detail", args=[c, m])),
        ("get", reverse("contracts:milestone_submit", args=[c, m])),
        ("get", reverse("contracts:milestones_fund", args=[c])),
        ("get", reverse("contracts:milestone_approve", args=[c, m])),
        ("get", reverse("contracts:milestone_refund", args=[c, m])),
        ("post", reverse("contracts:milestone_refund_request", args=[c, m])),
        ("post", reverse("contracts:milestone_action", args=[c, m, "cancel"])),
        ("post", reverse("contracts:change_decide", args=[c, change.pk, "accept"])),
    ]


def test_a_user_who_is_not_a_party_gets_404_on_every_offer_and_contract_url(client):
    contract = make_contract(count=2)
    offer = make_offer(client=contract.client, freelancer=contract.freelancer)
    milestone = contract.milestones.first()
    change = MilestoneChange.objects.create(
        contract=contract, kind="delete", milestone=milestone, proposed_by=contract.client
    )
    client.force_login(UserFactory())

    for method, url in urls_for(contract, offer, milestone, change):
        assert getattr(client, method)(url).status_code == 404, url
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.DRAFT
    change.refresh_from_db()
    assert change.status == MilestoneChange.Status.PENDING


def test_anonymous_visitors_are_sent_to_log_in(client):
    contract = make_contract(count=1)

    response = client.get(contract.get_absolute_url())

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_contract_page_shows_only_the_actions_the_user_may_take(client):
    contract = make_contract(count=1)
    milestone = set_state(contract.milestones.get(), Milestone.State.SUBMITTED)
    action = reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, "approve"])

    client.force_login(contract.client)
    assert action in client.get(contract.get_absolute_url()).content.decode()
    client.force_login(contract.freelancer)
    body = client.get(contract.get_absolute_url()).content.decode()
    assert action not in body
    assert reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, "withdraw_submission"]) in body


def test_request_changes_asks_for_a_description_first(client):
    contract = make_contract(count=1)
    milestone = set_state(contract.milestones.get(), Milestone.State.SUBMITTED)
    url = reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, "request_changes"])
    client.force_login(contract.client)

    response = client.post(url, {"note": ""})
    assert "This field is required." in response.content.decode()
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.SUBMITTED

    client.post(url, {"note": "The logo must be blue."})
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.CHANGES_REQUESTED
    assert ContractEvent.objects.filter(kind="request_changes", note="The logo must be blue.").exists()


def count_queries(client, url):
    for each in caches.all():  # header counts and rendered pages are cached per user: count the page as a first visit
        each.clear()
    ContentType.objects.clear_cache()  # a per-process cache: whether an earlier test filled it must not count
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_contract_page_query_count_does_not_grow_with_milestones(client):
    small = ContractFactory()
    MilestoneFactory.create_batch(3, contract=small)
    large = ContractFactory(client=small.client)
    MilestoneFactory.create_batch(12, contract=large)
    for contract in (small, large):
        ContractEvent.objects.create(contract=contract, actor=contract.client, kind="contract_started")
    client.force_login(small.client)

    assert count_queries(client, small.get_absolute_url()) == count_queries(client, large.get_absolute_url())


@pytest.mark.parametrize("role", ["client", "freelancer"])
def test_dashboard_query_count_does_not_grow_with_contracts(client, role):
    user = UserFactory(wants_to_work=True)

    def add(n):
        for _ in range(n):
            contract = ContractFactory(**{role: user})
            MilestoneFactory(contract=contract)
            set_state(MilestoneFactory(contract=contract), Milestone.State.FUNDED)
            make_offer(**({"client": user} if role == "client" else {"freelancer": user}))

    client.force_login(user)
    add(2)
    few = count_queries(client, reverse("dashboard"))
    add(6)
    many = count_queries(client, reverse("dashboard"))

    assert few == many


def test_dashboard_lists_what_needs_action_for_each_role(client):
    contract = make_contract(count=2)
    set_state(contract.milestones.last(), Milestone.State.FUNDED)
    pending = make_offer(client=contract.client, freelancer=contract.freelancer)

    client.force_login(contract.client)
    body = client.get(reverse("dashboard")).content.decode()
    assert "Milestone 1" in body and "Fund" in body  # the draft to fund
    assert contract.title in body

    client.force_login(contract.freelancer)
    body = client.get(reverse("dashboard")).content.decode()
    assert pending.get_absolute_url() in body  # the offer to answer
    assert "Funded — start" in body


def test_contract_list_paginates_and_filters(client):
    user = UserFactory()
    ContractFactory.create_batch(21, client=user)
    ContractFactory(client=user, status=Contract.Status.ENDED, title="Old job")
    client.force_login(user)

    first = client.get(reverse("contracts:contract_list"))
    assert "Page 1 of 2" in first.content.decode()
    active = client.get(reverse("contracts:contract_list"), {"status": "active"}).content.decode()
    assert 'href="?status=active&amp;page=2"' in active  # the filter is kept across pages
    ended = client.get(reverse("contracts:contract_list"), {"status": "ended"}).content.decode()
    assert "Old job" in ended and "Contract 0" not in ended


def test_an_unknown_contract_filter_leads_to_the_whole_list(client):
    client.force_login(UserFactory())
    response = client.get(reverse("contracts:contract_list"), {"status": "made-up"})
    assert response.status_code == 302 and response["Location"] == reverse("contracts:contract_list")


def test_user_text_is_rendered_inert(client):
    evil = FreelancerFactory(name="<script>alert('x')</script>")
    contract = make_contract(freelancer=evil, count=1)
    client.force_login(contract.client)

    body = client.get(contract.get_absolute_url()).content.decode()

    assert "<script>alert('x')</script>" not in body
    assert "&lt;script&gt;" in body


def test_submitted_files_are_downloads_for_the_parties_and_404_for_anyone_else(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from contracts.models import SubmissionFile

    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    services.milestone_submit(
        milestone_id=milestone.pk,
        actor=contract.freelancer,
        message="Files",
        links=[],
        files=[SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")],
    )
    url = reverse("contracts:submission_file", args=[contract.pk, SubmissionFile.objects.get().pk])

    for user in (contract.client, contract.freelancer, UserFactory(is_staff=True)):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert b"".join(response.streaming_content) == b"hello"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    other = make_contract(count=1)
    client.force_login(other.client)
    assert (
        client.get(reverse("contracts:submission_file", args=[other.pk, SubmissionFile.objects.get().pk])).status_code
        == 404
    )


def test_contract_list_query_count_does_not_grow_with_contracts(client):
    user = UserFactory()
    for _ in range(2):
        MilestoneFactory(contract=ContractFactory(client=user))
    client.force_login(user)
    few = count_queries(client, reverse("contracts:contract_list"))
    for _ in range(15):
        MilestoneFactory(contract=ContractFactory(client=user))

    assert count_queries(client, reverse("contracts:contract_list")) == few


def test_tampered_numbers_get_a_clear_answer_not_a_server_error(logged_in_client, client):
    assert logged_in_client.get(reverse("contracts:offer_create"), {"freelancer": "abc"}).status_code == 404
    offer = make_offer()
    client.force_login(offer.freelancer)
    response = client.post(reverse("contracts:offer_accept", args=[offer.pk]), {"revision": "1; drop"})
    assert response.status_code == 400
    assert "changed while you were looking" in response.content.decode()


def test_a_disputed_milestone_says_the_money_is_frozen(client):

    contract = make_contract(count=1, amount="100.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="dispute", note="Unpaid")
    client.force_login(contract.client)

    body = client.get(contract.get_absolute_url()).content.decode()

    assert "In dispute — $100.00 stays in escrow and automatic release is paused" in body
