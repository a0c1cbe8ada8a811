"""Ledger audit: recompute every invariant from the raw rows and list what is wrong.

`run_audit()` returns one human-readable line per violation (empty: the ledger is consistent).
Other apps add their own checks through the ESCROW_AUDIT_CHECKS setting: a list of dotted paths to
functions taking no argument and returning a list of violation strings (the contracts app adds
milestone-level checks this way, so escrow never imports contracts). Each check is a few aggregate
queries, whatever the size of the ledger.
"""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, CharField, Count, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.module_loading import import_string

from marketplace.money import ZERO, format_money

from .models import Account, Charge, Entry, Hold, Payout, Posting

Check = Callable[[], list[str]]


def check_entries_balance() -> list[str]:
    rows = (
        Entry.objects.annotate(total=Sum("postings__amount", default=ZERO), legs=Count("postings"))
        .filter(~Q(total=0) | Q(legs__lt=2))
        .order_by("id")
        .values_list("reference", "total", "legs")
    )
    return [
        f"Entry {reference} does not balance: its {legs} posting(s) sum to {format_money(total)}."
        if total
        else f"Entry {reference} has {legs} posting(s); an entry needs at least two."
        for reference, total, legs in rows
    ]


def check_ledger_sums_to_zero() -> list[str]:
    total = Posting.objects.aggregate(total=Sum("amount", default=ZERO))["total"]
    return [] if total == 0 else [f"All postings together sum to {format_money(total)}, not zero."]


def check_no_negative_balances() -> list[str]:
    rows = (
        Account.objects.filter(kind__in=Account.NON_NEGATIVE_KINDS)
        .annotate(balance=Sum("postings__amount", default=ZERO))
        .filter(balance__lt=0)
        .select_related("user")
        .order_by("id")
    )
    return [f"{account} has a negative balance: {format_money(account.balance)}." for account in rows]


def check_funding_accounts_settle() -> list[str]:
    # Money a client pays in goes on into holds (or a bonus) in the same transaction: at rest it is zero.
    rows = (
        Account.objects.filter(kind=Account.Kind.USER_FUNDING)
        .annotate(balance=Sum("postings__amount", default=ZERO))
        .exclude(balance=0)
        .select_related("user")
        .order_by("id")
    )
    return [f"{account} is not settled: {format_money(account.balance)} is left over." for account in rows]


def check_holds_funded_once() -> list[str]:
    rows = (
        Hold.objects.annotate(funds=Count("entries", filter=Q(entries__kind=Entry.Kind.FUND)))
        .exclude(funds=1)
        .order_by("id")
        .values_list("reference", "funds")
    )
    return [f"Hold {reference} has {funds} funding entries; it must have exactly one." for reference, funds in rows]


# A hold ends once: by one release of what is left, or by one settlement that splits it.
ENDING_KINDS = (Entry.Kind.RELEASE, Entry.Kind.SETTLEMENT)


def check_holds_released_once() -> list[str]:
    rows = (
        Hold.objects.annotate(releases=Count("entries", filter=Q(entries__kind__in=ENDING_KINDS)))
        .filter(releases__gt=1)
        .order_by("id")
        .values_list("reference", "releases")
    )
    return [f"Hold {reference} was released or settled {releases} times." for reference, releases in rows]


def check_released_holds_are_empty() -> list[str]:
    released = Entry.objects.filter(kind__in=ENDING_KINDS).values("hold_id")
    rows = (
        Account.objects.filter(kind=Account.Kind.ESCROW_HOLD, hold_id__in=released)
        .annotate(balance=Sum("postings__amount", default=ZERO))
        .exclude(balance=0)
        .order_by("id")
    )
    return [
        f"Hold {account.reference} was released or settled but still holds {format_money(account.balance)}."
        for account in rows
    ]


def _sum_of(postings) -> Subquery:
    """A correlated subquery: the sum of `postings` (already filtered on OuterRef), or 0.00."""
    return Coalesce(
        Subquery(postings.order_by().values("entry__kind").annotate(total=Sum("amount")).values("total")[:1]),
        ZERO,
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def _reference_of(prefix: str) -> Concat:
    """`<prefix><pk of the outer row>`, e.g. charge:17: the entry reference a Charge or Payout gets."""
    return Concat(Value(prefix), Cast(OuterRef("pk"), output_field=CharField()), output_field=CharField())


def check_fund_entries_match_holds() -> list[str]:
    # The money moved into escrow is exactly the amount agreed for the hold.
    put_in = Posting.objects.filter(
        entry__hold=OuterRef("pk"), entry__kind=Entry.Kind.FUND, account__kind=Account.Kind.ESCROW_HOLD
    )
    rows = Hold.objects.annotate(funded=_sum_of(put_in)).exclude(funded=0).exclude(funded=F("amount")).order_by("id")
    return [
        f"Hold {hold.reference} is for {format_money(hold.amount)} but {format_money(hold.funded)} was put in escrow."
        for hold in rows
    ]


def check_charges_recorded() -> list[str]:
    # A card payment that succeeded reached the ledger for exactly its amount; a failed one did not.
    taken = Posting.objects.filter(
        entry__reference=_reference_of("charge:"), entry__kind=Entry.Kind.CHARGE, account__kind=Account.Kind.GATEWAY
    )
    rows = (
        Charge.objects.exclude(status=Charge.Status.PENDING)
        .annotate(
            posted=-_sum_of(taken),
            expected=Case(When(status=Charge.Status.SUCCEEDED, then=F("amount")), default=Value(ZERO)),
        )
        .exclude(posted=F("expected"))
        .order_by("id")
    )
    return [
        f"Charge #{charge.pk} ({charge.status}, {format_money(charge.amount)}) is recorded in the ledger "
        f"as {format_money(charge.posted)}."
        for charge in rows
    ]


def check_payouts_recorded() -> list[str]:
    # Every payout took the money out of the user's earnings; a failed one gave it back.
    rows = (
        Payout.objects.annotate(
            paid=Exists(Entry.objects.filter(reference=_reference_of("payout:"), kind=Entry.Kind.PAYOUT)),
            reversed=Exists(
                Entry.objects.filter(reference=_reference_of("payout-reversal:"), kind=Entry.Kind.PAYOUT_REVERSAL)
            ),
        )
        .filter(
            Q(paid=False)
            | Q(reversed=True, status__in=[Payout.Status.PENDING, Payout.Status.PAID])
            | Q(reversed=False, status=Payout.Status.FAILED)
        )
        .order_by("id")
    )
    violations = []
    for payout in rows:
        if not payout.paid:
            violations.append(f"Payout #{payout.pk} ({format_money(payout.amount)}) has no ledger entry.")
        elif payout.reversed:
            violations.append(f"Payout #{payout.pk} is {payout.status} but was reversed in the ledger.")
        else:
            violations.append(f"Payout #{payout.pk} failed but its money was not returned in the ledger.")
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


BUILTIN_CHECKS: list[Check] = [
    check_entries_balance,
    check_ledger_sums_to_zero,
    check_no_negative_balances,
    check_funding_accounts_settle,
    check_holds_funded_once,
    check_holds_released_once,
    check_released_holds_are_empty,
    check_fund_entries_match_holds,
    check_charges_recorded,
    check_payouts_recorded,
    check_no_stuck_payouts,
]


def registered_checks() -> list[Check]:
    """The built-in checks followed by those named in settings.ESCROW_AUDIT_CHECKS (default: none)."""
    extra = [import_string(path) for path in getattr(settings, "ESCROW_AUDIT_CHECKS", [])]
    return [*BUILTIN_CHECKS, *extra]


def run_audit() -> list[str]:
    violations: list[str] = []
    for check in registered_checks():
        violations.extend(check())
    return violations
