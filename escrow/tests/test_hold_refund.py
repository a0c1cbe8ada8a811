from decimal import Decimal

import pytest

from escrow.models import Account, Entry, PaymentIntent
from escrow.sandbox.models import Refund
from escrow.services import EscrowError, InvalidAmount, hold_refund, hold_release
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import assert_ledger_consistent, balance, fund, postings_of

Kind = Account.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:42", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00")))
    return "milestone:42"


def test_a_whole_refund_to_credit(funded, payer, payee):
    entry = hold_refund(reference=funded, amount=None, destination="credit", actor=payee)

    assert entry.reference == "refund:milestone:42:1" and entry.kind == Entry.Kind.REFUND_CREDIT
    assert postings_of(entry.reference) == {
        (Kind.ESCROW_HOLD, None, funded): Decimal("-500.00"),
        (Kind.USER_CREDIT, payer.pk, ""): Decimal("500.00"),
    }
    assert balance(Kind.ESCROW_HOLD, reference=funded) == 0
    assert balance(Kind.USER_CREDIT, user=payer) == Decimal("500.00")
    assert_ledger_consistent()


def test_partial_refunds_are_numbered_and_limited_to_what_is_left(funded, payer, payee):
    first = hold_refund(reference=funded, amount=Decimal("100.00"), destination="credit", actor=payee)
    second = hold_refund(reference=funded, amount=Decimal("150.00"), destination="card", actor=payee)

    assert (first.reference, second.reference) == ("refund:milestone:42:1", "refund:milestone:42:2")
    assert balance(Kind.ESCROW_HOLD, reference=funded) == Decimal("250.00")
    with pytest.raises(InvalidAmount) as refused:
        hold_refund(reference=funded, amount=Decimal("250.01"), destination="credit", actor=payee)
    assert refused.value.user_message == "You can refund at most $250.00."
    assert_ledger_consistent()


@pytest.mark.parametrize("amount", [Decimal("0.00"), Decimal("-1.00")])
def test_a_refund_must_be_positive(funded, payee, amount):
    with pytest.raises(InvalidAmount, match="greater than zero"):
        hold_refund(reference=funded, amount=amount, destination="credit", actor=payee)


def test_a_refund_to_card_refunds_the_funding_charge(funded, payer, payee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry = hold_refund(reference=funded, amount=Decimal("200.00"), destination="card", actor=payee)

    assert entry.kind == Entry.Kind.REFUND_CARD
    refund = PaymentIntent.objects.get(kind="refund")
    assert refund.state == "succeeded" and refund.provider_id.startswith("re_sandbox_")
    assert list(Refund.objects.values_list("charge_id", "amount")) == [(refund.provider_charge_id, Decimal("200.00"))]
    assert "Visa •••• 4242" in entry.memo
    assert postings_of(entry.reference) == {
        (Kind.ESCROW_HOLD, None, funded): Decimal("-200.00"),
        (Kind.GATEWAY, None, ""): Decimal("200.00"),
    }
    assert balance(Kind.USER_CREDIT, user=payer) == 0
    assert_ledger_consistent()


def test_a_whole_refund_to_card(funded, payee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        hold_refund(reference=funded, amount=None, destination="card", actor=payee)

    assert balance(Kind.ESCROW_HOLD, reference=funded) == 0
    assert Refund.objects.count() == 1
    assert_ledger_consistent()


def test_money_paid_with_credit_goes_back_as_credit_even_when_the_card_is_chosen(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("300.00"), fee=Decimal("0.00")))
    hold_refund(reference="milestone:1", amount=None, destination="credit", actor=payee)
    fund(payer, HoldSpecFactory(reference="milestone:2", payee=payee, amount=Decimal("300.00")), use_credit=True)

    entry = hold_refund(reference="milestone:2", amount=None, destination="card", actor=payee)

    assert (entry.kind, entry.intent) == (Entry.Kind.REFUND_CREDIT, None)
    assert balance(Kind.USER_CREDIT, user=payer) == Decimal("300.00")
    assert not Refund.objects.exists()
    assert_ledger_consistent()


def test_a_card_gets_back_what_was_charged_to_it_and_credit_the_rest(payer, payee, django_capture_on_commit_callbacks):
    # 100 of credit + a card charge of 400 pay for a hold of 500: 400 goes back to the card, 100 to credit.
    fund(payer, HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("100.00"), fee=Decimal("0.00")))
    hold_refund(reference="milestone:1", amount=None, destination="credit", actor=payee)
    fund(payer, HoldSpecFactory(reference="milestone:2", payee=payee, amount=Decimal("500.00")), use_credit=True)

    with django_capture_on_commit_callbacks(execute=True):
        entry = hold_refund(reference="milestone:2", amount=Decimal("450.00"), destination="card", actor=payee)

    assert entry.kind == Entry.Kind.REFUND_CARD
    assert entry.intent.amount == Decimal("400.00")
    assert {p.account.kind: p.amount for p in entry.postings.select_related("account")} == {
        Kind.ESCROW_HOLD: Decimal("-450.00"),
        Kind.GATEWAY: Decimal("400.00"),
        Kind.USER_CREDIT: Decimal("50.00"),
    }
    assert entry.memo.startswith("Refund to card (") and " and credit: " in entry.memo
    # The card has nothing left to take back: the rest of the hold goes to credit.
    hold_refund(reference="milestone:2", amount=None, destination="card", actor=payee)
    assert balance(Kind.ESCROW_HOLD, reference="milestone:2") == 0
    assert balance(Kind.USER_CREDIT, user=payer) == Decimal("100.00")
    assert Refund.objects.count() == 1
    assert_ledger_consistent()


def test_a_released_payment_is_final(funded, payer, payee):
    hold_release(reference=funded, actor=payer)

    with pytest.raises(EscrowError, match="already released"):
        hold_refund(reference=funded, amount=Decimal("10.00"), destination="credit", actor=payee)
    assert not Entry.objects.filter(kind__in=[Entry.Kind.REFUND_CARD, Entry.Kind.REFUND_CREDIT]).exists()


def test_nothing_left_to_refund(funded, payee):
    hold_refund(reference=funded, amount=None, destination="credit", actor=payee)

    with pytest.raises(EscrowError, match="Nothing is left"):
        hold_refund(reference=funded, amount=None, destination="credit", actor=payee)


def test_an_unknown_destination_is_a_programming_error(funded, payee):
    with pytest.raises(ValueError):
        hold_refund(reference=funded, amount=None, destination="bank", actor=payee)
