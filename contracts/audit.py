"""Milestone-level ledger invariants, run by `manage.py escrow_audit` (settings.ESCROW_AUDIT_CHECKS).

A milestone's escrow hold holds its amount (less partial refunds and parts released early) while the money
is in escrow, and nothing once it is released, settled or refunded; a milestone that was never funded has no
hold; a released milestone was paid by a release or a settlement, and nothing else was.

One SQL statement over the hold figures escrow's audit keeps (`AuditedHold`, one per hold, brought up to date by
`escrow.audit.audit_figures`): milestones and figures in one hash join, no per-milestone queries; the invariants
are tested in the WHERE clause, and only the milestones that break one come back to Python, read in chunks. Memory
stays flat.
"""

from decimal import Decimal

from django.db import connection

from escrow.audit import audit_figures
from escrow.models import AuditedHold
from marketplace.money import to_money

from .models import Milestone

S = Milestone.State
REFERENCE_PREFIX = Milestone.hold_reference_for(0).removesuffix("0")  # "milestone:"
assert Milestone.hold_reference_for(42) == f"{REFERENCE_PREFIX}42"


def _sql() -> tuple[str, list]:
    q = connection.ops.quote_name
    milestone, figures = q(Milestone._meta.db_table), q(AuditedHold._meta.db_table)
    held = list(Milestone.HELD_STATES)
    never_funded = [S.DRAFT, S.CANCELLED]
    marks = ", ".join(["%s"] * len(held))
    never_marks = ", ".join(["%s"] * len(never_funded))
    sql = f"""
        SELECT id, state, amount, hold_id, funded, balance, left_early, released FROM (
            SELECT m.id, m.state, m.amount, f.hold_id, f.amount AS funded,
                   COALESCE(f.balance, 0) AS balance, COALESCE(f.left_early, 0) AS left_early,
                   COALESCE(f.paid, 0) > 0 AS released
            FROM {milestone} m LEFT JOIN {figures} f ON f.reference = %s || CAST(m.id AS TEXT)
        ) figures
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
    params = [REFERENCE_PREFIX, *never_funded, S.CANCELLED, *held, *held, S.RELEASED, S.RELEASED]
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
