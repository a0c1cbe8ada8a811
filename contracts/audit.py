"""Milestone-level ledger invariants, run by `manage.py escrow_audit` (settings.ESCROW_AUDIT_CHECKS).

A milestone's escrow hold holds its amount (less partial refunds and parts released early) while the money
is in escrow, and nothing once it is released, settled or refunded; a milestone that was never funded has no
hold; a released milestone was paid by a release or a settlement, and nothing else was.
"""

from decimal import Decimal

from escrow.models import Entry, Hold
from escrow.selectors import hold_balances

from .models import Milestone

S = Milestone.State


def milestone_checks() -> list[str]:
    milestones = list(Milestone.objects.values_list("pk", "state", "amount"))
    references = {pk: Milestone.hold_reference_for(pk) for pk, _state, _amount in milestones}
    holds = dict(Hold.objects.filter(reference__in=references.values()).values_list("reference", "amount"))
    balances = hold_balances(list(holds))
    # What left each hold before the end: refunds, and parts released early (each entry's escrow leg).
    left_early = {}
    for reference, amount in Entry.objects.filter(
        hold__reference__in=holds,
        kind__in=[Entry.Kind.REFUND_CREDIT, Entry.Kind.REFUND_CARD, Entry.Kind.PARTIAL_RELEASE],
        postings__account__kind="escrow_hold",
    ).values_list("hold__reference", "postings__amount"):
        left_early[reference] = left_early.get(reference, Decimal("0.00")) - amount
    # A milestone is paid by a release, or by a dispute's settlement that paid the freelancer something.
    released = set(
        Entry.objects.filter(kind=Entry.Kind.RELEASE, hold__reference__in=holds).values_list(
            "hold__reference", flat=True
        )
    ) | set(
        Entry.objects.filter(
            kind=Entry.Kind.SETTLEMENT, hold__reference__in=holds, postings__account__kind="user_available"
        ).values_list("hold__reference", flat=True)
    )

    violations = []
    for pk, state, amount in milestones:
        reference = references[pk]
        label = f"Milestone #{pk} ({state})"
        if state in (S.DRAFT, S.CANCELLED):
            if reference in holds:
                violations.append(f"{label} has an escrow hold although it was never funded.")
            continue
        if reference not in holds:  # every other state is reached through funding
            violations.append(f"{label} has no funding entry in escrow.")
            continue
        if holds[reference] != amount:
            violations.append(f"{label} was funded {holds[reference]} for an amount of {amount}.")
        balance = balances.get(reference, Decimal("0.00"))
        if state in Milestone.HELD_STATES:
            expected = amount - left_early.get(reference, Decimal("0.00"))
            if balance != expected or balance <= 0:
                violations.append(f"{label} holds {balance} in escrow; expected {expected}.")
        elif balance != 0:
            violations.append(f"{label} still holds {balance} in escrow.")
        if state == S.RELEASED and reference not in released:
            violations.append(f"{label} has no release entry.")
        if state != S.RELEASED and reference in released:
            violations.append(f"{label} was released in the ledger but not in the contract.")
    return violations
