from decimal import Decimal

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escrow.models import Account
from escrow.selectors import account_balance, hold_balance, hold_balances, user_balances, user_statement
from escrow.services import hold_refund, hold_release
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


class TestStatement:
    def test_rows_newest_first_with_running_balance_per_account(self, payer, payee):
        fund(
            payer,
            HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("500.00"), label="Logo", link_url="/c/1"),
        )
        hold_refund(reference="m:1", amount=Decimal("100.00"), destination="credit", actor=payee)
        hold_release(reference="m:1", actor=payer)

        payer_rows = [
            (row.account.kind, row.entry.memo, row.amount, row.running_balance) for row in user_statement(payer)
        ]
        assert payer_rows == [
            ("user_credit", "Refund to credit: Logo", Decimal("100.00"), Decimal("100.00")),
            ("user_funding", "Paid into escrow: Logo", Decimal("-500.00"), Decimal("0.00")),
            ("user_funding", "Card payment (Visa •••• 4242)", Decimal("500.00"), Decimal("500.00")),
        ]
        (release,) = user_statement(payee)
        assert release.amount == Decimal("360.00")  # 400 left, 10% fee
        assert release.running_balance == Decimal("360.00")
        assert (release.entry.hold.label, release.entry.hold.link_url) == ("Logo", "/c/1")

    def test_running_balance_is_right_on_every_page_in_constant_queries(self, payer, payee):
        for number in range(30):
            fund(
                payer,
                HoldSpecFactory(reference=f"m:{number}", payee=payee, amount=Decimal("10.00"), fee=Decimal("1.00")),
            )
            hold_release(reference=f"m:{number}", actor=payer)

        with CaptureQueriesContext(connection) as queries:
            page = Paginator(user_statement(payee), 25).get_page(2)
            rows = [(row.amount, row.running_balance, row.entry.memo, row.entry.hold.link_url) for row in page]

        assert len(queries) == 2  # count + the page, with entries and holds joined
        assert [balance for _, balance, _, _ in rows] == [
            Decimal("45.00"),
            Decimal("36.00"),
            Decimal("27.00"),
            Decimal("18.00"),
            Decimal("9.00"),
        ]

    def test_only_the_users_own_accounts(self, payer, payee):
        fund(payer, HoldSpecFactory(payee=payee))
        assert not user_statement(payee).exists()
        assert not user_statement(UserFactory()).exists()
