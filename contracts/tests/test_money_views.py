from decimal import Decimal

import pytest
from django.urls import reverse

from contracts.models import Milestone
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.sandbox.models import Checkout
from escrow.selectors import user_balances
from escrow.tests.factories import new_key

GOOD_CARD, DECLINED_CARD = "4242 4242 4242 4242", "4000 0000 0000 0002"

pytestmark = pytest.mark.django_db
S = Milestone.State


@pytest.fixture
def contract():
    return make_contract(count=2, amount="150.00")


def test_fund_page_sends_the_client_to_the_hosted_page_and_the_return_funds(
    client, contract, assert_ledger_consistent, django_capture_on_commit_callbacks
):
    first = contract.milestones.first()
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])

    page = client.get(url, {"milestone": first.pk})
    body = page.content.decode()
    assert "Platform fee $15.00" in body and "freelancer receives $135.00" in body
    assert "card_number" not in body and "cvc" not in body.lower()
    key = page.context["form"]["idempotency_key"].value()

    response = client.post(url, {"milestones": [first.pk], "idempotency_key": key})

    assert response.status_code == 302 and response["Location"].startswith("/sandbox-pay/checkout/")
    first.refresh_from_db()
    assert first.state == S.DRAFT
    processing = client.get(contract.get_absolute_url()).content.decode()
    assert "Payment processing" in processing

    back = client.post(response["Location"], {"card_number": GOOD_CARD, "expiry": "12/99", "cvc": "123"})
    assert back.status_code == 302
    landed = client.get(back["Location"])  # escrow's return page asks the provider, then the contract

    assert landed.status_code == 302 and landed["Location"] == contract.get_absolute_url()
    first.refresh_from_db()
    assert first.state == S.FUNDED
    follow = client.get(contract.get_absolute_url()).content.decode()
    assert "$150.00 is held in escrow" in follow and "Payment confirmed" in follow
    assert_ledger_consistent()


def test_a_declined_card_comes_back_with_the_error_and_changes_nothing(client, contract):
    first = contract.milestones.first()
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])
    hosted = client.post(url, {"milestones": [first.pk], "idempotency_key": new_key()})["Location"]

    back = client.post(hosted, {"card_number": DECLINED_CARD, "expiry": "12/99", "cvc": "123"})
    page = client.get(client.get(back["Location"])["Location"]).content.decode()

    assert "The payment failed: Your card was declined. Nothing was charged." in page
    first.refresh_from_db()
    assert first.state == S.DRAFT
    assert "Payment processing" not in page


def test_the_same_form_posted_twice_opens_one_payment(client, contract):
    first = contract.milestones.first()
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])
    key = new_key()

    one = client.post(url, {"milestones": [first.pk], "idempotency_key": key})
    two = client.post(url, {"milestones": [first.pk], "idempotency_key": key})

    assert one["Location"] == two["Location"] and Checkout.objects.count() == 1


def test_the_fund_page_shows_a_payment_in_progress(client, contract):
    first, second = contract.milestones.order_by("position")
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])
    client.post(url, {"milestones": [first.pk], "idempotency_key": new_key()})

    page = client.get(url)

    assert [m.pk for m in page.context["drafts"]] == [second.pk]
    assert "Payment processing" in page.content.decode()


def test_freelancer_cannot_open_the_fund_page(client, contract):
    client.force_login(contract.freelancer)

    response = client.get(reverse("contracts:milestones_fund", args=[contract.pk]))

    assert response.status_code == 403


def test_approve_page_releases_and_the_freelancer_is_paid(client, contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund_milestones(contract, first)
    act(milestone_id=first.pk, actor=contract.freelancer, name="submit")
    client.force_login(contract.client)
    url = reverse("contracts:milestone_approve", args=[contract.pk, first.pk])

    confirmation = client.get(url).content.decode()
    assert "$135.00" in confirmation and "Approve and release $150.00" in confirmation
    response = client.post(url, {"note": "Great work", "idempotency_key": new_key()})

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.state == S.RELEASED
    assert user_balances(contract.freelancer)["available"] == Decimal("135.00")
    assert_ledger_consistent()


def test_generic_action_url_for_money_redirects_to_its_page(client, contract):
    first = contract.milestones.first()
    client.force_login(contract.client)

    response = client.post(reverse("contracts:milestone_action", args=[contract.pk, first.pk, "fund"]))

    assert response.status_code == 302
    assert response.url == f"{reverse('contracts:milestones_fund', args=[contract.pk])}?milestone={first.pk}"
    first.refresh_from_db()
    assert first.state == S.DRAFT


def test_refund_page_for_the_freelancer_validates_the_amount(client, contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund_milestones(contract, first)
    client.force_login(contract.freelancer)
    url = reverse("contracts:milestone_refund", args=[contract.pk, first.pk])

    too_much = client.post(url, {"amount": "150.01"})
    assert "You can refund at most $150.00." in too_much.content.decode()
    client.post(url, {"amount": "40.00"})

    assert user_balances(contract.client)["credit"] == Decimal("40.00")
    first.refresh_from_db()
    assert first.state == S.FUNDED
    assert "$110.00 is held in escrow" in client.get(contract.get_absolute_url()).content.decode()
    assert_ledger_consistent()


def test_agreeing_to_a_refund_request_is_confirmed_first(client, contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund_milestones(contract, first)
    client.force_login(contract.client)
    client.post(reverse("contracts:milestone_refund_request", args=[contract.pk, first.pk]))
    change = contract.changes.get()
    client.force_login(contract.freelancer)
    url = reverse("contracts:change_decide", args=[contract.pk, change.pk, "accept"])

    page = client.get(url)
    assert "Agree and refund $150.00" in page.content.decode()
    first.refresh_from_db()
    assert first.state == S.FUNDED  # looking changes nothing

    client.post(url)
    first.refresh_from_db()
    assert first.state == S.REFUNDED
    assert user_balances(contract.client)["credit"] == Decimal("150.00")
    assert client.get(reverse("contracts:change_decide", args=[contract.pk, change.pk, "decline"])).status_code == 405
    assert_ledger_consistent()


def test_a_refund_to_the_card_sends_back_what_the_card_paid_and_the_rest_as_credit(client):
    """Found by the property test and left last time: a client who takes refunds to their card and paid a
    milestone partly with credit saw Refund offered, and the refund then refused. Now the card gets back what
    it paid, the credit what credit paid, and the pages say so before money moves."""
    from contracts import services
    from escrow.sandbox.testing import pay

    contract = make_contract(count=2, amount="100.00")
    first, second = contract.milestones.order_by("position")
    fund_milestones(contract, first)
    act(milestone_id=first.pk, actor=contract.freelancer, name="refund")  # $100.00 to the client's credit
    contract.client.refund_to = "card"
    contract.client.save(update_fields=["refund_to"])
    second.amount = Decimal("250.00")
    second.save(update_fields=["amount"])
    intent = services.milestones_fund(
        contract_id=contract.pk,
        milestone_ids=[second.pk],
        actor=contract.client,
        idempotency_key=new_key(),
        use_credit=True,
    )
    pay(intent, "4242 4242 4242 4242")  # $100.00 of credit, $150.00 by card

    client.force_login(contract.freelancer)
    page = client.get(reverse("contracts:milestone_refund", args=[contract.pk, second.pk])).content.decode()
    assert "At most $150.00 can go back to the card" in page
    response = client.post(reverse("contracts:milestone_refund", args=[contract.pk, second.pk]), {"amount": "250.00"})
    assert response.status_code == 302

    second.refresh_from_db()
    assert second.state == Milestone.State.REFUNDED
    assert user_balances(contract.client)["credit"] == Decimal("100.00")  # the credit it used, back as credit
    assert intent.refunds.get().amount == Decimal("150.00")  # the card's part, to the card
