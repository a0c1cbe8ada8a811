"""Ledger audit: recompute every invariant from the raw rows and list what is wrong.

`run_audit()` returns one human-readable line per violation (empty: the ledger is consistent).
Other apps add their own checks through the ESCROW_AUDIT_CHECKS setting: a list of dotted paths to
functions taking no argument and returning a list of violation strings (the contracts app adds
milestone-level checks this way, so escrow never imports contracts). Each check is a few aggregate
queries, whatever the size of the ledger.
"""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.module_loading import import_string

from marketplace.money import ZERO, format_money, to_money

from .models import Account, Entry, Hold, PaymentIntent, Payout, Posting

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


def _accounts_whose_balance(kinds, condition: Q) -> QuerySet[Account]:
    """Accounts of `kinds` whose balance meets `condition` (on `balance`), with `balance` annotated.

    The postings are summed per account in one pass over the postings table alone (no join before the
    aggregate); only the accounts found are then read, with their balance."""
    balances = Posting.objects.order_by().values("account_id").annotate(balance=Sum("amount")).filter(condition)
    balance = Posting.objects.filter(account=OuterRef("pk")).order_by().values("account").annotate(t=Sum("amount"))
    return (
        Account.objects.filter(kind__in=kinds, pk__in=balances.values("account_id"))
        .annotate(balance=Subquery(balance.values("t")[:1]))
        .select_related("user")
        .order_by("id")
    )


def check_no_negative_balances() -> list[str]:
    rows = _accounts_whose_balance(Account.NON_NEGATIVE_KINDS, Q(balance__lt=0))
    return [f"{account} has a negative balance: {format_money(account.balance)}." for account in rows]


def check_funding_accounts_settle() -> list[str]:
    # Money a client pays in goes on into holds (or a bonus) when the payment is confirmed: at rest the
    # funding account holds only the credit set aside for their payments still open.
    rows = list(_accounts_whose_balance([Account.Kind.USER_FUNDING], ~Q(balance=0)))
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


def _tables() -> dict[str, str]:
    q = connection.ops.quote_name
    models = {"hold": Hold, "entry": Entry, "posting": Posting, "account": Account, "payout": Payout}
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


def check_fund_entries_match_holds() -> list[str]:
    # The money moved into escrow is exactly the amount agreed for the hold.
    t = _tables()
    sql = f"""
        WITH funded AS (
            SELECT e.hold_id, SUM(p.amount) AS funded
            FROM {t["entry"]} e
            JOIN {t["posting"]} p ON p.entry_id = e.id
            JOIN {t["account"]} a ON a.id = p.account_id
            WHERE e.kind = %s AND a.kind = %s
            GROUP BY e.hold_id
        )
        SELECT h.reference, h.amount, f.funded
        FROM {t["hold"]} h JOIN funded f ON f.hold_id = h.id
        WHERE f.funded <> 0 AND f.funded <> h.amount
        ORDER BY h.id
    """  # noqa: S608 (table names from the models, values as parameters)
    violations = []
    for reference, amount, funded in _rows(sql, [Entry.Kind.FUND, Account.Kind.ESCROW_HOLD]):
        amount, funded = _money(amount), _money(funded)
        if funded != amount:
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


def _sum_of(postings) -> Subquery:
    """A correlated subquery: the sum of `postings` (already filtered on OuterRef), or 0.00."""
    return Coalesce(
        Subquery(postings.order_by().values("entry__kind").annotate(total=Sum("amount")).values("total")[:1]),
        ZERO,
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


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
    charged = Posting.objects.filter(
        entry__intent=OuterRef("pk"), entry__kind=Entry.Kind.CHARGE, account__kind=Account.Kind.GATEWAY
    )
    refunded = Posting.objects.filter(
        entry__intent=OuterRef("pk"),
        entry__kind__in=[Entry.Kind.REFUND_CARD, Entry.Kind.SETTLEMENT],
        account__kind=Account.Kind.GATEWAY,
    )
    rows = (
        PaymentIntent.objects.filter(state=PaymentIntent.State.SUCCEEDED)
        .annotate(
            n_charges=Count("entries", filter=Q(entries__kind=Entry.Kind.CHARGE), distinct=True),
            charged=-_sum_of(charged),
            n_refunds=Count(
                "entries", filter=Q(entries__kind__in=[Entry.Kind.REFUND_CARD, Entry.Kind.SETTLEMENT]), distinct=True
            ),
            refunded=_sum_of(refunded),
            n_items=Count("items", distinct=True),
            n_paid=Count("entries", filter=Q(entries__kind__in=[Entry.Kind.FUND, Entry.Kind.BONUS]), distinct=True),
        )
        .filter(
            (Q(kind=PaymentIntent.Kind.REFUND) & (~Q(n_refunds=1) | ~Q(refunded=F("amount"))))
            | (
                ~Q(kind=PaymentIntent.Kind.REFUND)
                & (
                    (Q(amount__gt=0) & (~Q(n_charges=1) | ~Q(charged=F("amount"))))
                    | (Q(amount=0) & ~Q(n_charges=0))
                    | ~Q(n_paid=F("n_items"))
                )
            )
        )
        .order_by("id")
    )
    return [
        f"Payment #{intent.pk} ({intent.kind}, {format_money(intent.amount)}) succeeded but its ledger entries do not "
        f"match: {intent.n_charges} card payment(s) for {format_money(intent.charged)}, {intent.n_paid} of "
        f"{intent.n_items} item(s) posted, {intent.n_refunds} refund(s)."
        for intent in rows
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
    credited = Posting.objects.filter(entry=OuterRef("pk"), account__kind=Account.Kind.USER_AVAILABLE)
    rows = (
        Entry.objects.filter(kind__in=EARNING_KINDS)
        .annotate(credited=_sum_of(credited), transferred=Coalesce(F("transfer__amount"), ZERO))
        .exclude(credited=F("transferred"))
        .order_by("id")
    )
    return [
        f"Entry {entry.reference} credited {format_money(entry.credited)} but transfers "
        f"{format_money(entry.transferred)} to the payee's payout account."
        for entry in rows
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
    check_payouts_recorded,
    check_no_stuck_payouts,
    check_entries_have_succeeded_payments,
    check_succeeded_payments_posted,
    check_unconfirmed_payments_unposted,
    check_earnings_transferred_once,
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
