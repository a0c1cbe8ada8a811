"""The wallet read through a real contract: each party's rows, from their own point of view, linked to the
contract and milestone (escrow.selectors wallet_*, with contracts.selectors.wallet_reference_links)."""

from decimal import Decimal

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contracts import services
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.sandbox.testing import pay
from escrow.selectors import RowType, balances_summary, wallet_entries, wallet_months, wallet_rows, wallet_summary
from escrow.services import payout_request
from escrow.tests.factories import new_key
from escrow.tests.helpers import payouts_ready
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = Decimal


def rows_of(user):
    return [(row.type, row.amount, row.effect) for row in wallet_rows(wallet_entries(user), user=user)]


@pytest.fixture
def story(assert_ledger_consistent):
    """A client pays two $100 milestones by card, approves one (a $10 fee), the freelancer refunds the other
    (to the client's credit), the client funds the third from that credit, pays a $20 bonus, and the
    freelancer withdraws $50."""
    contract = make_contract(count=3, amount="100.00")
    m1, m2, m3 = contract.milestones.order_by("position")
    fund_milestones(contract, m1, m2)
    act(milestone_id=m1.pk, actor=contract.freelancer, name="submit")
    act(milestone_id=m1.pk, actor=contract.client, name="approve")
    act(milestone_id=m2.pk, actor=contract.freelancer, name="refund")
    key = new_key()
    services.milestones_fund(
        contract_id=contract.pk, milestone_ids=[m3.pk], actor=contract.client, idempotency_key=key, use_credit=True
    )
    pay(services.milestone_bonus(milestone_id=m1.pk, actor=contract.client, amount="20.00", idempotency_key=new_key()))
    payouts_ready(contract.freelancer)
    payout_request(user=contract.freelancer, amount=D("50.00"), idempotency_key="w1")
    assert_ledger_consistent()
    return contract, (m1, m2, m3)


def test_the_client_sees_payments_as_money_paid_and_refunds_as_money_back(story):
    contract, _ = story

    assert rows_of(contract.client) == [  # newest first
        (RowType.BONUS_PAID, D("-20.00"), "out"),
        (RowType.PAYMENT, D("-100.00"), "out"),  # the third milestone, from credit
        (RowType.CREDIT_USED, D("100.00"), "info"),
        (RowType.REFUND, D("100.00"), "in"),
        (RowType.RELEASED, D("100.00"), "info"),
        (RowType.PAYMENT, D("-100.00"), "out"),
        (RowType.PAYMENT, D("-100.00"), "out"),
    ]


def test_the_freelancer_sees_earnings_fees_and_withdrawals(story):
    contract, _ = story

    assert rows_of(contract.freelancer) == [
        (RowType.WITHDRAWAL, D("-50.00"), "out"),
        (RowType.BONUS, D("20.00"), "in"),
        (RowType.FEE, D("-2.00"), "out"),
        (RowType.FUNDED, D("100.00"), "info"),
        (RowType.REFUNDED_TO_CLIENT, D("100.00"), "info"),
        (RowType.EARNING, D("100.00"), "in"),
        (RowType.FEE, D("-10.00"), "out"),
        (RowType.FUNDED, D("100.00"), "info"),
        (RowType.FUNDED, D("100.00"), "info"),
    ]


def test_rows_link_to_the_contract_and_milestone_and_say_how_it_was_paid(story):
    contract, (m1, _m2, m3) = story
    rows = wallet_rows(wallet_entries(contract.client), user=contract.client)
    bonus, from_credit, _used, refund, released, *_ = rows

    assert bonus.link.item_url == m1.get_absolute_url() and bonus.link.group == contract.title
    assert from_credit.link.item == m3.title and from_credit.link.group_url == contract.get_absolute_url()
    assert from_credit.detail == "Paid into escrow from your credit"
    assert rows[-1].detail.startswith("Paid into escrow by ")
    assert refund.detail == "to your credit"
    assert released.detail == f"Released from escrow to {contract.freelancer.get_full_name()}"
    assert all(row.reference for row in rows)


def test_a_stranger_sees_nothing_and_no_link_to_other_peoples_contracts(story):
    contract, _ = story
    stranger = UserFactory()

    assert rows_of(stranger) == []
    from contracts.selectors import wallet_reference_links

    assert wallet_reference_links([f"milestone:{contract.milestones.first().pk}"], user=stranger) == {}


def test_the_summary_has_each_roles_figures(story):
    contract, _ = story

    client = wallet_summary(contract.client)
    assert (client["in_escrow"], client["paid_out"], client["credit"]) == (D("100.00"), D("120.00"), D("0.00"))
    assert client["as_client"] and not client["as_freelancer"]

    freelancer = wallet_summary(contract.freelancer)
    assert freelancer["available"] == D("58.00")  # 90 + 18 - 50
    assert (freelancer["pending"], freelancer["earned"], freelancer["fees"]) == (D("100.00"), D("108.00"), D("12.00"))
    assert freelancer["withdrawn"] == D("50.00")
    assert freelancer["as_freelancer"] and not freelancer["as_client"]


BALANCES = ("available", "credit", "in_escrow", "pending", "as_client", "as_freelancer")


def test_the_dashboards_balances_are_the_wallets_in_one_query(story):
    contract, _ = story
    former_freelancer = contract.freelancer
    former_freelancer.wants_to_work = False  # still has earnings: still sees them
    people = [contract.client, former_freelancer, UserFactory(), UserFactory(wants_to_hire=False, wants_to_work=True)]

    for user in people:
        wallet = wallet_summary(user)
        with CaptureQueriesContext(connection) as queries:
            dashboard = balances_summary(user)
        assert len(queries) == 1
        assert dashboard == {name: wallet[name] for name in BALANCES}
    assert balances_summary(former_freelancer)["as_freelancer"]
    assert balances_summary(contract.client)["in_escrow"] == D("100.00")


def test_the_months_add_up_this_months_earnings_and_spending(story):
    contract, _ = story

    *earlier, now = wallet_months(contract.client)
    assert len(earlier) == 11 and all(month.spent == 0 for month in earlier)
    assert now.spent == D("320.00")  # three payments and the bonus
    assert wallet_months(contract.freelancer)[-1].earned == D("108.00")


def test_a_page_of_rows_costs_a_fixed_number_of_queries(django_assert_max_num_queries, story):
    contract, _ = story
    for _ in range(3):
        more = make_contract(client=contract.client, freelancer=contract.freelancer, count=2)
        fund_milestones(more, *more.milestones.all())

    page = Paginator(wallet_entries(contract.client), 5).get_page(2)
    with django_assert_max_num_queries(4):  # count, page, postings, links
        rows = wallet_rows(page.object_list, user=contract.client)
    assert rows
