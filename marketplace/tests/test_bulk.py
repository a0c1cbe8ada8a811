"""marketplace.bulk.insert_rows: rows inserted as bulk_create would insert them, with their defaults and ids."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.models import ContractEvent
from contracts.tests.factories import make_contract
from escrow.ledger import account_get, entry_post
from escrow.models import Account, Entry, Transfer
from marketplace.bulk import insert_rows

pytestmark = pytest.mark.django_db


def test_rows_get_the_defaults_bulk_create_would_give_and_their_ids_back(client_user, freelancer):
    contract = make_contract(client=client_user, freelancer=freelancer, count=1)
    milestone = contract.milestones.get()
    before = timezone.now()
    data = {"released": Decimal("90.00"), "fee": "10.00"}

    ids = insert_rows(
        ContractEvent,
        ("contract_id", "milestone_id", "actor_id", "kind", "data", "created_at"),
        [
            (contract.pk, milestone.pk, None, "release", data, before),
            (contract.pk, None, freelancer.pk, "note", {}, before),
        ],
        returning=("id", "kind"),
    )

    events = {event.pk: event for event in ContractEvent.objects.filter(pk__in=[pk for pk, _kind in ids])}
    assert [(pk, events[pk].kind) for pk, _kind in ids] == ids  # in the order given
    first, second = (events[pk] for pk, _kind in ids)
    assert first.data == {"released": "90.00", "fee": "10.00"}  # JSON, through the field's encoder
    assert (first.milestone_id, first.actor_id, first.note, first.from_state) == (milestone.pk, None, "", "")
    assert (second.milestone_id, second.actor_id, second.data) == (None, freelancer.pk, {})


def bonus(user, amount: str) -> Entry:
    return entry_post(
        reference=f"bonus:{amount}",
        kind=Entry.Kind.BONUS,
        memo="A bonus",
        postings=[
            (account_get(Account.Kind.USER_AVAILABLE, user=user), Decimal(amount)),
            (account_get(Account.Kind.GATEWAY), -Decimal(amount)),
        ],
    )


def test_columns_left_out_get_their_field_default_and_nothing_is_asked_back(freelancer):
    entry_ids = [bonus(freelancer, "5.00").pk, bonus(freelancer, "7.00").pk]
    started = timezone.now()

    assert insert_rows(Transfer, ("entry_id", "payee_id", "amount", "currency"), []) == []
    rows = insert_rows(
        Transfer,
        ("entry_id", "payee_id", "amount", "currency"),
        [(pk, freelancer.pk, Decimal(amount), "USD") for pk, amount in zip(entry_ids, ["5.00", "7.00"], strict=True)],
    )

    assert rows == [(), ()]
    transfers = list(Transfer.objects.filter(entry_id__in=entry_ids).order_by("entry_id"))
    assert [t.amount for t in transfers] == [Decimal("5.00"), Decimal("7.00")]
    assert {(t.status, t.provider, t.provider_transfer_id, t.sent_at) for t in transfers} == {
        (Transfer.Status.PENDING, "", "", None)
    }
    assert all(t.created_at >= started for t in transfers)


def test_any_finds_what_in_finds_by_ids_strings_and_instances(client_user, freelancer):
    """`__any` (one array parameter) matches the same rows as `__in`, for ids, strings and model instances, in a
    filter and an UPDATE; with no values nothing matches."""
    contract = make_contract(client=client_user, freelancer=freelancer, count=3)
    milestones = list(contract.milestones.order_by("pk"))
    chosen, ids = milestones[:2], [m.pk for m in milestones[:2]]
    query = contract.milestones.order_by("pk")

    assert list(query.filter(pk__any=ids)) == list(query.filter(pk__in=ids)) == chosen
    assert list(query.filter(title__any=[m.title for m in chosen])) == chosen
    for milestone in milestones:
        ContractEvent.objects.create(contract=contract, milestone=milestone, kind="note")
    events = ContractEvent.objects.order_by("pk")
    assert list(events.filter(milestone__any=chosen)) == list(events.filter(milestone__in=chosen))
    assert {event.milestone for event in events.filter(milestone__any=chosen)} == set(chosen)
    assert list(query.filter(pk__any=[])) == []
    assert list(query.filter(pk__any=[*ids, None])) == chosen  # a NULL among the values matches nothing

    assert contract.milestones.filter(pk__any=ids).update(title="Renamed") == 2
    assert [m.title for m in query] == ["Renamed", "Renamed", milestones[2].title]


def test_any_sends_one_array_on_postgresql(client_user, freelancer):
    contract = make_contract(client=client_user, freelancer=freelancer, count=3)
    ids = list(contract.milestones.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as captured:
        list(contract.milestones.filter(pk__any=ids))
    sql = captured.captured_queries[-1]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and " IN (" not in sql
    else:
        assert " IN (" in sql
