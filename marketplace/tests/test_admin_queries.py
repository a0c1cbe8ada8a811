"""Admin pages over tables that grow with the platform: a constant number of queries, whatever the size.

Each change page is measured twice, with a few rows and with many more (past one inline page); the
query count must not move. Changelists must not count whole tables once they are large.
"""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.models import ContractEvent, Milestone
from contracts.tests.factories import fund_milestones, make_contract
from escrow.models import Account, Entry, Hold
from marketplace import admin_paging
from marketplace.tests.factories import UserFactory
from messaging.tests.factories import make_thread, post_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def queries_for(client, url, **params) -> tuple[int, str]:
    client.get(url, params)  # the first view of a page fills per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def add_events(contract, milestone, count):
    ContractEvent.objects.bulk_create(
        ContractEvent(contract=contract, milestone=milestone, actor=contract.client, kind="fund", note=f"n{i}")
        for i in range(count)
    )


def test_contract_change_page_costs_the_same_with_3_or_300_events(staff_client):
    contract = make_contract(count=3)
    milestone = contract.milestones.first()
    url = reverse("admin:contracts_contract_change", args=[contract.pk])
    few, _ = queries_for(staff_client, url)

    add_events(contract, milestone, 300)
    many, body = queries_for(staff_client, url)

    assert many == few
    assert body.count('class="field-note"') == admin_paging.PaginatedInline.per_page  # one page, newest first
    assert "next page</a>" in body
    page_two, body_two = queries_for(staff_client, url, **{"events-page": 2})
    assert page_two == few and "previous page</a>" in body_two


def test_contract_change_page_costs_the_same_with_3_or_60_milestones(staff_client):
    contract = make_contract(count=3)
    url = reverse("admin:contracts_contract_change", args=[contract.pk])
    few, _ = queries_for(staff_client, url)

    Milestone.objects.bulk_create(
        Milestone(
            contract=contract, position=position, title=f"Part {position}", amount=10, fee=1, due_date=date(2027, 1, 1)
        )
        for position in range(4, 61)
    )
    many, body = queries_for(staff_client, url)

    assert many == few
    assert body.count('class="field-position"') == admin_paging.PaginatedInline.per_page  # in order, a page at a time
    assert "Part 4<" in body and "Part 25<" in body and "Part 26<" not in body
    page_three, body_three = queries_for(staff_client, url, **{"milestones-page": 3})
    assert page_three == few and "Part 60<" in body_three and "Part 50<" not in body_three


def test_milestone_change_page_costs_the_same_with_3_or_300_events(staff_client):
    contract = make_contract(count=2)
    milestone = contract.milestones.first()
    url = reverse("admin:contracts_milestone_change", args=[milestone.pk])
    add_events(contract, milestone, 3)
    few, _ = queries_for(staff_client, url)

    add_events(contract, milestone, 297)
    many, body = queries_for(staff_client, url)

    assert many == few
    assert "next page</a>" in body


def test_thread_change_page_costs_the_same_with_3_or_300_messages(staff_client, client_user, freelancer):
    thread = make_thread(people=[client_user, freelancer])
    post_messages(thread, freelancer, 3)
    url = reverse("admin:messaging_thread_change", args=[thread.pk])
    few, _ = queries_for(staff_client, url)

    post_messages(thread, client_user, 300, prefix="Later")
    many, body = queries_for(staff_client, url)

    assert many == few
    assert "Later 300" in body and "Later 250" not in body  # the newest page only
    assert "next page</a>" in body


def test_entry_and_hold_change_pages_cost_the_same_for_a_small_or_a_large_ledger(staff_client):
    contract = make_contract(count=1)
    fund_milestones(contract, *contract.milestones.all())
    entry = Entry.objects.get(kind=Entry.Kind.FUND)
    hold = Hold.objects.get()
    pages = [
        reverse("admin:escrow_entry_change", args=[entry.pk]),
        reverse("admin:escrow_hold_change", args=[hold.pk]),
        reverse("admin:escrow_account_change", args=[Account.objects.get(hold=hold).pk]),
    ]
    small = [queries_for(staff_client, url)[0] for url in pages]

    bigger = make_contract(count=20)
    fund_milestones(bigger, *bigger.milestones.all())
    large = [queries_for(staff_client, url)[0] for url in pages]

    assert large == small


BIG_CHANGELISTS = [
    "admin:escrow_entry_changelist",
    "admin:escrow_posting_changelist",
    "admin:escrow_account_changelist",
    "admin:contracts_milestone_changelist",
    "admin:contracts_contractevent_changelist",
    "admin:messaging_message_changelist",
    "admin:messaging_notification_changelist",
]


@pytest.mark.parametrize("name", BIG_CHANGELISTS)
def test_changelists_of_large_tables_do_not_count_the_table(staff_client, monkeypatch, name):
    contract = make_contract(count=3)
    fund_milestones(contract, *contract.milestones.all())
    monkeypatch.setattr(admin_paging, "EXACT_BELOW", 1)  # every table counts as large here

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse(name))

    assert response.status_code == 200
    sql = [query["sql"].upper() for query in queries]
    assert not [s for s in sql if "COUNT(" in s and "EXPLAIN" not in s], sql
    assert any(s.startswith("EXPLAIN") for s in sql)  # the planner's estimate instead


def test_small_results_are_still_counted_exactly(staff_client):
    contract = make_contract(count=3)
    fund_milestones(contract, *contract.milestones.all())

    body = staff_client.get(reverse("admin:escrow_entry_changelist")).content.decode()

    assert f"{Entry.objects.count()} entries" in body
