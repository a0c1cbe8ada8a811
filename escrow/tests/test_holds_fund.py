import threading
from decimal import Decimal

import pytest
from django.db import connection

from escrow.gateways import CardDeclined, GatewayUnavailable, InsufficientFunds
from escrow.models import Account, Charge, Entry, Hold, Posting
from escrow.services import AlreadyProcessed, CardRequired, EscrowError, IdempotencyKeyReused, holds_fund
from escrow.tests.factories import (
    DECLINED_CARD,
    INSUFFICIENT_FUNDS_CARD,
    UNREACHABLE_CARD,
    CardFactory,
    HoldSpecFactory,
    new_key,
)
from escrow.tests.helpers import assert_ledger_consistent, balance, fund, postings_of
from marketplace.tests.factories import FreelancerFactory, UserFactory

Kind = Account.Kind


@pytest.mark.django_db
class TestFundingWithACard:
    def test_one_hold_is_charged_and_held(self, payer, payee, gateway):
        spec = HoldSpecFactory(reference="milestone:42", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00"))

        result = fund(payer, spec)

        hold = Hold.objects.get(reference="milestone:42")
        charge = Charge.objects.get()
        assert result.holds == (hold,)
        assert result.charge == charge and result.charged == Decimal("500.00") and result.credit_used == 0
        assert not result.replayed
        assert (charge.status, charge.amount, charge.brand, charge.last4) == (
            "succeeded",
            Decimal("500.00"),
            "Visa",
            "4242",
        )
        assert charge.gateway_charge_id.startswith("ch_sandbox_")
        assert (hold.payer, hold.payee, hold.amount, hold.fee, hold.funded_by_charge) == (
            payer,
            payee,
            Decimal("500.00"),
            Decimal("50.00"),
            charge,
        )
        assert postings_of(f"charge:{charge.pk}") == {
            (Kind.GATEWAY, None, ""): Decimal("-500.00"),
            (Kind.USER_FUNDING, payer.pk, ""): Decimal("500.00"),
        }
        assert postings_of("fund:milestone:42") == {
            (Kind.USER_FUNDING, payer.pk, ""): Decimal("-500.00"),
            (Kind.ESCROW_HOLD, None, "milestone:42"): Decimal("500.00"),
        }
        assert Entry.objects.get(reference="fund:milestone:42").hold == hold
        assert balance(Kind.ESCROW_HOLD, reference="milestone:42") == Decimal("500.00")
        assert balance(Kind.USER_FUNDING, user=payer) == 0
        assert len(gateway.charges) == 1
        assert_ledger_consistent()

    def test_several_holds_are_paid_with_one_charge(self, payer, payee, gateway):
        specs = [
            HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00")),
            HoldSpecFactory(reference="milestone:2", payee=payee, amount=Decimal("250.50"), fee=Decimal("25.05")),
        ]

        result = fund(payer, *specs)

        assert [hold.reference for hold in result.holds] == ["milestone:1", "milestone:2"]
        assert Charge.objects.get().amount == Decimal("350.50")
        assert len(gateway.charges) == 1
        assert balance(Kind.ESCROW_HOLD, reference="milestone:2") == Decimal("250.50")
        assert Entry.objects.filter(kind=Entry.Kind.FUND).count() == 2
        assert_ledger_consistent()

    def test_no_card_number_is_stored(self, payer, payee):
        fund(payer, HoldSpecFactory(payee=payee))

        charge = Charge.objects.get()
        stored = " ".join(str(value) for value in Charge.objects.values().get().values())
        assert "4242424242424242" not in stored and "4242 4242 4242 4242" not in stored
        assert charge.last4 == "4242"
        assert "4242 4242" not in repr(CardFactory())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "error", "code", "message"),
    [
        (DECLINED_CARD, CardDeclined, "card_declined", "Your card was declined. Try another card."),
        (INSUFFICIENT_FUNDS_CARD, InsufficientFunds, "insufficient_funds", "Your card has insufficient funds."),
        (
            UNREACHABLE_CARD,
            GatewayUnavailable,
            "gateway_unavailable",
            "We couldn't reach the payment provider. Nothing was charged; please try again.",
        ),
        ("4242 4242 4242 4241", CardDeclined, "invalid_number", "Your card number is invalid. Check it and try again."),
    ],
)
def test_a_failed_charge_funds_nothing_and_a_replay_shows_the_same_error(
    payer, payee, gateway, number, error, code, message
):
    key = new_key()
    spec = HoldSpecFactory(reference="milestone:7", payee=payee)

    with pytest.raises(error) as first:
        fund(payer, spec, key=key, card=CardFactory(number=number))

    assert first.value.user_message == message
    charge = Charge.objects.get()
    assert (charge.status, charge.failure_code, charge.failure_message) == ("failed", code, message)
    assert not Hold.objects.exists() and not Entry.objects.exists() and not Posting.objects.exists()

    with pytest.raises(error) as replay:
        fund(payer, spec, key=key, card=CardFactory(number=number))
    assert replay.value.user_message == message
    assert len(gateway.charges) == 1  # the replay did not reach the provider
    assert Charge.objects.count() == 1

    # A new attempt (a new key, as a re-rendered form carries) with a good card goes through.
    fund(payer, spec)
    assert Hold.objects.filter(reference="milestone:7").exists()
    assert_ledger_consistent()


@pytest.mark.django_db
class TestIdempotency:
    def test_a_replay_charges_nothing_and_returns_the_same_result(self, payer, payee, gateway):
        key = new_key()
        spec = HoldSpecFactory(payee=payee)

        first = fund(payer, spec, key=key)
        second = fund(payer, spec, key=key)

        assert second == first
        assert second.replayed and not first.replayed
        assert len(gateway.charges) == 1
        assert Charge.objects.count() == 1 and Hold.objects.count() == 1
        assert Entry.objects.filter(kind=Entry.Kind.CHARGE).count() == 1
        assert_ledger_consistent()

    def test_a_replay_lists_the_holds_in_the_callers_order(self, payer, payee):
        key = new_key()
        specs = [HoldSpecFactory(reference=reference, payee=payee) for reference in ("m:b", "m:c", "m:a")]

        first = fund(payer, *specs, key=key)
        second = fund(payer, *specs, key=key)

        assert [hold.reference for hold in first.holds] == ["m:b", "m:c", "m:a"]
        assert second == first

    def test_a_replay_of_a_credit_only_funding_returns_the_same_result(self, payer, payee):
        _give_credit(payer, payee, Decimal("300.00"))
        key = new_key()
        spec = HoldSpecFactory(payee=payee, amount=Decimal("200.00"), fee=Decimal("20.00"))

        first = holds_fund(payer=payer, holds=[spec], card=None, idempotency_key=key, use_credit=True, actor=payer)
        second = holds_fund(payer=payer, holds=[spec], card=None, idempotency_key=key, use_credit=True, actor=payer)

        assert second == first and second.replayed
        assert first.credit_used == Decimal("200.00") and first.charge is None
        assert balance(Kind.USER_CREDIT, user=payer) == Decimal("100.00")
        assert_ledger_consistent()

    def test_another_payer_cannot_reuse_a_key(self, payer, payee):
        key = new_key()
        fund(payer, HoldSpecFactory(payee=payee), key=key)

        with pytest.raises(IdempotencyKeyReused):
            fund(UserFactory(), HoldSpecFactory(payee=payee), key=key)


@pytest.mark.django_db
class TestDoubleFunding:
    def test_an_already_funded_reference_is_refused_and_nothing_is_charged(self, payer, payee, gateway):
        fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee))

        with pytest.raises(AlreadyProcessed) as refused:
            fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee, label="Logo"))

        assert refused.value.user_message == "“Logo” is already funded."
        assert len(gateway.charges) == 1
        assert Charge.objects.count() == 1
        assert_ledger_consistent()

    def test_one_funded_reference_in_a_batch_refuses_the_whole_batch(self, payer, payee, gateway):
        fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee))

        with pytest.raises(AlreadyProcessed):
            fund(payer, HoldSpecFactory(reference="milestone:6", payee=payee), HoldSpecFactory(reference="milestone:5"))

        assert not Hold.objects.filter(reference="milestone:6").exists()
        assert len(gateway.charges) == 1

    def test_the_database_refuses_a_second_fund_entry(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="milestone:5", payee=payee))

        from django.db import IntegrityError

        with pytest.raises(IntegrityError):
            Entry.objects.create(reference="fund:milestone:5", kind=Entry.Kind.FUND, memo="again")


def _give_credit(payer, payee, amount):
    """Fund a hold of `amount` and refund it to credit: the payer then has `amount` of credit."""
    from escrow.services import hold_refund

    spec = HoldSpecFactory(payee=payee, amount=amount, fee=Decimal("0.00"))
    fund(payer, spec)
    hold_refund(reference=spec.reference, amount=None, destination="credit", actor=payee)


@pytest.mark.django_db
class TestCredit:
    def test_credit_is_used_first_and_only_the_rest_is_charged(self, payer, payee, gateway):
        _give_credit(payer, payee, Decimal("120.00"))
        gateway.reset()
        key = new_key()

        result = fund(payer, HoldSpecFactory(reference="milestone:9", payee=payee), key=key, use_credit=True)

        assert (result.credit_used, result.charged, result.total) == (
            Decimal("120.00"),
            Decimal("380.00"),
            Decimal("500.00"),
        )
        assert result.charge.amount == Decimal("380.00")
        assert len(gateway.charges) == 1
        assert balance(Kind.USER_CREDIT, user=payer) == 0
        assert postings_of(f"credit-use:{key}") == {
            (Kind.USER_CREDIT, payer.pk, ""): Decimal("-120.00"),
            (Kind.USER_FUNDING, payer.pk, ""): Decimal("120.00"),
        }
        assert balance(Kind.ESCROW_HOLD, reference="milestone:9") == Decimal("500.00")
        assert_ledger_consistent()

    def test_credit_covering_everything_needs_no_card(self, payer, payee, gateway):
        _give_credit(payer, payee, Decimal("800.00"))
        gateway.reset()

        result = holds_fund(
            payer=payer,
            holds=[HoldSpecFactory(payee=payee, amount=Decimal("500.00"))],
            card=None,
            idempotency_key=new_key(),
            use_credit=True,
            actor=payer,
        )

        assert result.charge is None and result.charged == 0 and result.credit_used == Decimal("500.00")
        assert result.holds[0].funded_by_charge is None
        assert gateway.charges == []
        assert balance(Kind.USER_CREDIT, user=payer) == Decimal("300.00")
        assert_ledger_consistent()

    def test_credit_is_not_used_unless_asked(self, payer, payee):
        _give_credit(payer, payee, Decimal("100.00"))

        result = fund(payer, HoldSpecFactory(payee=payee, amount=Decimal("50.00"), fee=Decimal("5.00")))

        assert result.credit_used == 0 and result.charged == Decimal("50.00")
        assert balance(Kind.USER_CREDIT, user=payer) == Decimal("100.00")

    def test_a_card_is_required_for_the_rest(self, payer, payee):
        _give_credit(payer, payee, Decimal("100.00"))

        with pytest.raises(CardRequired) as refused:
            holds_fund(
                payer=payer,
                holds=[HoldSpecFactory(payee=payee, amount=Decimal("150.00"), fee=Decimal("15.00"))],
                card=None,
                idempotency_key=new_key(),
                use_credit=True,
                actor=payer,
            )
        assert refused.value.user_message == "Enter your card details to pay $50.00."
        assert balance(Kind.USER_CREDIT, user=payer) == Decimal("100.00")
        assert Hold.objects.count() == 1  # only the one that was refunded


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
def test_invalid_holds_are_refused_before_anything_happens(payer, payee, gateway, changes, error):
    with pytest.raises(error):
        fund(payer, HoldSpecFactory(payee=payee, **changes))
    assert gateway.charges == [] and not Charge.objects.exists()


@pytest.mark.django_db
def test_nobody_pays_themselves(payer):
    with pytest.raises(EscrowError, match="pay yourself"):
        fund(payer, HoldSpecFactory(payee=payer))


@pytest.mark.django_db
def test_money_is_never_a_float(payer, payee):
    with pytest.raises(TypeError):
        fund(payer, HoldSpecFactory(payee=payee, amount=500.0))


def _run_at_once(count, work):
    """Run `work(i)` in `count` threads released together by a barrier; each closes its DB connection."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, [None] * count

    def run(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - collected and asserted by the test
            errors[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_the_same_key_charge_once(gateway):
    gateway.reset(delay=0.3)  # the first request is still at the provider when the second arrives
    payer, payee = UserFactory(), FreelancerFactory()
    spec = HoldSpecFactory(reference="milestone:77", payee=payee)
    key = new_key()

    results, errors = _run_at_once(2, lambda _: fund(payer, spec, key=key))

    assert errors == [None, None]
    assert results[0] == results[1]
    assert sorted(result.replayed for result in results) == [False, True]
    assert len(gateway.charges) == 1
    assert Charge.objects.count() == 1
    assert Entry.objects.filter(reference="fund:milestone:77").count() == 1
    assert Entry.objects.filter(kind=Entry.Kind.CHARGE).count() == 1
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_fundings_of_one_reference_with_different_keys_charge_once(gateway):
    gateway.reset(delay=0.3)
    payer, payee = UserFactory(), FreelancerFactory()
    spec = HoldSpecFactory(reference="milestone:78", payee=payee)

    results, errors = _run_at_once(2, lambda _: fund(payer, spec))

    assert sorted(type(error).__name__ for error in errors) == ["AlreadyProcessed", "NoneType"]
    assert len(gateway.charges) == 1
    assert Charge.objects.count() == 1
    assert Entry.objects.filter(reference="fund:milestone:78").count() == 1
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_credit_cannot_be_spent_twice_by_concurrent_fundings(gateway):
    payer, payee = UserFactory(), FreelancerFactory()
    _give_credit(payer, payee, Decimal("100.00"))
    gateway.reset(delay=0.2)
    specs = [HoldSpecFactory(reference=f"milestone:c{n}", payee=payee, amount=Decimal("100.00")) for n in range(2)]

    results, errors = _run_at_once(2, lambda index: fund(payer, specs[index], use_credit=True))

    assert errors == [None, None]
    assert sorted(result.credit_used for result in results) == [Decimal("0.00"), Decimal("100.00")]
    assert sorted(result.charged for result in results) == [Decimal("0.00"), Decimal("100.00")]
    assert balance(Kind.USER_CREDIT, user=payer) == 0
    assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_pay_once():
    from escrow.services import hold_release

    payer, payee = UserFactory(), FreelancerFactory()
    fund(payer, HoldSpecFactory(reference="milestone:r", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00")))

    results, errors = _run_at_once(3, lambda _: hold_release(reference="milestone:r", actor=payer))

    assert sum(result is not None for result in results) == 1
    assert [type(error) for error in errors if error] == [AlreadyProcessed, AlreadyProcessed]
    assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("90.00")
    assert_ledger_consistent()
