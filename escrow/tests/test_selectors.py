from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escrow.models import Account
from escrow.selectors import account_balance, hold_balance, hold_balances, user_balances, wallet_entries, wallet_rows
from escrow.services import hold_refund, hold_release, hold_release_part, hold_settle
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import fund
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_user_balances_in_one_query(payer, payee):
    other = FreelancerFactory()
    fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00")))
    fund(payer, HoldSpecFactory(reference="m:2", payee=payee, amount=Decimal("200.00"), fee=Decimal("20.00")))
    fund(payer, HoldSpecFactory(reference="m:3", payee=other, amount=Decimal("70.00"), fee=Decimal("7.00")))
    fund(payer, HoldSpecFactory(reference="m:4", payee=payee, amount=Decimal("30.00"), fee=Decimal("3.00")))
    hold_release(reference="m:1", actor=payer)
    hold_refund(reference="m:4", amount=Decimal("30.00"), destination="credit", actor=payee)
    hold_refund(reference="m:2", amount=Decimal("50.00"), destination="credit", actor=payee)

    with CaptureQueriesContext(connection) as queries:
        payee_balances = user_balances(payee)
    assert len(queries) == 1
    assert payee_balances == {
        "available": Decimal("450.00"),
        "credit": Decimal("0.00"),
        "in_escrow_as_payer": Decimal("0.00"),
        "in_escrow_as_payee": Decimal("150.00"),
    }
    assert user_balances(payer) == {
        "available": Decimal("0.00"),
        "credit": Decimal("80.00"),
        "in_escrow_as_payer": Decimal("220.00"),
        "in_escrow_as_payee": Decimal("0.00"),
    }
    assert user_balances(UserFactory()) == dict.fromkeys(payee_balances, Decimal("0.00"))


def test_hold_balances_in_one_query(payer, payee):
    fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("500.00")))
    fund(payer, HoldSpecFactory(reference="m:2", payee=payee, amount=Decimal("200.00")))
    hold_refund(reference="m:2", amount=Decimal("25.00"), destination="credit", actor=payee)
    fund(payer, HoldSpecFactory(reference="m:3", payee=payee, amount=Decimal("10.00"), fee=Decimal("1.00")))
    hold_release(reference="m:3", actor=payer)

    with CaptureQueriesContext(connection) as queries:
        balances = hold_balances(["m:1", "m:2", "m:3", "m:never"])

    assert len(queries) == 1
    assert balances == {
        "m:1": Decimal("500.00"),
        "m:2": Decimal("175.00"),
        "m:3": Decimal("0.00"),
        "m:never": Decimal("0.00"),
    }
    assert hold_balance("m:2") == Decimal("175.00")
    assert hold_balances([]) == {}


def test_account_balance(payer, payee):
    fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("500.00")))
    assert account_balance(Account.objects.get(kind=Account.Kind.ESCROW_HOLD)) == Decimal("500.00")
    assert account_balance(Account.objects.get(kind=Account.Kind.GATEWAY)) == Decimal("-500.00")


class TestWalletRows:
    """The rows each party reads for the money events contracts' story tests do not reach (those are in
    contracts/tests/test_wallet.py): card refunds, part releases and split settlements."""

    @staticmethod
    def rows(user):
        return [(row.type, row.amount, row.effect, row.detail) for row in wallet_rows(wallet_entries(user), user=user)]

    def test_a_refund_to_the_card_is_money_back_for_the_payer(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("500.00")))
        hold_refund(reference="m:1", amount=Decimal("100.00"), destination="card", actor=payee)

        refund, payment = self.rows(payer)
        assert refund == ("refund", Decimal("100.00"), "in", "to your card")
        assert payment[:3] == ("payment", Decimal("-500.00"), "out")
        assert self.rows(payee)[0][:3] == ("refunded_to_client", Decimal("100.00"), "info")

    def test_a_part_release_and_a_split_settlement(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00")))
        hold_release_part(reference="m:1", amount=Decimal("40.00"), actor=payer)
        hold_settle(
            reference="m:1", to_payee=Decimal("20.00"), to_payer=Decimal("40.00"), destination="credit", actor=payer
        )

        assert [row[:3] for row in self.rows(payee)] == [
            ("earning", Decimal("20.00"), "in"),
            ("fee", Decimal("-2.00"), "out"),
            ("refunded_to_client", Decimal("40.00"), "info"),
            ("earning", Decimal("40.00"), "in"),
            ("fee", Decimal("-4.00"), "out"),
            ("funded", Decimal("100.00"), "info"),
        ]
        assert [row[:3] for row in self.rows(payer)] == [
            ("released", Decimal("20.00"), "info"),
            ("refund", Decimal("40.00"), "in"),
            ("released", Decimal("40.00"), "info"),
            ("payment", Decimal("-100.00"), "out"),
        ]

    def test_only_the_users_own_entries(self, payer, payee):
        fund(payer, HoldSpecFactory(payee=payee))
        assert not wallet_entries(UserFactory()).exists()
        assert wallet_entries(payee).count() == wallet_entries(payer).count() == 1  # the card charge is no row


def test_the_planner_prices_random_reads_as_on_ssds_and_compiles_nothing():
    """With PostgreSQL's default random_page_cost (4), a user's holds are joined to their accounts by scanning every
    account on the platform, and JIT compiles the dashboard's totals for longer than they run; settings.py sets both
    on each connection (DATABASE_SESSION_SETTINGS)."""
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
