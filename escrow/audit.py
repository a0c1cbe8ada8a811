"""Ledger audit: recompute every invariant from the raw rows and list what is wrong.

`run_audit()` returns one human-readable line per violation (empty: the ledger is consistent).
Other apps add their own checks through the ESCROW_AUDIT_CHECKS setting: a list of dotted paths to
functions taking no argument and returning a list of violation strings (the contracts app adds
milestone-level checks this way, so escrow never imports contracts).

The checks are set-based queries over figures the audits keep, and over the small tables (holds, payments,
payouts); only violations come back to Python, in chunks. Memory stays flat.

Entries, postings, holds, accounts and wallet lines never change (database triggers), so the audits keep what they
summed and compared: each entry's figures by the kind of account its postings touch (AuditedEntry), each account's
balance (AuditedBalance), each hold's and each payment's figures from its entries' (AuditedHold, AuditedIntent), and
how the stored wallet lines differ from those derived again from the entries (AuditedWalletDifference). Each audit,
inside `audit_figures()`, reads only the postings, wallet lines, holds and entries that came since, by id, including
those whose ids were missing the last time (AuditMark, AuditGap: a transaction then in flight commits later with lower
ids), and makes again the figures of what they touch; the checks of tables that do change (milestones, payments,
payouts, transfers) read them whole. `run_audit(full=True)` (`escrow_audit --full`) forgets what was kept
and sums every posting again.
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
    AuditedHold,
    AuditedIntent,
    AuditedRows,
    AuditedWalletDifference,
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
    """The quoted table names of the models the audit reads, by model name ("posting", "auditedentry", …)."""
    q = connection.ops.quote_name
    models = (Hold, Entry, Posting, Account, Payout, WalletLine, PaymentIntent, PaymentItem, Transfer, *KEPT)
    return {model._meta.model_name: q(model._meta.db_table) for model in models}


def _rows(sql: str, params: list, chunk_size: int = 1000):
    """The rows of `sql`, fetched in chunks (only violations come back, but never all at once)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def _money(value) -> Decimal:
    # PostgreSQL returns Decimal; SQLite's sums of NUMERIC columns may come back as int or float.
    return to_money(str(value) if isinstance(value, float) else value)


# Every check that reads figures reads the kept tables (AuditedEntry, AuditedBalance, AuditedHold, AuditedIntent,
# AuditedWalletDifference) inside `audit_figures()`, which first brings them up to date with what came since.

_figures = threading.local()  # how deep this thread's connection is inside audit_figures()


@contextmanager
def audit_figures(*, full: bool = False):
    """Bring the kept figures up to date for the block (`_bring_up_to_date`); nested uses share the outer one's.
    `full` forgets them and sums every posting again. On PostgreSQL, outside a transaction, one audit runs at a time
    and reads one snapshot from start to end."""
    depth = getattr(_figures, "depth", 0)
    if depth:
        _figures.depth = depth + 1
        try:
            yield
        finally:
            _figures.depth = depth
        return
    postgresql = connection.vendor == "postgresql"
    own_transaction = not connection.in_atomic_block
    with _one_audit_at_a_time(), transaction.atomic(), connection.cursor() as cursor:
        if postgresql and own_transaction:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        if postgresql:  # sort and hash the aggregates in memory, for this transaction only
            cursor.execute("SET LOCAL work_mem = '64MB'")
        _bring_up_to_date(cursor, full=full, truncate=postgresql and own_transaction)
        _figures.depth = 1
        try:
            yield
        finally:
            _figures.depth = 0


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


# Temporary tables of one audit: the rows no audit had read yet, and the entries whose figures it made again.
NEW_POSTINGS = "escrow_audit_new"  # id, entry_id, account_id, amount
NEW_LINES = "escrow_audit_new_lines"  # id, entry_id
NEW_HOLDS = "escrow_audit_new_holds"  # id
NEW_ENTRIES = "escrow_audit_new_entries"  # id
TOUCHED = "escrow_audit_touched"  # entry_id
TOUCHED_HOLDS = "escrow_audit_touched_holds"  # hold_id
REDERIVE = "escrow_audit_rederive"  # entry_id: the entries whose wallet lines are derived again
ANALYZE_AFTER = 200_000  # new rows after which the statistics of what the audit writes are refreshed at once
KEPT = (AuditedEntry, AuditedBalance, AuditedHold, AuditedIntent, AuditedWalletDifference, AuditGap, AuditMark)


def _bring_up_to_date(cursor, *, full: bool, truncate: bool = False) -> None:
    """Add what no audit has read yet to the kept figures. Each new posting's account balance grows by it; each
    entry it belongs to, and each new entry, is summed again from all its postings (zeros without any); each hold and
    payment of those entries (or of those accounts), and each new hold, is summed again from its entries' figures, and
    the wallet lines of those entries, and of the new wallet lines, are derived again and compared with the stored
    ones."""
    t = _tables()
    if full:
        kept = [t[model._meta.model_name] for model in KEPT]
        if truncate:  # PostgreSQL, in the audit's own transaction: no dead rows left for the next audits to read past
            cursor.execute(f"TRUNCATE {', '.join(kept)}")
        else:
            for table in kept:
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (table names from the models)
    # The first audit (or --full): every entry is new, so every wallet line is compared, in one pass.
    everything = not AuditMark.objects.filter(rows=AuditedRows.ENTRIES, through__gt=0).exists()
    counts = [
        _new_rows(cursor, Posting, AuditedRows.POSTINGS, ("id", "entry_id", "account_id", "amount"), NEW_POSTINGS),
        _new_rows(cursor, WalletLine, AuditedRows.WALLET_LINES, ("id", "entry_id"), NEW_LINES),
        _new_rows(cursor, Hold, AuditedRows.HOLDS, ("id",), NEW_HOLDS),
        _new_rows(cursor, Entry, AuditedRows.ENTRIES, ("id",), NEW_ENTRIES),
    ]
    # The first audit (--full), or a backlog of many new rows: each step's statements are planned on fresh statistics
    # of what the step before wrote (without them, nested loops over tables the planner believes empty: 21 s instead
    # of 8 at scale 1). After a day's 10,000 releases they would only cost time (0.65 s of 3.5 here).
    many = (everything or max(counts) > ANALYZE_AFTER) and connection.vendor == "postgresql"

    def analyze(*written: str) -> None:
        if many:
            cursor.execute(f"ANALYZE {', '.join(written)}")

    # The entries whose figures are made again: those of the new postings, and the new entries.
    cursor.execute(
        f"CREATE TEMPORARY TABLE {TOUCHED} AS SELECT entry_id FROM {NEW_POSTINGS} UNION SELECT id FROM {NEW_ENTRIES}"  # noqa: S608
    )
    analyze(NEW_POSTINGS, NEW_LINES, NEW_HOLDS, NEW_ENTRIES, TOUCHED)
    _sum_entries_and_balances(cursor)
    analyze(t["auditedentry"], t["auditedbalance"])
    _sum_holds_and_intents(cursor)
    analyze(TOUCHED_HOLDS, t["auditedhold"], t["auditedintent"])
    _compare_wallet_lines(cursor, everything=everything)
    analyze(t["auditedwalletdifference"])
    for table in (NEW_POSTINGS, NEW_LINES, NEW_HOLDS, NEW_ENTRIES, TOUCHED, TOUCHED_HOLDS, REDERIVE):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def _new_rows(cursor, model, rows: str, columns: tuple[str, ...], into: str) -> int:
    """Make the temporary table `into` (`columns` of `model`'s table) of the rows no audit has read yet: those above
    the mark of `rows`, and those whose ids were missing at the last audit (a transaction then in flight commits
    later, with lower ids than others). Move the mark, and keep the ids up to it still missing as gaps. Returns how
    many rows there are."""
    t = _tables()
    table = connection.ops.quote_name(model._meta.db_table)
    mark = AuditMark.objects.filter(rows=rows).first() or AuditMark.objects.create(rows=rows)
    gaps = list(AuditGap.objects.filter(rows=rows).order_by("low").values_list("low", "high"))
    cursor.execute(f"DROP TABLE IF EXISTS {into}")
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {into} AS
        SELECT {", ".join(columns)} FROM {table} WHERE id > %s
        UNION ALL
        SELECT {", ".join(f"r.{column}" for column in columns)} FROM {t["auditgap"]} g
        JOIN {table} r ON r.id BETWEEN g.low AND g.high WHERE g.rows = %s
        """,  # noqa: S608 (table names from the models, values as parameters)
        [mark.through, rows],
    )
    # The new gaps: between the mark and each new row above it, and what the old gaps still miss.
    cursor.execute(
        f"""
        SELECT previous + 1, id - 1 FROM (
            SELECT id, COALESCE(LAG(id) OVER (ORDER BY id), %s) AS previous FROM {into} WHERE id > %s
        ) r WHERE id > previous + 1
        """,  # noqa: S608 (table names from the models, values as parameters)
        [mark.through, mark.through],
    )
    missing = [(low, high) for low, high in cursor.fetchall()]
    cursor.execute(f"SELECT id FROM {into} WHERE id <= %s ORDER BY id", [mark.through])  # noqa: S608
    missing += _still_missing(gaps, [pk for (pk,) in cursor.fetchall()])
    cursor.execute(f"SELECT MAX(id), COUNT(*) FROM {into}")  # noqa: S608
    highest, count = cursor.fetchone()
    AuditGap.objects.filter(rows=rows).delete()
    AuditGap.objects.bulk_create([AuditGap(rows=rows, low=low, high=high) for low, high in missing], batch_size=1000)
    AuditMark.objects.filter(pk=mark.pk).update(through=max(mark.through, highest or 0))
    return count


def _sum_entries_and_balances(cursor) -> None:
    """Add the new postings to their accounts' balances; sum each TOUCHED entry again from all its postings (zeros for
    an entry without any)."""
    t = _tables()
    kinds = Account.Kind
    cursor.execute(
        f"""
        INSERT INTO {t["auditedbalance"]} (account_id, balance)
        SELECT account_id, SUM(amount) FROM {NEW_POSTINGS} WHERE true GROUP BY account_id
        ON CONFLICT (account_id) DO UPDATE SET balance = {t["auditedbalance"]}.balance + EXCLUDED.balance
        """  # noqa: S608 (table names from the models)
    )
    figures = "total, legs, escrow, earnings, gateway, earnings_legs"
    cursor.execute(
        f"""
        INSERT INTO {t["auditedentry"]} (entry_id, kind, hold_id, intent_id, {figures})
        SELECT e.id, e.kind, e.hold_id, e.intent_id, {figures} FROM (
            SELECT p.entry_id, SUM(p.amount) AS total, COUNT(*) AS legs,
                   COALESCE(SUM(p.amount) FILTER (WHERE a.kind = %s), 0) AS escrow,
                   COALESCE(SUM(p.amount) FILTER (WHERE a.kind = %s), 0) AS earnings,
                   COALESCE(SUM(p.amount) FILTER (WHERE a.kind = %s), 0) AS gateway,
                   COUNT(*) FILTER (WHERE a.kind = %s) AS earnings_legs
            FROM {t["posting"]} p JOIN {t["account"]} a ON a.id = p.account_id
            WHERE p.entry_id IN (SELECT entry_id FROM {TOUCHED})
            GROUP BY p.entry_id
        ) f JOIN {t["entry"]} e ON e.id = f.entry_id
        WHERE true
        ON CONFLICT (entry_id) DO UPDATE SET total = EXCLUDED.total, legs = EXCLUDED.legs,
            escrow = EXCLUDED.escrow, earnings = EXCLUDED.earnings, gateway = EXCLUDED.gateway,
            earnings_legs = EXCLUDED.earnings_legs
        """,  # noqa: S608 (table names from the models, values as parameters)
        [kinds.ESCROW_HOLD, kinds.USER_AVAILABLE, kinds.GATEWAY, kinds.USER_AVAILABLE],
    )
    # An entry without any posting (escrow.ledger never writes one, but the audit must see it): all zeros.
    cursor.execute(
        f"""
        INSERT INTO {t["auditedentry"]} (entry_id, kind, hold_id, intent_id, {figures})
        SELECT e.id, e.kind, e.hold_id, e.intent_id, 0, 0, 0, 0, 0, 0 FROM {t["entry"]} e
        WHERE e.id IN (SELECT entry_id FROM {TOUCHED})
          AND NOT EXISTS (SELECT 1 FROM {t["auditedentry"]} x WHERE x.entry_id = e.id)
        """  # noqa: S608 (table names from the models)
    )


# A hold ends once: by one release of what is left, or by one settlement that splits it.
ENDING_KINDS = (Entry.Kind.RELEASE, Entry.Kind.SETTLEMENT)
# What leaves a hold's escrow before its end: refunds and parts released early.
LEAVING_EARLY_KINDS = (Entry.Kind.REFUND_CREDIT, Entry.Kind.REFUND_CARD, Entry.Kind.PARTIAL_RELEASE)
# A payment's card refunds: a refund, or a dispute's settlement that paid the client back.
CARD_REFUND_KINDS = (Entry.Kind.REFUND_CARD, Entry.Kind.SETTLEMENT)


def _sum_holds_and_intents(cursor) -> None:
    """Sum again, from the kept figures of their entries, the holds and payments of the TOUCHED entries, the holds of
    the accounts the new postings moved, and the new holds (TOUCHED_HOLDS): every hold has its figures."""
    t = _tables()
    K = Entry.Kind
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {TOUCHED_HOLDS} AS
        SELECT hold_id FROM {t["auditedentry"]}
        WHERE entry_id IN (SELECT entry_id FROM {TOUCHED}) AND hold_id IS NOT NULL
        UNION
        SELECT hold_id FROM {t["account"]} WHERE id IN (SELECT account_id FROM {NEW_POSTINGS}) AND hold_id IS NOT NULL
        UNION
        SELECT id FROM {NEW_HOLDS}
        """  # noqa: S608 (table names from the models)
    )
    kinds = {
        name: ", ".join(f"'{kind}'" for kind in group)  # the model's constants
        for name, group in {
            "ending": ENDING_KINDS,
            "early": LEAVING_EARLY_KINDS,
            "refunds": CARD_REFUND_KINDS,
            "paid": (K.FUND, K.BONUS),
        }.items()
    }
    figures = "funds, ends, funded, left_early, paid, balance"
    cursor.execute(
        f"""
        INSERT INTO {t["auditedhold"]} (hold_id, reference, amount, {figures})
        SELECT h.id, h.reference, h.amount, COALESCE(f.funds, 0), COALESCE(f.ends, 0), COALESCE(f.funded, 0),
               COALESCE(f.left_early, 0), COALESCE(f.paid, 0), COALESCE(b.balance, 0)
        FROM {t["hold"]} h
        LEFT JOIN (
            SELECT hold_id, COUNT(*) FILTER (WHERE kind = '{K.FUND}') AS funds,
                   COUNT(*) FILTER (WHERE kind IN ({kinds["ending"]})) AS ends,
                   COALESCE(SUM(escrow) FILTER (WHERE kind = '{K.FUND}'), 0) AS funded,
                   COALESCE(-SUM(escrow) FILTER (WHERE kind IN ({kinds["early"]})), 0) AS left_early,
                   COUNT(*) FILTER (WHERE kind = '{K.RELEASE}' OR (kind = '{K.SETTLEMENT}' AND earnings_legs > 0))
                       AS paid
            FROM {t["auditedentry"]} WHERE hold_id IN (SELECT hold_id FROM {TOUCHED_HOLDS}) GROUP BY hold_id
        ) f ON f.hold_id = h.id
        LEFT JOIN (
            SELECT a.hold_id, SUM(b.balance) AS balance
            FROM {t["account"]} a JOIN {t["auditedbalance"]} b ON b.account_id = a.id
            WHERE a.kind = '{Account.Kind.ESCROW_HOLD}' AND a.hold_id IN (SELECT hold_id FROM {TOUCHED_HOLDS})
            GROUP BY a.hold_id
        ) b ON b.hold_id = h.id
        WHERE h.id IN (SELECT hold_id FROM {TOUCHED_HOLDS})
        ON CONFLICT (hold_id) DO UPDATE SET funds = EXCLUDED.funds, ends = EXCLUDED.ends, funded = EXCLUDED.funded,
            left_early = EXCLUDED.left_early, paid = EXCLUDED.paid, balance = EXCLUDED.balance
        """  # noqa: S608 (table names and kinds from the models)
    )
    cursor.execute(
        f"""
        INSERT INTO {t["auditedintent"]} (intent_id, charges, charged, refunds, refunded, paid)
        SELECT intent_id, COUNT(*) FILTER (WHERE kind = '{K.CHARGE}'),
               COALESCE(-SUM(gateway) FILTER (WHERE kind = '{K.CHARGE}'), 0),
               COUNT(*) FILTER (WHERE kind IN ({kinds["refunds"]})),
               COALESCE(SUM(gateway) FILTER (WHERE kind IN ({kinds["refunds"]})), 0),
               COUNT(*) FILTER (WHERE kind IN ({kinds["paid"]}))
        FROM {t["auditedentry"]}
        WHERE intent_id IN (
            SELECT intent_id FROM {t["auditedentry"]}
            WHERE entry_id IN (SELECT entry_id FROM {TOUCHED}) AND intent_id IS NOT NULL
        )
        GROUP BY intent_id
        ON CONFLICT (intent_id) DO UPDATE SET charges = EXCLUDED.charges, charged = EXCLUDED.charged,
            refunds = EXCLUDED.refunds, refunded = EXCLUDED.refunded, paid = EXCLUDED.paid
        """  # noqa: S608 (table names and kinds from the models)
    )


def _compare_wallet_lines(cursor, *, everything: bool) -> None:
    """Derive again the wallet lines of the TOUCHED entries and of the new wallet lines' entries (`everything`: of
    every entry), and keep how the stored ones differ (a line missing: a wallet would miss a row; one left over: it
    would show a stranger's). Both only grow (entries and postings never change, and wallet lines neither: database
    triggers), so no other entry's lines can have changed since an audit compared them."""
    t = _tables()
    stored = f"SELECT user_id, entry_id, created_at FROM {t['walletline']}"  # noqa: S608
    entries = ""
    if everything:
        cursor.execute(f"DELETE FROM {t['auditedwalletdifference']}")  # noqa: S608
    else:
        # The entries in a table of their own, with statistics: the planner then starts from them (postings by
        # entry) rather than from every posting on a user's account (1.1 s -> 0.1 s after 9,000 releases, scale 1).
        cursor.execute(
            f"CREATE TEMPORARY TABLE {REDERIVE} AS "  # noqa: S608
            f"SELECT entry_id FROM {TOUCHED} UNION SELECT entry_id FROM {NEW_LINES}"
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {REDERIVE}")
        entries = f"SELECT entry_id FROM {REDERIVE}"  # noqa: S608
        cursor.execute(f"DELETE FROM {t['auditedwalletdifference']} WHERE entry_id IN ({entries})")  # noqa: S608
        stored += f" WHERE entry_id IN ({entries})"
    cursor.execute(
        f"""
        INSERT INTO {t["auditedwalletdifference"]} (entry_id, user_id, problem)
        SELECT COALESCE(d.entry_id, s.entry_id), COALESCE(d.user_id, s.user_id),
               CASE WHEN s.entry_id IS NULL THEN %s ELSE %s END
        FROM ({wallet_lines_derived_sql(entries)}) d
        FULL JOIN ({stored}) s ON s.user_id = d.user_id AND s.entry_id = d.entry_id AND s.created_at = d.created_at
        WHERE d.entry_id IS NULL OR s.entry_id IS NULL
        """,  # noqa: S608 (table names from the models, values as parameters)
        [AuditedWalletDifference.Problem.MISSING, AuditedWalletDifference.Problem.EXTRA],
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


def _figures_values(queryset) -> list[tuple]:
    with audit_figures():
        return list(queryset.iterator(chunk_size=1000))


def check_entries_balance() -> list[str]:
    problems = AuditedEntry.objects.filter(AuditedEntry.PROBLEMS).order_by("entry_id")  # the partial index
    rows = _figures_values(problems.values_list("entry__reference", "total", "legs"))
    return [
        f"Entry {reference} does not balance: its {legs} posting(s) sum to {format_money(_money(total))}."
        if _money(total)
        else f"Entry {reference} has {legs} posting(s); an entry needs at least two."
        for reference, total, legs in rows
    ]


def check_ledger_sums_to_zero() -> list[str]:
    ((total,),) = _figures_rows(f"SELECT COALESCE(SUM(total), 0) FROM {_tables()['auditedentry']}", [])  # noqa: S608
    total = _money(total)
    return [] if total == 0 else [f"All postings together sum to {format_money(total)}, not zero."]


def _accounts_whose_balance(kinds, condition: str) -> list[Account]:
    """Accounts of `kinds` whose balance meets `condition` (SQL on `balance`, false for zero: an account no posting
    moved has no kept balance), with `balance` set."""
    t = _tables()
    marks = ", ".join(["%s"] * len(kinds))
    found = dict(
        _figures_rows(
            f"SELECT a.id, b.balance FROM {t['auditedbalance']} b JOIN {t['account']} a ON a.id = b.account_id "  # noqa: S608
            f"WHERE a.kind IN ({marks}) AND b.{condition} ORDER BY a.id",
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


def check_holds() -> list[str]:
    """Each hold: funded by exactly one entry, of exactly its amount; ended (released or settled) at most
    once, and empty once ended."""
    problems = AuditedHold.objects.filter(AuditedHold.PROBLEMS).order_by("hold_id")  # the partial index
    rows = _figures_values(problems.values_list("reference", "amount", "funds", "ends", "funded", "balance"))
    violations = []
    for reference, amount, funds, ends, funded, balance in rows:
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
    t = _tables()
    sql = f"""
        WITH per_items AS (
            SELECT intent_id, COUNT(*) AS n_items FROM {t["paymentitem"]} GROUP BY intent_id
        ), figures AS (
            SELECT i.id, i.kind, i.amount,
                   COALESCE(e.charges, 0) AS n_charges, COALESCE(e.charged, 0) AS charged,
                   COALESCE(e.refunds, 0) AS n_refunds, COALESCE(e.refunded, 0) AS refunded,
                   COALESCE(e.paid, 0) AS n_paid, COALESCE(n.n_items, 0) AS n_items
            FROM {t["paymentintent"]} i
            LEFT JOIN {t["auditedintent"]} e ON e.intent_id = i.id
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
    params = [PaymentIntent.State.SUCCEEDED, PaymentIntent.Kind.REFUND]
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
    t = _tables()
    marks = ", ".join(["%s"] * len(EARNING_KINDS))
    # The entries' references are read for the entries found wanting only (a join of every entry cost a third).
    sql = f"""
        WITH wanting AS MATERIALIZED (
            SELECT f.entry_id, f.earnings, COALESCE(tr.amount, 0) AS transferred
            FROM {t["auditedentry"]} f LEFT JOIN {t["transfer"]} tr ON tr.entry_id = f.entry_id
            WHERE f.kind IN ({marks}) AND f.earnings <> COALESCE(tr.amount, 0)
        )
        SELECT e.reference, w.earnings, w.transferred FROM wanting w JOIN {t["entry"]} e ON e.id = w.entry_id
        ORDER BY w.entry_id
    """  # noqa: S608 (table names from the models, values as parameters)
    return [
        f"Entry {reference} credited {format_money(_money(credited))} but transfers "
        f"{format_money(_money(transferred))} to the payee's payout account."
        for reference, credited, transferred in _figures_rows(sql, list(EARNING_KINDS))
    ]


def check_wallet_lines() -> list[str]:
    # The wallet lines index the entries (escrow.ledger writes them with each entry): derived again from the entries
    # (`_compare_wallet_lines`), any line missing or left over is reported.
    differences = AuditedWalletDifference.objects.order_by("user_id", "entry_id").values_list(
        "problem", "user_id", "entry_id"
    )
    with audit_figures():
        return [
            f"Entry #{entry_id} is missing from the wallet of user #{user_id}."
            if problem == AuditedWalletDifference.Problem.MISSING
            else f"The wallet of user #{user_id} lists entry #{entry_id}, which does not concern them."
            for problem, user_id, entry_id in differences.iterator(chunk_size=1000)
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
# a second connection while this one brings the figures up to date and runs the others.
# Inside a transaction (a test's) a second connection could not see its rows, so they run in turn.
APART_CHECKS: list[Check] = [
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
