from decimal import Decimal

import pytest

from escrow.gateways import CardDeclined
from escrow.models import Account, Charge, Entry
from escrow.services import AlreadyProcessed, IdempotencyKeyReused, InvalidAmount, bonus_pay
from escrow.tests.factories import DECLINED_CARD, CardFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent, balance, postings_of

Kind = Account.Kind
pytestmark = pytest.mark.django_db


def pay_bonus(payer, payee, *, key=None, reference="contract:1:bonus:1", card=None, amount="100.00", fee="10.00"):
    return bonus_pay(
        payer=payer,
        payee=payee,
        amount=Decimal(amount),
        card=card or CardFactory(),
        idempotency_key=key or new_key(),
        reference=reference,
        fee=Decimal(fee),
        actor=payer,
    )


def test_a_bonus_goes_straight_to_the_payees_earnings_minus_the_fee(payer, payee, gateway):
    entry = pay_bonus(payer, payee)

    charge = Charge.objects.get()
    assert entry.reference == "bonus:contract:1:bonus:1" and entry.kind == Entry.Kind.BONUS
    assert entry.memo == "Bonus from Clara Client (after a $10.00 platform fee)"
    assert postings_of(entry.reference) == {
        (Kind.USER_FUNDING, payer.pk, ""): Decimal("-100.00"),
        (Kind.USER_AVAILABLE, payee.pk, ""): Decimal("90.00"),
        (Kind.PLATFORM_FEES, None, ""): Decimal("10.00"),
    }
    assert postings_of(f"charge:{charge.pk}")[(Kind.GATEWAY, None, "")] == Decimal("-100.00")
    assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("90.00")
    assert len(gateway.charges) == 1
    assert_ledger_consistent()


def test_a_replay_returns_the_same_entry_and_charges_once(payer, payee, gateway):
    key = new_key()
    first = pay_bonus(payer, payee, key=key)
    second = pay_bonus(payer, payee, key=key)

    assert first == second
    assert len(gateway.charges) == 1
    assert_ledger_consistent()


def test_one_bonus_per_reference(payer, payee, gateway):
    pay_bonus(payer, payee)

    with pytest.raises(AlreadyProcessed):
        pay_bonus(payer, payee)
    assert len(gateway.charges) == 1


def test_a_declined_bonus_pays_nothing_and_a_replay_shows_the_same_error(payer, payee, gateway):
    key = new_key()
    with pytest.raises(CardDeclined):
        pay_bonus(payer, payee, key=key, card=CardFactory(number=DECLINED_CARD))
    with pytest.raises(CardDeclined):
        pay_bonus(payer, payee, key=key, card=CardFactory(number=DECLINED_CARD))

    assert Charge.objects.get().status == Charge.Status.FAILED
    assert not Entry.objects.exists()
    assert len(gateway.charges) == 1
    assert balance(Kind.USER_AVAILABLE, user=payee) == 0


def test_a_funding_key_cannot_be_replayed_as_a_bonus(payer, payee):
    from escrow.tests.factories import HoldSpecFactory
    from escrow.tests.helpers import fund

    key = new_key()
    fund(payer, HoldSpecFactory(payee=payee), key=key)

    with pytest.raises(IdempotencyKeyReused):
        pay_bonus(payer, payee, key=key)


@pytest.mark.parametrize(("amount", "fee"), [("0.00", "0.00"), ("-5.00", "0.00"), ("10.00", "10.01")])
def test_invalid_amounts_are_refused(payer, payee, gateway, amount, fee):
    with pytest.raises(InvalidAmount):
        pay_bonus(payer, payee, amount=amount, fee=fee)
    assert gateway.charges == []
