"""Funding rules that hold whatever the provider says: validation, double funding, credit, races."""

from decimal import Decimal

import pytest
from django.db import IntegrityError

from escrow.models import Account, Entry, Hold, PaymentIntent
from escrow.sandbox.models import Checkout
from escrow.services import AlreadyProcessed, EscrowError, IdempotencyKeyReused, hold_refund, hold_release
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent, balance, fund, postings_of, run_at_once, start_funding
from marketplace.tests.factories import FreelancerFactory, UserFactory

Kind = Account.Kind


@pytest.mark.django_db
class TestFunding:
    def test_one_payment_for_several_holds(self, payer, payee):
        specs = [
            HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00")),
            HoldSpecFactory(reference="milestone:2", payee=payee, amount=Decimal("250.50"), fee=Decimal("25.05")),
        ]

        intent = fund(payer, *specs)

        assert intent.amount == Decimal("350.50") and Checkout.objects.get().amount == Decimal("350.50")
        assert postings_of(f"payment:{intent.pk}") == {
            (Kind.GATEWAY, None, ""): Decimal("-350.50"),
            (Kind.USER_FUNDING, payer.pk, ""): Decimal("350.50"),
        }
        assert postings_of("fund:milestone:2") == {
            (Kind.USER_FUNDING, payer.pk, ""): Decimal("-250.50"),
            (Kind.ESCROW_HOLD, None, "milestone:2"): Decimal("250.50"),
        }
        assert [hold.reference for hold in intent.holds.order_by("reference")] == ["milestone:1", "milestone:2"]
        assert_ledger_consistent()

    def test_no_card_number_is_stored_anywhere(self, payer, payee):
        fund(payer, HoldSpecFactory(payee=payee))
        from django.db import connection

        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the schema
                assert "4242424242424242" not in repr(cursor.fetchall()), table

    def test_an_already_funded_reference_is_refused(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee))

        with pytest.raises(AlreadyProcessed) as refused:
            start_funding(payer, HoldSpecFactory(reference="milestone:5", payee=payee, label="Logo"))

        assert refused.value.user_message == "“Logo” is already funded."
        assert Checkout.objects.count() == 1

    def test_one_funded_reference_in_a_batch_refuses_the_whole_batch(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee))
        with pytest.raises(AlreadyProcessed):
            start_funding(
                payer, HoldSpecFactory(reference="milestone:6", payee=payee), HoldSpecFactory(reference="milestone:5")
            )
        assert not Hold.objects.filter(reference="milestone:6").exists() and PaymentIntent.objects.count() == 1

    def test_the_database_refuses_a_second_fund_entry(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee))
        with pytest.raises(IntegrityError):
            Entry.objects.create(reference="fund:milestone:5", kind=Entry.Kind.FUND, memo="again")

    def test_another_payer_cannot_reuse_a_key(self, payer, payee):
        key = new_key()
        start_funding(payer, HoldSpecFactory(payee=payee), key=key)
        with pytest.raises(IdempotencyKeyReused):
            start_funding(UserFactory(), HoldSpecFactory(payee=payee), key=key)


def _give_credit(payer, payee, amount):
    spec = HoldSpecFactory(payee=payee, amount=amount, fee=Decimal("0.00"))
    fund(payer, spec)
    hold_refund(reference=spec.reference, amount=None, destination="credit", actor=payee)


@pytest.mark.django_db
class TestCredit:
    def test_credit_is_used_first_and_only_the_rest_is_charged(self, payer, payee):
        _give_credit(payer, payee, Decimal("100.00"))
        intent = fund(payer, HoldSpecFactory(reference="milestone:9", payee=payee), use_credit=True)
        assert (intent.credit_used, intent.amount) == (Decimal("100.00"), Decimal("400.00"))
        assert balance(Kind.USER_CREDIT, user=payer) == 0
        assert balance(Kind.ESCROW_HOLD, reference="milestone:9") == Decimal("500.00")
        assert_ledger_consistent()

    def test_credit_is_not_used_unless_asked(self, payer, payee):
        _give_credit(payer, payee, Decimal("100.00"))
        intent = fund(payer, HoldSpecFactory(payee=payee))
        assert intent.credit_used == 0 and balance(Kind.USER_CREDIT, user=payer) == Decimal("100.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount": Decimal("0.00")}, EscrowError),
        ({"amount": Decimal("-5.00")}, EscrowError),
        ({"fee": Decimal("600.00")}, EscrowError),
        ({"fee": Decimal("-1.00")}, EscrowError),
        ({"reference": ""}, ValueError),
        ({"link_url": "javascript:alert(1)"}, ValueError),
    ],
)
def test_invalid_holds_are_refused_before_anything_happens(payer, payee, changes, error):
    with pytest.raises(error):
        start_funding(payer, HoldSpecFactory(payee=payee, **changes))
    assert not PaymentIntent.objects.exists() and not Checkout.objects.exists()


@pytest.mark.django_db
def test_nobody_pays_themselves(payer):
    with pytest.raises(EscrowError, match="pay yourself"):
        start_funding(payer, HoldSpecFactory(payee=payer))


@pytest.mark.django_db
def test_money_is_never_a_float(payer, payee):
    with pytest.raises(TypeError):
        start_funding(payer, HoldSpecFactory(payee=payee, amount=500.0))


@pytest.mark.django_db(transaction=True)
def test_credit_cannot_be_spent_twice_by_concurrent_fundings():
    payer, payee = UserFactory(), FreelancerFactory()
    _give_credit(payer, payee, Decimal("100.00"))
    specs = [HoldSpecFactory(reference=f"milestone:c{n}", payee=payee, amount=Decimal("100.00")) for n in range(2)]

    results, errors = run_at_once(2, lambda index: start_funding(payer, specs[index], use_credit=True))

    assert errors == [None, None]
    assert sorted(result.credit_used for result in results) == [Decimal("0.00"), Decimal("100.00")]
    assert sorted(result.amount for result in results) == [Decimal("0.00"), Decimal("100.00")]
    assert balance(Kind.USER_CREDIT, user=payer) == 0
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_pay_once():
    payer, payee = UserFactory(), FreelancerFactory()
    fund(payer, HoldSpecFactory(reference="milestone:r", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00")))

    results, errors = run_at_once(3, lambda _: hold_release(reference="milestone:r", actor=payer))

    assert sum(result is not None for result in results) == 1
    assert [type(error) for error in errors if error] == [AlreadyProcessed, AlreadyProcessed]
    assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("90.00")
    assert_ledger_consistent()
