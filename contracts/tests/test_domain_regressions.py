"""Regression tests for the defects the domain-layer issue found (each failed on the code before it)."""

import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from contracts import services
from contracts.events import SPECS, EventKind, Notify
from contracts.models import ContractEvent, Milestone, MilestoneChange
from contracts.rules import MilestoneTerms
from contracts.tests.factories import act, fund_milestones, make_contract, milestone_terms, terms
from escrow.selectors import user_balances
from escrow.tests.factories import new_key
from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging.models import Message, Notification

GOOD_CARD, DECLINED_CARD = "4242 4242 4242 4242", "4000 0000 0000 0002"  # typed on the sandbox's page
pytestmark = pytest.mark.django_db
S = Milestone.State


def pages(contract, milestone):
    return [
        contract.get_absolute_url(),
        reverse("contracts:milestone_detail", args=[contract.pk, milestone.pk]),
        reverse("contracts:contract_end", args=[contract.pk]),
        reverse("contracts:contract_list"),
        reverse("dashboard"),
    ]


# 1. A client's refund request crashed the contract, milestone and end-contract pages (KeyError 'title').


def test_a_pending_refund_request_leaves_every_page_working_for_both_parties(client):
    contract = make_contract(count=2)
    first = contract.milestones.order_by("position").first()
    fund_milestones(contract, first)
    client.force_login(contract.client)
    asked = client.post(reverse("contracts:milestone_refund_request", args=[contract.pk, first.pk]))
    assert asked.status_code == 302

    for user in (contract.client, contract.freelancer):
        client.force_login(user)
        for url in pages(contract, first):
            response = client.get(url)
            assert response.status_code in (200, 400), (user, url, response.status_code)
            assert response.status_code == 200 or url.endswith("/end/")  # ending is refused while money is held
        body = client.get(contract.get_absolute_url()).content.decode()
        assert f"Refund “{first.title}” to the client ($100.00)" in body
    # the freelancer answers through the page (not by typing a URL)
    client.force_login(contract.freelancer)
    body = client.get(contract.get_absolute_url()).content.decode()
    accept = reverse("contracts:change_decide", args=[contract.pk, MilestoneChange.objects.get().pk, "accept"])
    assert accept in body
    assert client.get(accept).status_code == 200
    assert client.post(accept).status_code == 302
    first.refresh_from_db()
    assert first.state == S.REFUNDED


def test_the_thread_names_a_refund_request_in_words():
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)

    services.milestone_refund_request(milestone_id=milestone.pk, actor=contract.client)

    line = Message.objects.filter(thread=contract.offer.thread).latest("id").body
    assert line == f"{contract.client.name} asked for a refund of “{milestone.title}” ($100.00)."


# 2. Wrong amounts after a partial refund: every page and message must say what escrow actually holds.


def test_after_a_partial_refund_every_amount_follows_the_ledger(client, settings):
    contract = make_contract(count=1, amount="130.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    services.milestone_refund(milestone_id=milestone.pk, actor=contract.freelancer, amount=Decimal("30.00"))
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")

    client.force_login(contract.client)
    card = client.get(contract.get_absolute_url()).content.decode()
    assert 'Freelancer receives <span data-money="receives">$90.00</span>' in card
    approve_url = reverse("contracts:milestone_approve", args=[contract.pk, milestone.pk])
    page = client.get(approve_url)
    body = page.content.decode()
    assert 'data-money="held">$100.00<' in body
    assert 'data-money="fee">$10.00<' in body
    assert 'data-money="receives">$90.00<' in body
    assert "Approve and release $100.00" in body and "$130.00" in body  # the agreed amount, shown as such

    response = client.post(approve_url, {"idempotency_key": new_key(), "note": ""}, follow=True)

    assert "Approved. $90.00 was released to" in response.content.decode()
    assert user_balances(contract.freelancer)["available"] == Decimal("90.00")
    release = ContractEvent.objects.get(kind="release")
    assert release.data == {"released": "100.00", "fee": "10.00", "received": "90.00"}
    thread_line = Message.objects.filter(thread=contract.offer.thread, body__contains="released payment").get().body
    assert "$90.00 released to" in thread_line and "$10.00 platform fee" in thread_line
    note = Notification.objects.get(user=contract.freelancer, text__contains="released payment")
    assert "$90.00" in note.text and "$117.00" not in note.text
    page = client.get(contract.get_absolute_url()).content.decode()
    assert 'data-total="released">$100.00<' in page
    finished = page.split('id="finished-milestones"')[1].split("</table>")[0]  # a paid milestone: one row
    assert 'data-money="receives">$90.00<' in finished and 'data-money="refunded">$30.00<' in finished
    listing = client.get(reverse("contracts:contract_list")).content.decode()
    assert "$130.00" not in listing

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    bundle = client.get(reverse("admin:contracts_contract_evidence", args=[contract.pk]))
    with zipfile.ZipFile(io.BytesIO(b"".join(bundle.streaming_content))) as archive:
        terms_json = json.loads(archive.read("contract.json"))
    money = terms_json["milestones"][0]
    assert (money["refunded"], money["released"], money["paid_to_freelancer"]) == ("30.00", "100.00", "90.00")


# 3. The actions accept only what the pages offer, whatever interface calls them.


def test_a_refund_request_on_work_under_review_is_refused_by_the_action():
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")

    with pytest.raises(TransitionNotAllowed, match="submitted for review"):
        services.milestone_refund_request(milestone_id=milestone.pk, actor=contract.client)
    assert not MilestoneChange.objects.exists()


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hi", "//evil.example", "ftp://x.example"])
def test_the_submit_action_refuses_links_that_are_not_http(link):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)

    with pytest.raises(ValidationError, match="http"):
        services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[link])
    milestone.refresh_from_db()
    assert milestone.state == S.FUNDED


def test_offer_actions_refuse_past_dates_and_revision_rounds_outside_0_to_10():
    client, freelancer = UserFactory(), FreelancerFactory()
    past = [
        MilestoneTerms(
            title="Old", deliverable="x", due_date=timezone.localdate() - timedelta(days=1), amount=Decimal("50")
        )
    ]

    with pytest.raises(ValidationError, match="past"):
        services.offer_create(client=client, freelancer=freelancer, terms=terms(), milestones=past)
    for rounds in (-1, 11):
        with pytest.raises(ValidationError, match="between 0 and 10"):
            services.offer_create(
                client=client, freelancer=freelancer, terms=terms(revision_rounds=rounds), milestones=milestone_terms(1)
            )
    contract = make_contract(count=1)
    with pytest.raises(ValidationError, match="past"):
        services.milestone_add(contract_id=contract.pk, actor=contract.client, terms=past[0])


# 4. Side effects do not depend on which function is called; every change is recorded and labelled.


def test_withdrawing_a_proposed_change_is_recorded_and_every_event_kind_has_a_label_and_recipients():
    contract = make_contract(count=2)
    draft = contract.milestones.order_by("position").first()
    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.freelancer, kind=MilestoneChange.Kind.DELETE, milestone_id=draft.pk
    )

    services.milestone_change_withdraw(change_id=change.pk, actor=contract.freelancer)

    event = ContractEvent.objects.latest("id")
    assert (event.kind, event.actor) == ("change_withdrawn", contract.freelancer)
    for kind in EventKind:
        spec = SPECS[kind]
        assert spec.sentence and "_" not in str(spec.sentence).replace("{actor}", "").replace("{milestone}", ""), kind
        assert isinstance(spec.notify, Notify), kind


def test_approving_notifies_the_freelancer_through_the_one_approve_action():
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    Notification.objects.all().delete()

    services.milestone_approve(milestone_id=milestone.pk, actor=contract.client)

    assert list(Notification.objects.values_list("user", flat=True)) == [contract.freelancer.pk]


# 5. Action pages answer a GET only to someone who may act now.


def test_action_pages_refuse_a_get_exactly_like_the_post(client):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    approve = reverse("contracts:milestone_approve", args=[contract.pk, milestone.pk])
    client.force_login(contract.client)
    assert client.get(approve).status_code == 409  # funded, not submitted

    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.freelancer)
    assert client.get(approve).status_code == 403
    client.force_login(contract.client)
    assert client.get(approve).status_code == 200

    for _ in range(contract.revision_rounds):
        act(milestone_id=milestone.pk, actor=contract.client, name="request_changes", note="Again")
        act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    changes = reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, "request_changes"])
    response = client.get(changes)
    assert response.status_code == 409
    assert "agreed in the contract has been used" in response.content.decode() or (
        "revision rounds agreed in the contract have been used" in response.content.decode()
    )


# 6. A declined bonus card never un-approves; the bonus net of the fee is shown.


def test_a_declined_bonus_card_leaves_the_approval_and_a_good_one_shows_what_the_freelancer_gets(client):
    contract = make_contract(count=1, amount="200.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.client)
    url = reverse("contracts:milestone_approve", args=[contract.pk, milestone.pk])
    assert 'data-money="bonus-receives">$45.00<' in client.get(url).content.decode()  # $50.00 less 10 %

    response = client.post(url, {"idempotency_key": new_key(), "bonus": "40.00"})

    hosted = response["Location"]
    assert hosted.startswith("/sandbox-pay/checkout/")  # the bonus is paid on the provider's page
    milestone.refresh_from_db()
    assert milestone.state == S.RELEASED  # approved and released first, whatever the bonus card does
    declined = client.post(hosted, {"card_number": DECLINED_CARD, "expiry": "12/99", "cvc": "123"})
    page = client.get(declined["Location"], follow=True).content.decode()
    assert "The payment failed: Your card was declined." in page
    milestone.refresh_from_db()
    assert milestone.state == S.RELEASED
    assert user_balances(contract.freelancer)["available"] == Decimal("180.00")

    assert client.post(url, {}).status_code == 409  # approving twice is refused
    intent = services.milestone_bonus(
        milestone_id=milestone.pk, actor=contract.client, amount=Decimal("40.00"), idempotency_key=new_key()
    )
    paid = client.post(intent.redirect_url, {"card_number": GOOD_CARD, "expiry": "12/99", "cvc": "123"})
    page = client.get(paid["Location"], follow=True).content.decode()

    assert "Payment confirmed: $40.00 was paid." in page
    assert user_balances(contract.freelancer)["available"] == Decimal("180.00") + Decimal("36.00")
    bonus = ContractEvent.objects.get(kind="bonus")
    assert bonus.data == {"amount": "40.00", "fee": "4.00", "received": "36.00"}


# Found by the property test and left last time: a refund request stayed pending after the milestone was paid.


@pytest.mark.parametrize("ending", ["approve", "sweep", "dispute", "refund"])
def test_a_refund_request_no_longer_applies_once_the_milestone_is_paid_refunded_or_disputed(ending):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    change = services.milestone_refund_request(milestone_id=milestone.pk, actor=contract.client)
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")
    change.refresh_from_db()
    assert change.status == MilestoneChange.Status.PENDING  # still applies while the work is under review

    if ending == "approve":
        act(milestone_id=milestone.pk, actor=contract.client, name="approve")
    elif ending == "sweep":
        released, _more = services.release_overdue(now=timezone.now() + timedelta(days=15))
        assert released == 1
    elif ending == "dispute":
        services.milestone_dispute(milestone_id=milestone.pk, actor=contract.client, note="Not what we agreed")
    else:
        services.milestone_refund(milestone_id=milestone.pk, actor=contract.freelancer)

    change.refresh_from_db()
    assert change.status == MilestoneChange.Status.OBSOLETE
    with pytest.raises(ValidationError, match="already been answered"):
        services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)
