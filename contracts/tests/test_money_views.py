from decimal import Decimal

import pytest
from django.urls import reverse

from contracts.models import Milestone
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.models import Charge
from escrow.selectors import user_balances
from escrow.tests.factories import DECLINED_CARD, GOOD_CARD, new_key

pytestmark = pytest.mark.django_db
S = Milestone.State


@pytest.fixture
def contract():
    return make_contract(count=2, amount="150.00")


def card(number=GOOD_CARD):
    return {"card_number": number, "expiry": "12/99", "cvc": "123"}


def test_fund_page_confirms_amount_and_fees_then_funds(client, contract, gateway, assert_ledger_consistent):
    first = contract.milestones.first()
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])

    page = client.get(url, {"milestone": first.pk})
    body = page.content.decode()
    assert "Platform fee $15.00" in body and "freelancer receives $135.00" in body
    key = page.context["form"]["idempotency_key"].value()

    response = client.post(url, {"milestones": [first.pk], "idempotency_key": key, **card()})

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.state == S.FUNDED
    follow = client.get(contract.get_absolute_url()).content.decode()
    assert "$150.00 is held in escrow" in follow
    assert_ledger_consistent()


def test_declined_card_shows_the_error_and_changes_nothing(client, contract, gateway):
    first = contract.milestones.first()
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])

    response = client.post(url, {"milestones": [first.pk], "idempotency_key": new_key(), **card(DECLINED_CARD)})

    assert response.status_code == 200
    assert "Your card was declined. Try another card." in response.content.decode()
    first.refresh_from_db()
    assert first.state == S.DRAFT
    # the form comes back with a fresh key, so correcting the card is a new attempt
    assert response.context["form"].data["idempotency_key"] != ""
    assert Charge.objects.get().status == Charge.Status.FAILED


def test_card_fields_are_validated_next_to_the_field(client, contract):
    client.force_login(contract.client)
    url = reverse("contracts:milestones_fund", args=[contract.pk])

    response = client.post(
        url, {"milestones": [contract.milestones.first().pk], "idempotency_key": new_key(), **card("1234")}
    )

    assert "Enter a valid card number." in response.content.decode()
    assert not Charge.objects.exists()


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
