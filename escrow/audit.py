"""Ledger audit: recompute every invariant from the raw rows and list what is wrong.

`run_audit()` returns one human-readable line per violation (empty: the ledger is consistent).
Other apps add their own checks through the ESCROW_AUDIT_CHECKS setting: a list of dotted paths to
functions taking no argument and returning a list of violation strings (the contracts app adds
milestone-level checks this way, so escrow never imports contracts).

`audit_figures()` gives each entry's figures (by the kind of account its postings touch) and each account's
balance as a temporary view and a temporary table, and the checks are set-based queries over those and the small
tables (holds, payments, payouts); only violations come back to Python, in chunks. Memory stays flat.

Entries and postings never change (database triggers), so the audits keep the sums they made (AuditedEntry,
AuditedBalance) and each sums only the postings that came since, by id, including those whose ids were missing the
last time (AuditMark, AuditGap: a transaction then in flight commits later with lower ids). `run_audit(full=True)`
(`escrow_audit --full`) forgets the kept sums and sums every posting again.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.module_loading import import_string

from marketplace.money import ZERO, format_money, to_money

from .ledger import wallet_lines_derived_sql
from .models import (
    Account,
    AuditedBalance,
    AuditedEntry,
    AuditGap,
    AuditMark,
    AuditRun,
    Entry,
    Hold,
    PaymentIntent,
    PaymentItem,
    Payout,
    Posting,
    Transfer,
    WalletLine,
)

Check = Callable[[], list[str]]


def _tables() -> dict[str, str]:
    q = connection.ops.quote_name
    models = {
        "hold": Hold,
        "entry": Entry,
        "posting": Posting,
        "account": Account,
        "payout": Payout,
        "audited_entry": AuditedEntry,
        "audited_balance": AuditedBalance,
        "audit_gap": AuditGap,
        "audit_mark": AuditMark,
    }
    return {name: q(model._meta.db_table) for name, model in models.items()}


def _rows(sql: str, params: list, chunk_size: int = 1000):
    """The rows of `sql`, fetched in chunks (only violations come back, but never all at once)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def _money(value) -> Decimal:
    # PostgreSQL returns Decimal; SQLite's sums of NUMERIC columns may come back as int or float.
    return to_money(str(value) if isinstance(value, float) else value)


# The figures every check reads: per entry (a temporary view of the kept AuditedEntry rows) and per account (a
# temporary table of every account with its kept balance), both brought up to date with the new postings first.
ENTRY_FIGURES = "escrow_audit_entry"  # id, kind, hold_id, intent_id, total, legs, and per account kind:
#   escrow (escrow_hold), earnings (user_available), gateway, and earnings_legs (postings on user_available)
ACCOUNT_FIGURES = "escrow_audit_account"  # id, kind, user_id, hold_id, balance

_figures = threading.local()  # how deep this thread's connection is inside audit_figures()


@contextmanager
def audit_figures(*, full: bool = False):
    """Build ENTRY_FIGURES and ACCOUNT_FIGURES (a temporary view and table of this connection) for the block;
    nested uses share the outer one's. Every check reads them.

    They come from the sums the audits keep (`AuditedEntry`, `AuditedBalance`), brought up to date first with the
    postings no audit has summed yet (`_sum_new_postings`); `full` forgets those sums and sums every posting again.
    On PostgreSQL, outside a transaction, one audit runs at a time and reads one snapshot from start to end."""
    depth = getattr(_figures, "depth", 0)
    if depth:
        _figures.depth = depth + 1
        try:
            yield
        finally:
            _figures.depth = depth
        return
    t = _tables()
    postgresql = connection.vendor == "postgresql"
    own_transaction = not connection.in_atomic_block
    with _one_audit_at_a_time(), transaction.atomic(), connection.cursor() as cursor:
        if postgresql and own_transaction:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        if postgresql:  # sort and hash the aggregates in memory, for this transaction only
            cursor.execute("SET LOCAL work_mem = '64MB'")
        _sum_new_postings(cursor, full=full, truncate=postgresql and own_transaction)
        cursor.execute(f"DROP VIEW IF EXISTS {ENTRY_FIGURES}")
        cursor.execute(f"DROP TABLE IF EXISTS {ACCOUNT_FIGURES}")
        cursor.execute(
            f"""
            CREATE TEMPORARY VIEW {ENTRY_FIGURES} AS
            SELECT entry_id AS id, kind, hold_id, intent_id, total, legs, escrow, earnings, gateway, earnings_legs
            FROM {t["audited_entry"]}
            """  # noqa: S608 (table names from the models)
        )
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE {ACCOUNT_FIGURES} AS
            SELECT a.id, a.kind, a.user_id, a.hold_id, COALESCE(b.balance, 0) AS balance
            FROM {t["account"]} a LEFT JOIN {t["audited_balance"]} b ON b.account_id = a.id
            """  # noqa: S608 (table names from the models)
        )
        cursor.execute(f"ANALYZE {ACCOUNT_FIGURES}")
        _figures.depth = 1
        try:
            yield
        finally:
            _figures.depth = 0
        cursor.execute(f"DROP VIEW {ENTRY_FIGURES}")
        cursor.execute(f"DROP TABLE {ACCOUNT_FIGURES}")


AUDIT_LOCK = 7_245_031  # PostgreSQL advisory lock key: one audit updates the sums at a time


@contextmanager
def _one_audit_at_a_time():
    """On PostgreSQL, a session lock taken before the audit's transaction starts, so its snapshot already shows
    what the audit before it summed (SQLite lets one writer in at a time anyway)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [AUDIT_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [AUDIT_LOCK])


NEW_POSTINGS = "escrow_audit_new"  # id, entry_id, account_id, amount: the postings this audit sums
ANALYZE_AFTER = 50_000  # new postings after which the kept sums' statistics are refreshed at once


def _sum_new_postings(cursor, *, full: bool, truncate: bool = False) -> None:
    """Add the postings no audit has summed yet to the kept sums: those above the mark, and those whose ids were
    missing at the last audit (a transaction then in flight commits later, with lower ids than others; a posting
    may be appended to an old entry). Each new posting's account balance grows by it; each entry it belongs to
    is summed again from all its postings. The ids up to the new mark that are still missing are kept as gaps."""
    t = _tables()
    if full:
        kept = ", ".join(t[table] for table in ("audited_entry", "audited_balance", "audit_gap", "audit_mark"))
        if truncate:  # PostgreSQL, in the audit's own transaction: no dead rows left for the next audits to read past
            cursor.execute(f"TRUNCATE {kept}")
        else:
            for table in kept.split(", "):
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (table names from the models)
    mark = AuditMark.objects.first() or AuditMark.objects.create()
    gaps = list(AuditGap.objects.order_by("low").values_list("low", "high"))
    cursor.execute(f"DROP TABLE IF EXISTS {NEW_POSTINGS}")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {NEW_POSTINGS} AS
        SELECT id, entry_id, account_id, amount FROM {t["posting"]} WHERE id > %s
        UNION ALL
        SELECT p.id, p.entry_id, p.account_id, p.amount FROM {t["audit_gap"]} g
        JOIN {t["posting"]} p ON p.id BETWEEN g.low AND g.high
        """,  # noqa: S608 (table names from the models, values as parameters)
        [mark.through],
    )
    # The new gaps: between the mark and each new posting above it, and what the old gaps still miss.
    cursor.execute(
        f"""
        SELECT previous + 1, id - 1 FROM (
            SELECT id, COALESCE(LAG(id) OVER (ORDER BY id), %s) AS previous FROM {NEW_POSTINGS} WHERE id > %s
        ) r WHERE id > previous + 1
        """,  # noqa: S608 (table names from the models, values as parameters)
        [mark.through, mark.through],
    )
    missing = [(low, high) for low, high in cursor.fetchall()]
    cursor.execute(f"SELECT id FROM {NEW_POSTINGS} WHERE id <= %s ORDER BY id", [mark.through])  # noqa: S608
    found = [pk for (pk,) in cursor.fetchall()]
    missing += _still_missing(gaps, found)
    cursor.execute(f"SELECT MAX(id), COUNT(*) FROM {NEW_POSTINGS}")  # noqa: S608
    highest, count = cursor.fetchone()
    AuditGap.objects.all().delete()
    AuditGap.objects.bulk_create([AuditGap(low=low, high=high) for low, high in missing], batch_size=1000)
    AuditMark.objects.filter(pk=mark.pk).update(through=max(mark.through, highest or 0))

    kinds = Account.Kind
    cursor.execute(
        f"""
        INSERT INTO {t["audited_balance"]} (account_id, balance)
        SELECT account_id, SUM(amount) FROM {NEW_POSTINGS} WHERE true GROUP BY account_id
        ON CONFLICT (account_id) DO UPDATE SET balance = {t["audited_balance"]}.balance + EXCLUDED.balance
        """  # noqa: S608 (table names from the models)
    )
    figures = "total, legs, escrow, earnings, gateway, earnings_legs"
    cursor.execute(
        f"""
        INSERT INTO {t["audited_entry"]} (entry_id, kind, hold_id, intent_id, {figures})
        SELECT e.id, e.kind, e.hold_id, e.intent_id, {figures} FROM (
            SELECT p.entry_id, SUM(p.amount) AS total, COUNT(*) AS legs,
                   COALESCE(SUM(p.amount) FILTER (WHERE a.kind = %s), 0) AS escrow,
                   COALESCE(SUM(p.amount) FILTER (WHERE a.kind = %s), 0) AS earnings,
                   COALESCE(SUM(p.amount) FILTER (WHERE a.kind = %s), 0) AS gateway,
                   COUNT(*) FILTER (WHERE a.kind = %s) AS earnings_legs
            FROM {t["posting"]} p JOIN {t["account"]} a ON a.id = p.account_id
            WHERE p.entry_id IN (SELECT entry_id FROM {NEW_POSTINGS})
            GROUP BY p.entry_id
        ) f JOIN {t["entry"]} e ON e.id = f.entry_id
        WHERE true
        ON CONFLICT (entry_id) DO UPDATE SET total = EXCLUDED.total, legs = EXCLUDED.legs,
            escrow = EXCLUDED.escrow, earnings = EXCLUDED.earnings, gateway = EXCLUDED.gateway,
            earnings_legs = EXCLUDED.earnings_legs
        """,  # noqa: S608 (table names from the models, values as parameters)
        [kinds.ESCROW_HOLD, kinds.USER_AVAILABLE, kinds.GATEWAY, kinds.USER_AVAILABLE],
    )
    # An entry without any posting (escrow.ledger never writes one, but the audit must see it): all zeros. Every kept
    # row is an entry's and no entry is ever deleted, so the two counts tell whether there is any (33 ms, not 165).
    cursor.execute(f"SELECT (SELECT COUNT(*) FROM {t['entry']}) - (SELECT COUNT(*) FROM {t['audited_entry']})")  # noqa: S608
    (without_postings,) = cursor.fetchone()
    if without_postings:
        _kept_zero_figures(cursor, figures)
    cursor.execute(f"DROP TABLE {NEW_POSTINGS}")
    if count > ANALYZE_AFTER and connection.vendor == "postgresql":  # e.g. the first audit: the checks' plans need them
        cursor.execute(f"ANALYZE {t['audited_entry']}, {t['audited_balance']}")


def _kept_zero_figures(cursor, figures: str) -> None:
    t = _tables()
    cursor.execute(
        f"""
        INSERT INTO {t["audited_entry"]} (entry_id, kind, hold_id, intent_id, {figures})
        SELECT e.id, e.kind, e.hold_id, e.intent_id, 0, 0, 0, 0, 0, 0 FROM {t["entry"]} e
        WHERE NOT EXISTS (SELECT 1 FROM {t["audited_entry"]} x WHERE x.entry_id = e.id)
        ON CONFLICT (entry_id) DO NOTHING
        """  # noqa: S608 (table names from the models)
    )


def _still_missing(gaps: list[tuple[int, int]], found: list[int]) -> list[tuple[int, int]]:
    """The id ranges of `gaps` (sorted) without the ids `found` (sorted)."""
    missing, found = [], iter(found)
    pk = next(found, None)
    for low, high in gaps:
        while pk is not None and pk < low:
            pk = next(found, None)
        while pk is not None and pk <= high:
            if pk > low:
                missing.append((low, pk - 1))
            low = pk + 1
            pk = next(found, None)
        if low <= high:
            missing.append((low, high))
    return missing


def _figures_rows(sql: str, params: list) -> list[tuple]:
    with audit_figures():
        return list(_rows(sql, params))


def check_entries_balance() -> list[str]:
    rows = _figures_rows(
        f"SELECT e.reference, f.total, f.legs FROM {ENTRY_FIGURES} f JOIN {_tables()['entry']} e ON e.id = f.id "  # noqa: S608
        "WHERE f.total <> 0 OR f.legs < 2 ORDER BY f.id",
        [],
    )
    return [
        f"Entry {reference} does not balance: its {legs} posting(s) sum to {format_money(_money(total))}."
        if _money(total)
        else f"Entry {reference} has {legs} posting(s); an entry needs at least two."
        for reference, total, legs in rows
    ]


def check_ledger_sums_to_zero() -> list[str]:
    ((total,),) = _figures_rows(f"SELECT COALESCE(SUM(total), 0) FROM {ENTRY_FIGURES}", [])  # noqa: S608
    total = _money(total)
    return [] if total == 0 else [f"All postings together sum to {format_money(total)}, not zero."]


def _accounts_whose_balance(kinds, condition: str) -> list[Account]:
    """Accounts of `kinds` whose balance meets `condition` (SQL on `balance`), with `balance` set."""
    marks = ", ".join(["%s"] * len(kinds))
    found = dict(
        _figures_rows(
            f"SELECT id, balance FROM {ACCOUNT_FIGURES} WHERE kind IN ({marks}) AND {condition} ORDER BY id",  # noqa: S608
            list(kinds),
        )
    )
    accounts = list(Account.objects.filter(pk__in=list(found)).select_related("user").order_by("id"))
    for account in accounts:
        account.balance = _money(found[account.pk])
    return accounts


def check_no_negative_balances() -> list[str]:
    rows = _accounts_whose_balance(Account.NON_NEGATIVE_KINDS, "balance < 0")
    return [f"{account} has a negative balance: {format_money(account.balance)}." for account in rows]


def check_funding_accounts_settle() -> list[str]:
    # Money a client pays in goes on into holds (or a bonus) when the payment is confirmed: at rest the
    # funding account holds only the credit set aside for their payments still open.
    rows = _accounts_whose_balance([Account.Kind.USER_FUNDING], "balance <> 0")
    reserved = dict(
        PaymentIntent.objects.filter(payer__in=[row.user_id for row in rows], state__in=PaymentIntent.OPEN_STATES)
        .order_by()
        .values("payer")
        .annotate(total=Sum("credit_used"))
        .values_list("payer", "total")
    )
    return [
        f"{account} is not settled: {format_money(account.balance - reserved.get(account.user_id, ZERO))} is left over."
        for account in rows
        if account.balance != reserved.get(account.user_id, ZERO)
    ]


# A hold ends once: by one release of what is left, or by one settlement that splits it.
ENDING_KINDS = (Entry.Kind.RELEASE, Entry.Kind.SETTLEMENT)


def check_holds() -> list[str]:
    """Each hold: funded by exactly one entry, of exactly its amount; ended (released or settled) at most
    once, and empty once ended."""
    t = _tables()
    sql = f"""
        WITH per_hold AS (
            SELECT hold_id,
                   SUM(CASE WHEN kind = %s THEN 1 ELSE 0 END) AS funds,
                   SUM(CASE WHEN kind IN (%s, %s) THEN 1 ELSE 0 END) AS ends,
                   SUM(CASE WHEN kind = %s THEN escrow ELSE 0 END) AS funded
            FROM {ENTRY_FIGURES} WHERE hold_id IS NOT NULL GROUP BY hold_id
        ), figures AS (
            SELECT h.id, h.reference, h.amount, COALESCE(f.funds, 0) AS funds, COALESCE(f.ends, 0) AS ends,
                   COALESCE(f.funded, 0) AS funded, COALESCE(a.balance, 0) AS balance
            FROM {t["hold"]} h
            LEFT JOIN per_hold f ON f.hold_id = h.id
            LEFT JOIN {ACCOUNT_FIGURES} a ON a.hold_id = h.id AND a.kind = %s
        )
        SELECT reference, amount, funds, ends, funded, balance FROM figures
        WHERE funds <> 1 OR ends > 1 OR (ends > 0 AND balance <> 0) OR (funded <> 0 AND funded <> amount)
        ORDER BY id
    """  # noqa: S608 (table names from the models, values as parameters)
    fund = Entry.Kind.FUND
    violations = []
    for reference, amount, funds, ends, funded, balance in _figures_rows(
        sql, [fund, *ENDING_KINDS, fund, Account.Kind.ESCROW_HOLD]
    ):
        amount, funded, balance = _money(amount), _money(funded), _money(balance)
        if funds != 1:
            violations.append(f"Hold {reference} has {funds} funding entries; it must have exactly one.")
        if ends > 1:
            violations.append(f"Hold {reference} was released or settled {ends} times.")
        if ends > 0 and balance != 0:
            violations.append(f"Hold {reference} was released or settled but still holds {format_money(balance)}.")
        if funded != 0 and funded != amount:
            violations.append(
                f"Hold {reference} is for {format_money(amount)} but {format_money(funded)} was put in escrow."
            )
    return violations


def check_payouts_recorded() -> list[str]:
    # Every payout took the money out of the user's earnings; a failed one gave it back.
    t = _tables()
    sql = f"""
        SELECT po.id, po.amount, po.status, paid.id IS NOT NULL AS paid, back.id IS NOT NULL AS reversed
        FROM {t["payout"]} po
        LEFT JOIN {t["entry"]} paid ON paid.reference = %s || CAST(po.id AS TEXT) AND paid.kind = %s
        LEFT JOIN {t["entry"]} back ON back.reference = %s || CAST(po.id AS TEXT) AND back.kind = %s
        WHERE paid.id IS NULL
           OR (back.id IS NOT NULL AND po.status IN (%s, %s))
           OR (back.id IS NULL AND po.status = %s)
        ORDER BY po.id
    """  # noqa: S608 (table names from the models, values as parameters)
    params = [
        "payout:",
        Entry.Kind.PAYOUT,
        "payout-reversal:",
        Entry.Kind.PAYOUT_REVERSAL,
        Payout.Status.PENDING,
        Payout.Status.PAID,
        Payout.Status.FAILED,
    ]
    violations = []
    for pk, amount, status, paid, reversed_ in _rows(sql, params):
        if not paid:
            violations.append(f"Payout #{pk} ({format_money(_money(amount))}) has no ledger entry.")
        elif reversed_:
            violations.append(f"Payout #{pk} is {status} but was reversed in the ledger.")
        else:
            violations.append(f"Payout #{pk} failed but its money was not returned in the ledger.")
    return violations


STUCK_AFTER = timedelta(hours=1)


def check_no_stuck_payouts() -> list[str]:
    # A payout is pending only while the provider is being called; one pending for an hour means the
    # process died mid-payout: the money left the earnings, and staff must confirm it with the provider.
    stuck = Payout.objects.filter(status=Payout.Status.PENDING, created_at__lt=timezone.now() - STUCK_AFTER)
    return [
        f"Payout #{payout.pk} ({format_money(payout.amount)}) has been pending since "
        f"{payout.created_at:%Y-%m-%d %H:%M} UTC: check it with the payout provider."
        for payout in stuck.order_by("id")
    ]


# Entries that move a payer's money in must come from a payment the provider confirmed.
PAID_IN_KINDS = (Entry.Kind.CHARGE, Entry.Kind.FUND, Entry.Kind.BONUS)


def check_entries_have_succeeded_payments() -> list[str]:
    # No card payment, funding or bonus in the ledger without a succeeded payment intent behind it.
    rows = (
        Entry.objects.filter(kind__in=PAID_IN_KINDS)
        .exclude(intent__state=PaymentIntent.State.SUCCEEDED)
        .order_by("id")
        .values_list("reference", "intent_id", "intent__state")
    )
    return [
        f"Entry {reference} has no succeeded payment behind it (payment #{intent_id}: {state or 'none'})."
        for reference, intent_id, state in rows
    ]


def check_succeeded_payments_posted() -> list[str]:
    # Every succeeded payment has exactly its entries: one card payment for its amount (none when credit
    # paid for everything), one funding or bonus per item; a card refund, its one refund entry.
    q = connection.ops.quote_name
    intents, items = q(PaymentIntent._meta.db_table), q(PaymentItem._meta.db_table)
    K = Entry.Kind
    sql = f"""
        WITH per_intent AS (
            SELECT intent_id,
                   SUM(CASE WHEN kind = %s THEN 1 ELSE 0 END) AS n_charges,
                   -SUM(CASE WHEN kind = %s THEN gateway ELSE 0 END) AS charged,
                   SUM(CASE WHEN kind IN (%s, %s) THEN 1 ELSE 0 END) AS n_refunds,
                   SUM(CASE WHEN kind IN (%s, %s) THEN gateway ELSE 0 END) AS refunded,
                   SUM(CASE WHEN kind IN (%s, %s) THEN 1 ELSE 0 END) AS n_paid
            FROM {ENTRY_FIGURES} WHERE intent_id IS NOT NULL GROUP BY intent_id
        ), per_items AS (
            SELECT intent_id, COUNT(*) AS n_items FROM {items} GROUP BY intent_id
        ), figures AS (
            SELECT i.id, i.kind, i.amount,
                   COALESCE(e.n_charges, 0) AS n_charges, COALESCE(e.charged, 0) AS charged,
                   COALESCE(e.n_refunds, 0) AS n_refunds, COALESCE(e.refunded, 0) AS refunded,
                   COALESCE(e.n_paid, 0) AS n_paid, COALESCE(n.n_items, 0) AS n_items
            FROM {intents} i
            LEFT JOIN per_intent e ON e.intent_id = i.id
            LEFT JOIN per_items n ON n.intent_id = i.id
            WHERE i.state = %s
        )
        SELECT id, kind, amount, n_charges, charged, n_paid, n_items, n_refunds FROM figures
        WHERE CASE WHEN kind = %s THEN n_refunds <> 1 OR refunded <> amount
                   ELSE (amount > 0 AND (n_charges <> 1 OR charged <> amount))
                        OR (amount = 0 AND n_charges <> 0)
                        OR n_paid <> n_items
              END
        ORDER BY id
    """  # noqa: S608 (table names from the models, values as parameters)
    params = [
        *[K.CHARGE, K.CHARGE],
        *[K.REFUND_CARD, K.SETTLEMENT, K.REFUND_CARD, K.SETTLEMENT],
        *[K.FUND, K.BONUS],
        PaymentIntent.State.SUCCEEDED,
        PaymentIntent.Kind.REFUND,
    ]
    return [
        f"Payment #{pk} ({kind}, {format_money(_money(amount))}) succeeded but its ledger entries do not "
        f"match: {n_charges} card payment(s) for {format_money(_money(charged))}, {n_paid} of "
        f"{n_items} item(s) posted, {n_refunds} refund(s)."
        for pk, kind, amount, n_charges, charged, n_paid, n_items, n_refunds in _figures_rows(sql, params)
    ]


def check_unconfirmed_payments_unposted() -> list[str]:
    # A payment not (yet) succeeded moved no card money in: no charge, fund or bonus entry.
    rows = (
        PaymentIntent.objects.exclude(state=PaymentIntent.State.SUCCEEDED)
        .exclude(kind=PaymentIntent.Kind.REFUND)
        .filter(entries__kind__in=PAID_IN_KINDS)
        .distinct()
        .order_by("id")
    )
    return [f"Payment #{intent.pk} is {intent.state} but has money posted in the ledger." for intent in rows]


# Entries that credit a payee's earnings, each with its transfer to the payee's payout account.
EARNING_KINDS = (Entry.Kind.RELEASE, Entry.Kind.PARTIAL_RELEASE, Entry.Kind.SETTLEMENT, Entry.Kind.BONUS)


def check_earnings_transferred_once() -> list[str]:
    # Every release or bonus that credited a payee's earnings has exactly one transfer of that amount to the
    # payee's payout account at the provider (pending until they have one).
    transfers = connection.ops.quote_name(Transfer._meta.db_table)
    marks = ", ".join(["%s"] * len(EARNING_KINDS))
    sql = f"""
        SELECT e.reference, f.earnings, COALESCE(t.amount, 0)
        FROM {ENTRY_FIGURES} f
        LEFT JOIN {transfers} t ON t.entry_id = f.id
        JOIN {_tables()["entry"]} e ON e.id = f.id
        WHERE f.kind IN ({marks}) AND f.earnings <> COALESCE(t.amount, 0)
        ORDER BY f.id
    """  # noqa: S608 (table names from the models, values as parameters)
    return [
        f"Entry {reference} credited {format_money(_money(credited))} but transfers "
        f"{format_money(_money(transferred))} to the payee's payout account."
        for reference, credited, transferred in _figures_rows(sql, list(EARNING_KINDS))
    ]


def check_wallet_lines() -> list[str]:
    # The wallet lines index the entries (escrow.ledger writes them with each entry): derived again here from the
    # entries, any line missing or left over is reported (a wallet would miss a row, or show a stranger's).
    # One hash FULL JOIN of the two sets (two EXCEPTs hashed each side twice: 2.0 s -> 1.2 s on 390k lines).
    line = connection.ops.quote_name(WalletLine._meta.db_table)
    sql = f"""
        SELECT CASE WHEN s.entry_id IS NULL THEN 'missing' ELSE 'extra' END AS problem,
               COALESCE(d.user_id, s.user_id) AS user_id, COALESCE(d.entry_id, s.entry_id) AS entry_id
        FROM ({wallet_lines_derived_sql()}) d
        FULL JOIN {line} s ON s.user_id = d.user_id AND s.entry_id = d.entry_id AND s.created_at = d.created_at
        WHERE d.entry_id IS NULL OR s.entry_id IS NULL
        ORDER BY 2, 3
    """  # noqa: S608 (table names from the models)
    return [
        f"Entry #{entry_id} is missing from the wallet of user #{user_id}."
        if problem == "missing"
        else f"The wallet of user #{user_id} lists entry #{entry_id}, which does not concern them."
        for problem, user_id, entry_id in _rows(sql, [])
    ]


BUILTIN_CHECKS: list[Check] = [
    check_entries_balance,
    check_ledger_sums_to_zero,
    check_no_negative_balances,
    check_funding_accounts_settle,
    check_holds,
    check_payouts_recorded,
    check_no_stuck_payouts,
    check_entries_have_succeeded_payments,
    check_succeeded_payments_posted,
    check_unconfirmed_payments_unposted,
    check_earnings_transferred_once,
    check_wallet_lines,
]


def registered_checks() -> list[Check]:
    """The built-in checks followed by those named in settings.ESCROW_AUDIT_CHECKS (default: none)."""
    extra = [import_string(path) for path in getattr(settings, "ESCROW_AUDIT_CHECKS", [])]
    return [*BUILTIN_CHECKS, *extra]


# Checks that read no figures. On PostgreSQL, outside a transaction (the command, the admin's audit page), they run on
# a second connection while this one builds the figures: on two cores the wallet lines' ~1 s overlaps the figures'.
# Inside a transaction (a test's) a second connection could not see its rows, so they run in turn.
APART_CHECKS: list[Check] = [
    check_wallet_lines,
    check_payouts_recorded,
    check_no_stuck_payouts,
    check_entries_have_succeeded_payments,
    check_unconfirmed_payments_unposted,
]


def run_audit(*, full: bool = False) -> list[str]:
    """Every violation; `full` sums every posting again instead of only those the last audit had not seen."""
    checks = registered_checks()
    apart = [check for check in checks if check in APART_CHECKS]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        apart = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        aside = pool.submit(_on_own_connection, apart)
        violations: list[str] = []
        with audit_figures(full=full):  # built once, read by every check
            for check in checks:
                if check not in apart:
                    violations.extend(check())
        return aside.result() + violations


# --- runs asked for in the admin: a worker runs them (escrow.tasks.ledger_audit), never the request ---

# A run queued or running longer than this (its worker died, the broker lost the task) no longer stops a new one.
AUDIT_RUN_STALE = timedelta(hours=1)


def audit_run_request(*, actor) -> tuple[AuditRun, bool]:
    """Queue a run of the audit for a worker, unless one is already queued or running: (the run, whether it is new)."""
    from marketplace.dispatch import dispatch_on_commit

    from .tasks import ledger_audit

    pending = AuditRun.objects.filter(
        status__in=[AuditRun.Status.QUEUED, AuditRun.Status.RUNNING], requested_at__gte=timezone.now() - AUDIT_RUN_STALE
    ).first()
    if pending is not None:
        return pending, False
    run = AuditRun.objects.create(requested_by=actor)
    dispatch_on_commit(ledger_audit, run.pk)
    return run, True


def audit_run_execute(*, run_id: int) -> AuditRun | None:
    """Run the audit for a queued run and record what it found; None if the run was not waiting (run twice)."""
    if not AuditRun.objects.filter(pk=run_id, status=AuditRun.Status.QUEUED).update(status=AuditRun.Status.RUNNING):
        return None
    try:
        violations = run_audit()
    except Exception as error:
        AuditRun.objects.filter(pk=run_id).update(
            status=AuditRun.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now()
        )
        raise
    AuditRun.objects.filter(pk=run_id).update(
        status=AuditRun.Status.DONE, violations=violations, finished_at=timezone.now()
    )
    return AuditRun.objects.get(pk=run_id)


def _on_own_connection(checks: list[Check]) -> list[str]:
    """Run `checks` in this (pool) thread, on its own connection, closed at the end."""
    if not checks:
        return []
    try:
        return [violation for check in checks for violation in check()]
    finally:
        connection.close()
