from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from escrow.ledger import account_get, entry_post
from escrow.models import Account, Entry, Hold, ImmutableRecordError, Posting
from escrow.services import AlreadyProcessed, hold_release
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import fund

Kind = Account.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def two_accounts(payer, payee):
    return account_get(Kind.USER_CREDIT, user=payer), account_get(Kind.USER_AVAILABLE, user=payee)


class TestEntryPost:
    def test_writes_a_balanced_entry(self, two_accounts):
        credit, available = two_accounts

        entry = entry_post(
            reference="test:1",
            kind=Entry.Kind.BONUS,
            memo="A test",
            postings=[(credit, Decimal("-10.00")), (available, Decimal("10.00"))],
        )

        assert list(entry.postings.values_list("account", "amount")) == [
            (credit.pk, Decimal("-10.00")),
            (available.pk, Decimal("10.00")),
        ]

    @pytest.mark.parametrize(
        "amounts",
        [
            [Decimal("-10.00"), Decimal("9.99")],  # does not sum to zero
            [Decimal("0.00")],  # one posting
            [],
            [Decimal("0.00"), Decimal("0.00")],  # zero postings are refused too
        ],
    )
    def test_refuses_unbalanced_or_degenerate_entries(self, two_accounts, amounts):
        accounts = list(two_accounts)
        with pytest.raises(ValueError):
            entry_post(
                reference="test:2",
                kind=Entry.Kind.BONUS,
                memo="Bad",
                postings=[(accounts[i % 2], amount) for i, amount in enumerate(amounts)],
            )
        assert not Entry.objects.exists()

    def test_a_duplicate_reference_is_already_processed_and_the_transaction_survives(self, two_accounts):
        credit, available = two_accounts
        postings = [(credit, Decimal("-1.00")), (available, Decimal("1.00"))]
        entry_post(reference="test:3", kind=Entry.Kind.BONUS, memo="Once", postings=postings)

        with transaction.atomic():
            with pytest.raises(AlreadyProcessed):
                entry_post(reference="test:3", kind=Entry.Kind.BONUS, memo="Twice", postings=postings)
            assert Entry.objects.count() == 1  # still usable: the duplicate only rolled back a savepoint
        assert Posting.objects.count() == 2


class TestImmutability:
    @pytest.fixture
    def entry(self, payer, payee):
        fund(payer, HoldSpecFactory(reference="milestone:1", payee=payee))
        return Entry.objects.get(reference="fund:milestone:1")

    def test_saving_an_existing_entry_or_posting_is_refused(self, entry):
        entry.memo = "Changed"
        with pytest.raises(ImmutableRecordError):
            entry.save()
        posting = entry.postings.first()
        posting.amount = Decimal("1.00")
        with pytest.raises(ImmutableRecordError):
            posting.save()
        hold = Hold.objects.get()
        hold.amount = Decimal("1.00")
        with pytest.raises(ImmutableRecordError):
            hold.save()

    def test_deleting_is_refused(self, entry):
        with pytest.raises(ImmutableRecordError):
            entry.delete()
        with pytest.raises(ImmutableRecordError):
            entry.postings.first().delete()
        with pytest.raises(ImmutableRecordError):
            Hold.objects.get().delete()

    @pytest.mark.parametrize("model", [Entry, Posting, Hold, Account])
    def test_queryset_update_and_delete_are_refused(self, entry, model):
        with pytest.raises(ImmutableRecordError):
            model.objects.all().delete()
        with pytest.raises(ImmutableRecordError):
            model.objects.filter(pk__gt=0).update(pk=0)
        with pytest.raises(ImmutableRecordError):
            model.objects.bulk_update(list(model.objects.all()), ["pk"])
        assert model.objects.exists()

    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE escrow_posting SET amount = amount * 2",
            "DELETE FROM escrow_posting",
            "UPDATE escrow_entry SET memo = 'rewritten'",
            "DELETE FROM escrow_hold",
            "UPDATE escrow_walletline SET user_id = user_id",
            "DELETE FROM escrow_walletline",
        ],
    )
    def test_the_database_refuses_raw_updates_and_deletes(self, entry, sql):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
        assert Entry.objects.get(pk=entry.pk).memo == entry.memo

    def test_a_zero_posting_is_refused_by_the_database(self, entry):
        with pytest.raises(IntegrityError), transaction.atomic():
            Posting.objects.create(entry=entry, account=entry.postings.first().account, amount=Decimal("0.00"))


def test_the_database_refuses_a_second_release_even_if_the_service_is_bypassed(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:8", payee=payee))
    hold_release(reference="milestone:8", actor=payer)

    with pytest.raises(IntegrityError):
        Entry.objects.create(
            reference="release:milestone:8", kind=Entry.Kind.RELEASE, memo="Sneaky", hold=Hold.objects.get()
        )


def test_accounts_are_unique_per_kind_user_and_reference(payer):
    account_get(Kind.USER_CREDIT, user=payer)
    account_get(Kind.USER_CREDIT, user=payer)
    account_get(Kind.GATEWAY)
    account_get(Kind.GATEWAY)
    assert Account.objects.count() == 2

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Kind.GATEWAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Kind.USER_CREDIT, user=payer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind=Kind.USER_CREDIT)  # a user account needs its user
