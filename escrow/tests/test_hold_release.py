from decimal import Decimal

import pytest

from escrow.models import Account, Entry
from escrow.services import AlreadyProcessed, EscrowError, HoldNotFound, hold_refund, hold_release
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import assert_ledger_consistent, balance, fund, postings_of

Kind = Account.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:42", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00")))
    return "milestone:42"


def test_release_pays_the_payee_minus_the_agreed_fee(funded, payer, payee):
    entry = hold_release(reference=funded, actor=payer)

    assert entry.reference == "release:milestone:42" and entry.kind == Entry.Kind.RELEASE
    assert entry.created_by == payer and entry.hold.reference == funded
    assert "after a $50.00 platform fee" in entry.memo
    assert postings_of("release:milestone:42") == {
        (Kind.ESCROW_HOLD, None, funded): Decimal("-500.00"),
        (Kind.USER_AVAILABLE, payee.pk, ""): Decimal("450.00"),
        (Kind.PLATFORM_FEES, None, ""): Decimal("50.00"),
    }
    assert balance(Kind.ESCROW_HOLD, reference=funded) == 0
    assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("450.00")
    assert_ledger_consistent()


def test_release_happens_once(funded, payer):
    hold_release(reference=funded, actor=payer)

    with pytest.raises(AlreadyProcessed):
        hold_release(reference=funded, actor=None)

    assert Entry.objects.filter(kind=Entry.Kind.RELEASE).count() == 1
    assert_ledger_consistent()


def test_release_without_a_fee_has_no_fee_posting(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("80.00"), fee=Decimal("0.00")))

    hold_release(reference="milestone:1", actor=None)

    assert postings_of("release:milestone:1") == {
        (Kind.ESCROW_HOLD, None, "milestone:1"): Decimal("-80.00"),
        (Kind.USER_AVAILABLE, payee.pk, ""): Decimal("80.00"),
    }


def test_after_a_partial_refund_the_rest_is_released_with_a_proportional_fee(funded, payer, payee):
    hold_refund(reference=funded, amount=Decimal("166.67"), destination="credit", actor=payee)

    hold_release(reference=funded, actor=payer)

    # 333.33 left at the hold's 10% rate: a 33.33 fee.
    assert postings_of("release:milestone:42") == {
        (Kind.ESCROW_HOLD, None, funded): Decimal("-333.33"),
        (Kind.USER_AVAILABLE, payee.pk, ""): Decimal("300.00"),
        (Kind.PLATFORM_FEES, None, ""): Decimal("33.33"),
    }
    assert_ledger_consistent()


def test_a_fully_refunded_hold_cannot_be_released(funded, payer, payee):
    hold_refund(reference=funded, amount=None, destination="credit", actor=payee)

    with pytest.raises(EscrowError, match="Nothing is left in escrow"):
        hold_release(reference=funded, actor=payer)
    assert not Entry.objects.filter(kind=Entry.Kind.RELEASE).exists()


def test_an_unknown_reference_is_refused(db):
    with pytest.raises(HoldNotFound):
        hold_release(reference="milestone:404", actor=None)
