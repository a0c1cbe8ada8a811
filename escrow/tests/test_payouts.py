import time
from decimal import Decimal

import pytest

from escrow import services
from escrow.models import Account, Entry, Payout
from escrow.selectors import account_balance
from escrow.services import IdempotencyKeyReused, InvalidAmount, PayoutError, hold_release, payout_request
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent, balance, fund, payouts_ready, postings_of, run_at_once
from marketplace.tests.factories import FreelancerFactory, UserFactory

Kind = Account.Kind


def earn(payer, payee, amount="500.00", fee="50.00", reference="milestone:1"):
    """Fund and release a hold: the payee then has amount - fee available."""
    fund(payer, HoldSpecFactory(reference=reference, payee=payee, amount=Decimal(amount), fee=Decimal(fee)))
    hold_release(reference=reference, actor=payer)
    payouts_ready(payee)


@pytest.mark.django_db
class TestPayoutRequest:
    def test_withdraws_earnings_to_the_bank(self, payer, payee):
        earn(payer, payee)

        payout = payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=new_key())

        assert (payout.status, payout.amount, payout.user) == ("paid", Decimal("450.00"), payee)
        assert payout.gateway_payout_id.startswith("po_sandbox_")
        assert postings_of(f"payout:{payout.pk}") == {
            (Kind.USER_AVAILABLE, payee.pk, ""): Decimal("-450.00"),
            (Kind.PAYOUTS, payee.pk, ""): Decimal("450.00"),
        }
        assert balance(Kind.USER_AVAILABLE, user=payee) == 0
        assert_ledger_consistent()

    def test_a_partial_withdrawal_leaves_the_rest(self, payer, payee):
        earn(payer, payee)

        payout_request(user=payee, amount=Decimal("100.00"), idempotency_key=new_key())

        assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("350.00")

    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            ("0.00", "Enter an amount greater than zero."),
            ("-1.00", "Enter an amount greater than zero."),
            ("450.01", "You can withdraw at most $450.00."),
        ],
    )
    def test_limits(self, payer, payee, amount, message):
        earn(payer, payee)

        with pytest.raises(InvalidAmount) as refused:
            payout_request(user=payee, amount=Decimal(amount), idempotency_key=new_key())

        assert refused.value.user_message == message
        assert not Payout.objects.exists()
        assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("450.00")

    def test_nothing_to_withdraw(self, payee):
        payouts_ready(payee)
        with pytest.raises(InvalidAmount, match=r"at most \$0.00"):
            payout_request(user=payee, amount=Decimal("1.00"), idempotency_key=new_key())

    def test_a_replay_returns_the_same_payout(self, payer, payee):
        earn(payer, payee)
        key = new_key()

        first = payout_request(user=payee, amount=Decimal("200.00"), idempotency_key=key)
        second = payout_request(user=payee, amount=Decimal("200.00"), idempotency_key=key)

        assert first == second and Payout.objects.count() == 1
        assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("250.00")

    def test_another_user_cannot_reuse_a_key(self, payer, payee):
        earn(payer, payee)
        key = new_key()
        payout_request(user=payee, amount=Decimal("1.00"), idempotency_key=key)

        with pytest.raises(IdempotencyKeyReused):
            payout_request(user=payer, amount=Decimal("1.00"), idempotency_key=key)

    def test_a_failed_payout_returns_the_money(self, payer, payee):
        earn(payer, payee)
        payouts_ready(payee, bank_account="000111111116")  # the sandbox's failing test bank account
        key = new_key()

        with pytest.raises(PayoutError, match="back in your available balance"):
            payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=key)

        payout = Payout.objects.get()
        assert payout.status == Payout.Status.FAILED
        assert Entry.objects.filter(reference=f"payout-reversal:{payout.pk}").exists()
        assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("450.00")
        with pytest.raises(PayoutError):
            payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=key)
        assert_ledger_consistent()


@pytest.mark.django_db(transaction=True)
def test_two_withdrawals_racing_for_the_whole_balance_pay_once(monkeypatch):
    payer, payee = UserFactory(), FreelancerFactory()
    earn(payer, payee)

    def slow_balance(account):
        # Both requests read the balance before either writes, unless the account lock serialises them.
        balance = account_balance(account)
        time.sleep(0.2)
        return balance

    monkeypatch.setattr(services, "account_balance", slow_balance)

    results, errors = run_at_once(
        2, lambda _: payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=new_key())
    )

    assert sum(result is not None for result in results) == 1
    refused = [error for error in errors if error is not None]
    assert len(refused) == 1 and isinstance(refused[0], InvalidAmount)
    assert refused[0].user_message == "You can withdraw at most $0.00."
    assert Payout.objects.count() == 1
    assert balance(Kind.USER_AVAILABLE, user=payee) == 0
    assert_ledger_consistent()


@pytest.mark.django_db
def test_no_payout_without_a_payout_account(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:9", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00")))
    hold_release(reference="milestone:9", actor=payer)

    with pytest.raises(PayoutError, match="Set up your payout account"):
        payout_request(user=payee, amount=Decimal("90.00"), idempotency_key=new_key())

    assert Payout.objects.count() == 0 and balance(Kind.USER_AVAILABLE, user=payee) == Decimal("90.00")
