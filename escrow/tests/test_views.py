import csv
import io
import itertools
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from escrow.models import Payout
from escrow.selectors import user_balances
from escrow.services import hold_release
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import assert_ledger_consistent, fund
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db
REFERENCES = itertools.count(1)
WALLET = reverse("escrow:wallet")
WITHDRAW = reverse("escrow:withdraw")


def earn(payer, payee, count=1, amount="500.00", fee="50.00", label="Logo design — Milestone {n}"):
    for n in range(1, count + 1):
        spec = HoldSpecFactory(
            reference=f"milestone:{next(REFERENCES)}",
            payee=payee,
            amount=Decimal(amount),
            fee=Decimal(fee),
            label=label.format(n=n),
            link_url=f"/contracts/9/#m{n}",
        )
        fund(payer, spec)
        hold_release(reference=spec.reference, actor=payer)
    from escrow.tests.helpers import payouts_ready

    payouts_ready(payee)


def test_login_required(client):
    for url in (WALLET, reverse("escrow:statement_csv")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url
    assert client.post(WITHDRAW, {"amount": "1"}).status_code == 302


def test_the_wallet_shows_balances_and_the_statement(client, payer, payee):
    earn(payer, payee)
    client.force_login(payee)

    page = client.get(WALLET).content.decode()

    assert "Available to withdraw" in page and "$450.00" in page
    assert "Released from escrow: Logo design — Milestone 1 (after a $50.00 platform fee)" in page
    assert 'href="/contracts/9/#m1"' in page
    assert 'name="amount" value="450.00"' in page  # the withdraw form defaults to everything available
    assert 'href="/wallet/"' in page and ">Wallet</a>" in page


def test_the_wallet_shows_only_the_users_own_money(client, payer, payee):
    earn(payer, payee, label="Secret project {n}")
    client.force_login(UserFactory())

    page = client.get(WALLET).content.decode()

    assert "Secret project" not in page
    assert "No payments yet." in page
    assert "Nothing to withdraw yet." in page


def test_dates_are_shown_in_the_users_timezone(client, payer, payee):
    import datetime

    import time_machine

    with time_machine.travel(datetime.datetime(2026, 3, 10, 23, 30, tzinfo=datetime.UTC), tick=False):
        earn(payer, payee)
    payee.timezone = "Asia/Tokyo"
    payee.save()
    client.force_login(payee)

    page = client.get(WALLET).content.decode()

    assert "Mar 11, 2026" in page and "08:30" in page


def test_the_statement_is_paginated_25_per_page(client, payer, payee):
    earn(payer, payee, count=27, amount="10.00", fee="1.00")
    client.force_login(payee)

    first = client.get(WALLET).content.decode()
    second = client.get(WALLET, {"page": 2}).content.decode()

    assert "Page 1 of 2" in first and "Milestone 27" in first and "Milestone 2 " not in first
    assert "Page 2 of 2" in second and "Milestone 1 " in second and "Milestone 2 " in second
    assert len(re.findall(r"<tr>", first)) == 26  # header + 25


def test_the_wallet_query_count_does_not_grow_with_entries(client, payer, payee):
    earn(payer, payee, count=2, amount="10.00", fee="1.00")
    client.force_login(payee)
    with CaptureQueriesContext(connection) as few:
        client.get(WALLET)

    earn(payer, payee, count=30, amount="10.00", fee="1.00")
    cache.clear()  # the header's unread counts are cached per user: count both as a first visit
    with CaptureQueriesContext(connection) as many:
        assert client.get(WALLET, {"page": 2}).status_code == 200

    # session, user, header unread counts, balances, payout account, statement count, statement page
    assert len(many) == len(few) == 7, [query["sql"] for query in many]


def test_the_csv_has_every_row(client, payer, payee):
    earn(payer, payee, count=30, amount="10.00", fee="1.00", label="=HYPERLINK(1) {n}")
    client.force_login(payee)

    response = client.get(reverse("escrow:statement_csv"))

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="statement.csv"' in response["Content-Disposition"]
    assert response.streaming  # rows go out as the cursor yields them, never built in memory
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Date", "Account", "Description", "For", "Link", "Amount", "Balance"]
    assert len(rows) == 31
    assert rows[1][1:] == [
        "Earnings",
        "Released from escrow: =HYPERLINK(1) 30 (after a $1.00 platform fee)",
        "'=HYPERLINK(1) 30",  # never a live formula in a spreadsheet
        "http://testserver/contracts/9/#m30",
        "9.00",
        "270.00",
    ]


class TestWithdraw:
    def test_asks_for_confirmation_then_pays_out(self, client, payer, payee):
        earn(payer, payee)
        client.force_login(payee)

        confirm = client.post(WITHDRAW, {"amount": "450.00"})
        assert confirm.status_code == 200
        page = confirm.content.decode()
        assert "Withdraw $450.00?" in page and not Payout.objects.exists()
        key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page)[1]

        data = {"amount": "450.00", "confirm": "yes", "idempotency_key": key}
        done = client.post(WITHDRAW, data, follow=True)
        client.post(WITHDRAW, data)  # a double click on "Confirm" pays once

        assert "$450.00 is on its way to your bank account." in done.content.decode()
        assert Payout.objects.get().amount == Decimal("450.00")
        assert user_balances(payee)["available"] == 0
        assert_ledger_consistent()

    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            ("0", "Enter an amount greater than zero."),
            ("450.01", "You can withdraw at most $450.00."),
            ("", "required"),
        ],
    )
    def test_errors_show_next_to_the_field(self, client, payer, payee, amount, message):
        earn(payer, payee)
        client.force_login(payee)

        response = client.post(WITHDRAW, {"amount": amount})

        assert response.status_code == 400
        page = response.content.decode()
        assert re.search(r'id="error_1_id_amount"[^>]*>.*' + re.escape(message), page, re.S)
        assert not Payout.objects.exists()

    def test_a_balance_spent_meanwhile_is_refused_at_confirmation(self, client, payer, payee):
        earn(payer, payee)
        client.force_login(payee)
        from escrow.services import payout_request

        payout_request(user=payee, amount=Decimal("400.00"), idempotency_key="elsewhere")
        response = client.post(WITHDRAW, {"amount": "450.00", "confirm": "yes", "idempotency_key": "a" * 32})

        assert response.status_code == 400
        assert "You can withdraw at most $50.00." in response.content.decode()
        assert Payout.objects.count() == 1


def test_another_freelancer_sees_their_own_balance(client, payer):
    one, two = FreelancerFactory(), FreelancerFactory()
    earn(payer, one)
    client.force_login(two)
    assert "$450.00" not in client.get(WALLET).content.decode()
