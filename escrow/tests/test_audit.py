import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum

from escrow import audit
from escrow.audit import run_audit
from escrow.ledger import account_get, entry_post, wallet_lines_rebuild
from escrow.models import (
    Account,
    AuditedBalance,
    AuditedEntry,
    AuditedHold,
    AuditedIntent,
    AuditedRows,
    AuditGap,
    AuditMark,
    Entry,
    Hold,
    PaymentIntent,
    Payout,
    Posting,
    WalletLine,
)
from escrow.payments import payment_refresh, payment_start_bonus
from escrow.sandbox import engine
from escrow.services import hold_refund, hold_release, payout_request
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import fund
from marketplace.tests.factories import UserFactory

Kind = Account.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_ledger(payer, payee):
    """Every kind of money movement, once."""
    fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00")))
    fund(payer, HoldSpecFactory(reference="m:2", payee=payee, amount=Decimal("300.00"), fee=Decimal("30.00")))
    hold_refund(reference="m:2", amount=Decimal("100.00"), destination="credit", actor=payee)
    hold_refund(reference="m:2", amount=Decimal("50.00"), destination="card", actor=payee)
    hold_release(reference="m:1", actor=payer)
    fund(payer, HoldSpecFactory(reference="m:3", payee=payee, amount=Decimal("60.00")), use_credit=True)
    bonus = payment_start_bonus(
        payer=payer,
        payee=payee,
        amount=Decimal("20.00"),
        fee=Decimal("2.00"),
        reference="b:1",
        label="Thanks",
        idempotency_key=new_key(),
    )
    engine.checkout_pay(bonus.provider_id, number="4242424242424242", exp_month=12, exp_year=2099, cvc="123")
    payment_refresh(intent_id=bonus.pk)
    fund(payer, HoldSpecFactory(reference="m:4", payee=payee), card="4000 0000 0000 0002")  # declined
    from escrow.tests.helpers import payouts_ready

    payouts_ready(payee)
    payout_request(user=payee, amount=Decimal("100.00"), idempotency_key=new_key())
    return payer, payee


def test_a_consistent_ledger_passes(busy_ledger, capsys):
    assert run_audit() == []

    call_command("escrow_audit")
    assert "The escrow ledger is consistent" in capsys.readouterr().out


def test_an_unbalanced_posting_inserted_with_raw_sql_is_reported(busy_ledger):
    entry = Entry.objects.get(reference="fund:m:1")
    gateway = account_get(Kind.GATEWAY)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO escrow_posting (entry_id, account_id, amount) VALUES (%s, %s, %s)",
            [entry.pk, gateway.pk, Decimal("7.00")],
        )

    violations = run_audit()

    assert "Entry fund:m:1 does not balance: its 3 posting(s) sum to $7.00." in violations
    assert "All postings together sum to $7.00, not zero." in violations


def test_the_command_lists_violations_and_exits_non_zero(busy_ledger, capsys):
    Hold.objects.create(
        reference="m:ghost", payer=busy_ledger[0], payee=busy_ledger[1], amount=Decimal("5.00"), fee=0, label="Ghost"
    )

    with pytest.raises(CommandError, match="1 violation"):
        call_command("escrow_audit")
    assert "Hold m:ghost has 0 funding entries; it must have exactly one." in capsys.readouterr().err

    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(["manage.py", "escrow_audit"]).execute()
    assert exit_.value.code == 1


def test_negative_balances_and_unsettled_funding_are_reported(payer, payee):
    # Balanced entries, but money that was never there.
    entry_post(
        reference="bad:1",
        kind=Entry.Kind.BONUS,
        memo="Overdraft",
        postings=[(account_get(Kind.USER_AVAILABLE, user=payee), Decimal("-5.00")), (account_get(Kind.GATEWAY), 5)],
    )
    entry_post(
        reference="bad:2",
        kind=Entry.Kind.CHARGE,
        memo="Stuck",
        postings=[(account_get(Kind.GATEWAY), Decimal("-3.00")), (account_get(Kind.USER_FUNDING, user=payer), 3)],
    )

    violations = run_audit()

    assert f"Earnings of {payee} has a negative balance: -$5.00." in violations
    assert f"Payments of {payer} is not settled: $3.00 is left over." in violations


def test_a_second_release_under_another_reference_and_a_non_empty_released_hold_are_reported(payer, payee):
    fund(payer, HoldSpecFactory(reference="m:1", payee=payee, amount=Decimal("100.00"), fee=Decimal("0.00")))
    hold = Hold.objects.get()
    escrow = account_get(Kind.ESCROW_HOLD, hold=hold)
    available = account_get(Kind.USER_AVAILABLE, user=payee)
    for reference in ("release:m:1", "release:m:1:again"):
        entry_post(
            reference=reference,
            kind=Entry.Kind.RELEASE,
            memo="Half",
            postings=[(escrow, Decimal("-40.00")), (available, Decimal("40.00"))],
            hold=hold,
        )

    violations = run_audit()

    assert "Hold m:1 was released or settled 2 times." in violations
    assert "Hold m:1 was released or settled but still holds $20.00." in violations


def test_payouts_missing_from_the_ledger_are_reported(payer, payee):
    payout = Payout.objects.create(
        idempotency_key="p", user=payee, amount=Decimal("4.00"), currency="USD", status=Payout.Status.PAID
    )

    violations = run_audit()

    assert f"Payout #{payout.pk} ($4.00) has no ledger entry." in violations


def test_a_payout_pending_for_over_an_hour_is_reported(payee):
    from datetime import timedelta

    from django.utils import timezone

    recent = Payout.objects.create(idempotency_key="p1", user=payee, amount=Decimal("4.00"), currency="USD")
    stuck = Payout.objects.create(
        idempotency_key="p2",
        user=payee,
        amount=Decimal("5.00"),
        currency="USD",
        created_at=timezone.now() - timedelta(hours=2),
    )

    violations = [v for v in run_audit() if "pending since" in v]

    assert len(violations) == 1 and violations[0].startswith(f"Payout #{stuck.pk} ($5.00) has been pending since")
    assert f"#{recent.pk} " not in violations[0]


def failing_check():
    return ["Milestone 7 is released but its hold is not."]


def test_other_apps_add_checks_through_the_setting(settings, db):
    settings.ESCROW_AUDIT_CHECKS = ["escrow.tests.test_audit.failing_check"]

    assert run_audit() == ["Milestone 7 is released but its hold is not."]
    with pytest.raises(CommandError):
        call_command("escrow_audit")


def raw_entry(reference: str, hold: Hold, postings: list[tuple[Account, str]]) -> Entry:
    """An entry and its postings written past escrow.ledger, so without wallet lines (appending is all the database
    allows)."""
    entry = Entry.objects.create(reference=reference, kind=Entry.Kind.PARTIAL_RELEASE, memo="Raw", hold=hold)
    with connection.cursor() as cursor:
        for account, amount in postings:
            cursor.execute(
                "INSERT INTO escrow_posting (entry_id, account_id, amount) VALUES (%s, %s, %s)",
                [entry.pk, account.pk, Decimal(amount)],
            )
    return entry


def stray_line(user, entry: Entry) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO escrow_walletline (user_id, entry_id, created_at) VALUES (%s, %s, %s)",
            [user.pk, entry.pk, entry.created_at],
        )


def wallet_violations() -> list[str]:
    return [violation for violation in run_audit() if "wallet" in violation]


def test_the_wallet_lines_are_derived_again_and_a_missing_or_stray_line_is_reported(busy_ledger):
    """The wallet lines index the entries for each wallet (written with them); the audit re-derives the index,
    and the backfill (the migration's, or after a bulk load) writes exactly what is missing."""
    payer, payee = busy_ledger
    release = Entry.objects.get(reference="release:m:1")
    assert set(WalletLine.objects.filter(entry=release).values_list("user_id", flat=True)) == {payer.pk, payee.pk}
    assert not WalletLine.objects.filter(entry__kind=Entry.Kind.CHARGE).exists()  # a card charge is no wallet row
    hold = Hold.objects.get(reference="m:3")
    raw = raw_entry(
        "raw:1",
        hold,
        [(account_get(Kind.ESCROW_HOLD, hold=hold), "-10.00"), (account_get(Kind.USER_AVAILABLE, user=payee), "10.00")],
    )
    stranger = UserFactory()
    stray_line(stranger, release)

    assert wallet_violations() == [
        f"Entry #{raw.pk} is missing from the wallet of user #{payer.pk}.",
        f"Entry #{raw.pk} is missing from the wallet of user #{payee.pk}.",
        f"The wallet of user #{stranger.pk} lists entry #{release.pk}, which does not concern them.",
    ]
    assert wallet_lines_rebuild() == 2  # the missing lines, and nothing else
    assert wallet_violations() == [
        f"The wallet of user #{stranger.pk} lists entry #{release.pk}, which does not concern them."
    ]


def test_a_wallet_line_written_after_an_audit_is_compared_by_the_next_and_reported_by_every_audit(busy_ledger):
    """Each audit derives again only the lines of the entries it sums and of the wallet lines that came since (both
    only grow): a stray line for an entry audited long ago is still found, and reported until it is gone."""
    payer, payee = busy_ledger
    assert run_audit() == []
    release = Entry.objects.get(reference="release:m:1")
    stranger = UserFactory()
    stray_line(stranger, release)
    stray = f"The wallet of user #{stranger.pk} lists entry #{release.pk}, which does not concern them."

    for _ in range(2):
        assert wallet_violations() == [stray]
    assert run_audit(full=True) == [stray]
    if connection.vendor == "postgresql":  # and the database refuses to take a line away
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM escrow_walletline WHERE user_id = %s", [stranger.pk])


def test_a_hold_written_after_an_audit_without_any_entry_is_reported_by_every_audit(busy_ledger):
    payer, payee = busy_ledger
    assert run_audit() == []
    Hold.objects.create(reference="m:ghost", payer=payer, payee=payee, amount=Decimal("5.00"), fee=0, label="Ghost")

    for _ in range(2):
        assert run_audit() == ["Hold m:ghost has 0 funding entries; it must have exactly one."]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_checks_without_figures_run_on_a_second_connection_and_still_report(busy_ledger):
    """The command's way (autocommit): the payout and payment checks run in a thread of their own while the
    figures are brought up to date; their violations come back with the others."""
    payer, payee = busy_ledger
    release = Entry.objects.get(reference="release:m:1")
    stranger = UserFactory()
    stray_line(stranger, release)
    Payout.objects.create(
        user=payee, amount=Decimal("5.00"), currency="USD", status=Payout.Status.PAID, idempotency_key="never-posted"
    )
    seen = []
    real = audit._on_own_connection

    def spy(checks):
        seen.extend((check.__name__, threading.current_thread() is not threading.main_thread()) for check in checks)
        return real(checks)

    assert connection.vendor != "postgresql" or not connection.in_atomic_block
    with mock.patch.object(audit, "_on_own_connection", spy):
        violations = run_audit()

    assert f"The wallet of user #{stranger.pk} lists entry #{release.pk}, which does not concern them." in violations
    assert any(v.startswith("Payout #") and "has no ledger entry" in v for v in violations)
    assert sorted(run_audit(full=True)) == sorted(violations)  # the kept sums emptied (TRUNCATE) and made again
    assert AuditedEntry.objects.count() == Entry.objects.count()
    assert AuditedHold.objects.count() == Hold.objects.count()
    if connection.vendor == "postgresql":
        assert ("check_payouts_recorded", True) in seen
        assert "check_wallet_lines" not in dict(seen)  # it reads what the figures' transaction compared


# --- the sums the audits keep: each audit sums only what came since the last ---


def kept_sums() -> tuple[dict, dict, dict, dict]:
    def rows(model, key: str) -> dict:
        fields = [field.attname for field in model._meta.concrete_fields]
        return {row[key]: row for row in model.objects.values(*fields)}

    balances = dict(AuditedBalance.objects.values_list("account_id", "balance"))
    return rows(AuditedEntry, "entry_id"), balances, rows(AuditedHold, "hold_id"), rows(AuditedIntent, "intent_id")


def test_audits_keep_their_sums_and_each_adds_only_the_new_postings(busy_ledger, payer, payee):
    assert run_audit() == []
    fund(payer, HoldSpecFactory(reference="m:9", payee=payee, amount=Decimal("70.00"), fee=Decimal("7.00")))
    hold_release(reference="m:9", actor=payer)
    hold_refund(reference="m:3", amount=Decimal("10.00"), destination="credit", actor=payee)  # an older hold
    mark = AuditMark.objects.get(rows=AuditedRows.POSTINGS).through

    assert run_audit() == []
    assert AuditMark.objects.get(rows=AuditedRows.POSTINGS).through == Posting.objects.order_by("-id").first().pk > mark
    assert AuditMark.objects.get(rows=AuditedRows.WALLET_LINES).through == WalletLine.objects.order_by("-id")[0].pk
    incremental = kept_sums()
    assert run_audit(full=True) == []
    assert kept_sums() == incremental  # the same figures as from every posting again
    direct = dict(Posting.objects.values("account_id").annotate(total=Sum("amount")).values_list("account_id", "total"))
    assert incremental[1] == direct
    refunded = incremental[2][Hold.objects.get(reference="m:3").pk]
    assert (refunded["funds"], refunded["left_early"], refunded["paid"]) == (1, Decimal("10.00"), 0)
    assert incremental[2][Hold.objects.get(reference="m:9").pk]["paid"] == 1
    assert len(incremental[3]) == PaymentIntent.objects.filter(entries__isnull=False).distinct().count()


def raw_posting(pk: int, entry: Entry, account: Account, amount: str) -> None:
    """A posting written past escrow.ledger (appending is all the database allows), with the id chosen."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO escrow_posting (id, entry_id, account_id, amount) VALUES (%s, %s, %s, %s)",
            [pk, entry.pk, account.pk, Decimal(amount)],
        )


def test_a_posting_appended_to_an_entry_already_audited_is_summed(busy_ledger):
    assert run_audit() == []
    release = Entry.objects.get(reference="release:m:1")

    raw_posting(Posting.objects.order_by("-id").first().pk + 1, release, account_get(Kind.GATEWAY), "1.00")

    assert f"Entry {release.reference} does not balance: its 4 posting(s) sum to $1.00." in run_audit()


def test_a_posting_that_commits_late_with_a_lower_id_is_summed(busy_ledger):
    """Ids are handed out when a transaction writes, and transactions commit in any order: the audit remembers the
    ids it has not seen below its mark and looks at them again."""
    release = Entry.objects.get(reference="release:m:1")
    gateway = account_get(Kind.GATEWAY)
    top = Posting.objects.order_by("-id").first().pk
    raw_posting(top + 10, release, gateway, "5.00")  # committed first, with the higher id
    raw_posting(top + 20, release, gateway, "-5.00")
    assert run_audit() == []
    above = AuditGap.objects.filter(rows=AuditedRows.POSTINGS, low__gt=top).order_by("low")  # (below: earlier tests')
    assert list(above.values_list("low", "high")) == [
        (top + 1, top + 9),
        (top + 11, top + 19),
    ]

    raw_posting(top + 3, release, gateway, "2.00")  # "committed" later, with a lower id

    assert f"Entry {release.reference} does not balance: its 6 posting(s) sum to $2.00." in run_audit()
    assert list(above.values_list("low", "high")) == [
        (top + 1, top + 2),
        (top + 4, top + 9),
        (top + 11, top + 19),
    ]


def test_an_entry_without_postings_is_reported_on_every_audit(busy_ledger):
    assert run_audit() == []
    bare = Entry.objects.create(reference="bare:1", kind=Entry.Kind.BONUS, memo="Nothing posted")

    for _ in range(2):  # reported when first seen, and again from the kept (zero) figures
        assert "Entry bare:1 has 0 posting(s); an entry needs at least two." in run_audit()
    assert AuditedEntry.objects.get(entry=bare).legs == 0
