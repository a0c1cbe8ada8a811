"""Milestone-level ledger invariants, run by `manage.py escrow_audit` (settings.ESCROW_AUDIT_CHECKS).

A milestone's escrow hold holds its amount (less partial refunds and parts released early) while the money
is in escrow, and nothing once it is released, settled or refunded; a milestone that was never funded has no
hold; a released milestone was paid by a release or a settlement, and nothing else was.

One SQL statement over escrow's audit figures (the postings summed once per entry and per account,
`escrow.audit.audit_figures`): the per-hold figures are aggregated from those (hash joins, no
per-milestone queries), the invariants are tested in the WHERE clause, and only the milestones that break one come
back to Python, read in chunks. Time grows linearly with the ledger and memory stays flat.
"""

from decimal import Decimal

from django.db import connection

from escrow.audit import ACCOUNT_FIGURES, ENTRY_FIGURES, audit_figures
from escrow.models import Account, Entry, Hold
from marketplace.money import to_money

from .models import Milestone

S = Milestone.State
REFERENCE_PREFIX = Milestone.hold_reference_for(0).removesuffix("0")  # "milestone:"
assert Milestone.hold_reference_for(42) == f"{REFERENCE_PREFIX}42"


def _sql() -> tuple[str, list]:
    q = connection.ops.quote_name
    milestone, hold = q(Milestone._meta.db_table), q(Hold._meta.db_table)
    held = list(Milestone.HELD_STATES)
    never_funded = [S.DRAFT, S.CANCELLED]
    marks = ", ".join(["%s"] * len(held))
    never_marks = ", ".join(["%s"] * len(never_funded))
    sql = f"""
        WITH balances AS (
            SELECT hold_id, balance FROM {ACCOUNT_FIGURES} WHERE kind = %s
        ), left_early AS (
            -- What left each hold before the end: refunds and parts released early (their escrow legs).
            SELECT hold_id, -SUM(escrow) AS left_early
            FROM {ENTRY_FIGURES}
            WHERE kind IN (%s, %s, %s) AND hold_id IS NOT NULL
            GROUP BY hold_id
        ), releases AS (
            -- A milestone is paid by a release, or by a dispute's settlement that paid the freelancer something.
            SELECT DISTINCT hold_id
            FROM {ENTRY_FIGURES}
            WHERE hold_id IS NOT NULL AND (kind = %s OR (kind = %s AND earnings_legs > 0))
        ), figures AS (
            SELECT m.id, m.state, m.amount,
                   h.id AS hold_id, h.amount AS funded,
                   COALESCE(b.balance, 0) AS balance,
                   COALESCE(r.left_early, 0) AS left_early,
                   rel.hold_id IS NOT NULL AS released
            FROM {milestone} m
            LEFT JOIN {hold} h ON h.reference = %s || CAST(m.id AS TEXT)
            LEFT JOIN balances b ON b.hold_id = h.id
            LEFT JOIN left_early r ON r.hold_id = h.id
            LEFT JOIN releases rel ON rel.hold_id = h.id
        )
        SELECT id, state, amount, hold_id, funded, balance, left_early, released
        FROM figures
        WHERE CASE
            -- A payment confirmed after staff cancelled the milestone is refunded whole at once: no violation.
            WHEN state IN ({never_marks}) THEN hold_id IS NOT NULL
                 AND NOT (state = %s AND left_early = funded AND NOT released)
            WHEN hold_id IS NULL THEN 1 = 1
            ELSE funded <> amount
                 OR (state IN ({marks}) AND (balance <> amount - left_early OR balance <= 0))
                 OR (state NOT IN ({marks}) AND balance <> 0)
                 OR (state = %s AND NOT released)
                 OR (state <> %s AND released)
        END
        ORDER BY id
    """  # noqa: S608 (table names from the models, values as parameters)
    params = [
        Account.Kind.ESCROW_HOLD,
        Entry.Kind.REFUND_CREDIT,
        Entry.Kind.REFUND_CARD,
        Entry.Kind.PARTIAL_RELEASE,
        Entry.Kind.RELEASE,
        Entry.Kind.SETTLEMENT,
        REFERENCE_PREFIX,
        *never_funded,
        S.CANCELLED,
        *held,
        *held,
        S.RELEASED,
        S.RELEASED,
    ]
    return sql, params


def _money(value) -> Decimal:
    # PostgreSQL returns Decimal; SQLite's sums of NUMERIC columns may come back as int or float.
    return to_money(str(value) if isinstance(value, float) else value)


def _violations_of(pk, state, amount, hold_id, funded, balance, left_early, released) -> list[str]:
    """The same rules as the SQL above, worded for one milestone the SQL flagged."""
    label = f"Milestone #{pk} ({state})"
    amount, balance, left_early = _money(amount), _money(balance), _money(left_early)
    if state in (S.DRAFT, S.CANCELLED):
        paid_back = state == S.CANCELLED and left_early == _money(funded) and not released
        never = hold_id is not None and not paid_back
        return [f"{label} has an escrow hold although it was never funded."] if never else []
    if hold_id is None:  # every other state is reached through funding
        return [f"{label} has no funding entry in escrow."]
    found = []
    funded = _money(funded)
    if funded != amount:
        found.append(f"{label} was funded {funded} for an amount of {amount}.")
    if state in Milestone.HELD_STATES:
        expected = amount - left_early
        if balance != expected or balance <= 0:
            found.append(f"{label} holds {balance} in escrow; expected {expected}.")
    elif balance != 0:
        found.append(f"{label} still holds {balance} in escrow.")
    if state == S.RELEASED and not released:
        found.append(f"{label} has no release entry.")
    if state != S.RELEASED and released:
        found.append(f"{label} was released in the ledger but not in the contract.")
    return found


def milestone_checks(chunk_size: int = 1000) -> list[str]:
    sql, params = _sql()
    violations = []
    with audit_figures(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                violations.extend(_violations_of(*row))
    return violations
