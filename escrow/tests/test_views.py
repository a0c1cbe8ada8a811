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


def test_a_freelancer_sees_earnings_fees_and_the_withdraw_action(client, payer, payee):
    earn(payer, payee)
    client.force_login(payee)

    page = client.get(WALLET).content.decode()

    assert "Available to withdraw" in page and "$450.00" in page
    assert "In escrow for you" in page and "Platform fees" in page and "Earnings by month" in page
    assert "Withdraw earnings" in page and 'name="amount" value="450.00"' in page  # defaults to everything
    earning = re.search(r'<tr data-type="earning">.*?</tr>', page, re.S)[0]
    assert "+$500.00" in earning and "Released from escrow" in earning
    fee = re.search(r'<tr data-type="fee">.*?</tr>', page, re.S)[0]
    assert "-$50.00" in fee and "+$" not in fee
    # Client figures are not a freelancer's business.
    assert "Paid to freelancers" not in page and "Spending by month" not in page and 'data-balance="credit"' not in page
    assert 'href="/wallet/"' in page and ">Wallet</a>" in page


def test_a_client_sees_payments_as_spending_and_no_withdraw(client, payer, payee):
    earn(payer, payee)
    client.force_login(payer)

    page = client.get(WALLET).content.decode()

    payment = re.search(r'<tr data-type="payment">.*?</tr>', page, re.S)[0]
    assert "-$500.00" in payment and "+$" not in payment and "Paid into escrow by" in payment
    released = re.search(r'<tr data-type="released">.*?</tr>', page, re.S)[0]
    assert "$500.00" in released and "for information" in released
    assert "In escrow" in page and "Paid to freelancers" in page and "Spending by month" in page
    assert 'data-balance="paid-out"' in page
    for freelancer_only in ("Available to withdraw", "Withdraw earnings", "In escrow for you", "Earnings by month"):
        assert freelancer_only not in page


def test_someone_with_both_roles_sees_both_labelled(client, payer, payee):
    earn(payer, payee)
    payee.wants_to_hire = True
    payee.save()
    client.force_login(payee)

    page = client.get(WALLET).content.decode()

    assert "Your earnings as a freelancer" in page and "Your payments as a client" in page
    assert "Withdraw earnings" in page and 'data-balance="in-escrow-paid"' in page


def test_the_wallet_shows_only_the_users_own_money(client, payer, payee):
    earn(payer, payee, label="Secret project {n}")
    client.force_login(UserFactory(wants_to_hire=False))

    page = client.get(WALLET).content.decode()

    assert "Secret project" not in page and "$500.00" not in page
    assert "Your wallet is empty." in page and "No transactions yet." in page
    assert "Withdraw earnings" not in page


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


def test_the_history_is_paginated_25_entries_per_page(client, payer, payee):
    earn(payer, payee, count=14, amount="10.00", fee="1.00")  # 28 entries: 14 fundings, 14 releases
    client.force_login(payee)

    first = client.get(WALLET).content.decode()
    second = client.get(WALLET, {"page": 2}).content.decode()

    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count('<tr data-type="earning">') == 13 and first.count('<tr data-type="funded">') == 12
    assert second.count('<tr data-type="funded">') == 2 and second.count('<tr data-type="earning">') == 1


def test_the_wallet_query_count_does_not_grow_with_entries(client, payer, payee):
    earn(payer, payee, count=2, amount="10.00", fee="1.00")
    client.force_login(payee)
    with CaptureQueriesContext(connection) as few:
        client.get(WALLET)

    earn(payer, payee, count=30, amount="10.00", fee="1.00")
    cache.clear()  # the header's unread counts are cached per user: count both as a first visit
    with CaptureQueriesContext(connection) as many:
        assert client.get(WALLET, {"page": 2}).status_code == 200

    # session, user, header unread counts, figures, history count, history page (ids), its entries joined, their
    # postings, their links (contracts: one query), months, payout account
    assert len(many) == len(few) == 11, [query["sql"] for query in many]


def test_the_csv_has_the_same_rows_as_the_pages(client, payer, payee, settings):
    earn(payer, payee, count=30, amount="10.00", fee="1.00", label="=HYPERLINK(1) {n}")
    client.force_login(payee)

    response = client.get(reverse("escrow:statement_csv"))

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="statement.csv"' in response["Content-Disposition"]
    assert response.streaming  # rows go out as the cursor yields them, never built in memory
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "Date", "Type", "Details", "Contract", "Milestone", "Link", "Amount", "Amount (information)", "Reference"
    ]  # fmt: skip
    assert len(rows) == 1 + 30 * 3  # each milestone: funded for you, the earning, the fee
    assert [row[1:3] + row[6:8] for row in rows[1:4]] == [
        ["Earning", "Released from escrow", "10.00", ""],
        ["Platform fee", "The platform's fee on this payment", "-1.00", ""],
        ["Funded for you", "Held in escrow for you until the client approves", "", "10.00"],
    ]
    assert all(row[8] for row in rows[1:])  # the provider's charge id, or our transaction number


def test_the_csv_never_writes_a_live_formula(client, payer, payee, settings):
    settings.ESCROW_REFERENCE_LINKS = {"milestone:": "escrow.tests.test_views.formula_links"}
    earn(payer, payee, count=1)
    client.force_login(payee)

    rows = list(
        csv.reader(io.StringIO(b"".join(client.get(reverse("escrow:statement_csv")).streaming_content).decode()))
    )

    assert rows[1][3:6] == ["'=HYPERLINK(1)", "'+cmd", "http://testserver/contracts/9/#m1"]


def formula_links(references, *, user):
    from escrow.selectors import ReferenceLink

    return {ref: ReferenceLink("=HYPERLINK(1)", "/contracts/9/", "+cmd", "/contracts/9/#m1") for ref in references}


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
