"""Reads: balances and statements, always summed from postings (never stored).

Every function here runs a fixed number of queries, whatever the number of entries.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import DecimalField, F, Func, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce

from marketplace.money import ZERO, platform_fee, to_money

from .models import Account, Entry, PaymentIntent, PaymentItem, Posting

Kind = Account.Kind
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)

# The accounts a user sees on their statement: money they paid in, their credit, their earnings.
STATEMENT_KINDS = (Kind.USER_FUNDING, Kind.USER_CREDIT, Kind.USER_AVAILABLE)


def account_balance(account: Account) -> Decimal:
    total = Posting.objects.filter(account=account).aggregate(total=Sum("amount", default=ZERO))["total"]
    return to_money(total)


def _sum_of_postings(accounts: QuerySet[Account]) -> Coalesce:
    """The sum of the postings on `accounts` (a subquery), 0.00 when there are none."""
    postings = (
        Posting.objects.filter(account__in=accounts.values("pk"))
        .order_by()
        .values(total=Func("amount", function="SUM"))
    )
    return Coalesce(Subquery(postings[:1]), ZERO, output_field=MONEY_FIELD)


def user_balances(user) -> dict[str, Decimal]:
    """{"available", "credit", "in_escrow_as_payer", "in_escrow_as_payee"} in one query.

    available: earnings the user can withdraw; credit: refunds kept for their next payment;
    in_escrow_as_payer: money they paid that is still held; in_escrow_as_payee: money held for them.

    Each figure is its own subquery that starts from the user's accounts (the user's own, or the escrow
    accounts of the holds they pay or receive, through the indexes on hold.payer/payee), so the cost
    follows the user's own history, never the size of the platform's ledger.
    """
    accounts = Account.objects.filter(user=user)
    holds = Account.objects.filter(kind=Kind.ESCROW_HOLD)
    figures = {
        "available": accounts.filter(kind=Kind.USER_AVAILABLE),
        "credit": accounts.filter(kind=Kind.USER_CREDIT),
        "in_escrow_as_payer": holds.filter(hold__payer=user),
        "in_escrow_as_payee": holds.filter(hold__payee=user),
    }
    sums = {name: _sum_of_postings(queryset) for name, queryset in figures.items()}
    row = get_user_model().objects.filter(pk=user.pk).values(**sums).first() if user.pk else None
    return {name: to_money(row[name] if row else ZERO) for name in figures}


def hold_balance(reference: str) -> Decimal:
    """What is still held for `reference` (0.00 if it was never funded, or was released or refunded)."""
    return hold_balances([reference])[reference]


def hold_balances(references: list[str]) -> dict[str, Decimal]:
    """Every reference's held balance in one query; references never funded map to 0.00."""
    balances = {reference: ZERO for reference in references}
    rows = (
        Posting.objects.filter(account__kind=Kind.ESCROW_HOLD, account__reference__in=list(balances))
        .values("account__reference")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        balances[row["account__reference"]] = to_money(row["total"])
    return balances


def user_statement(user) -> QuerySet[Posting]:
    """Every posting on the user's own accounts, newest first, as a lazy queryset (paginate it).

    Each row has `running_balance` (the account's balance after that posting, computed by the
    database over the whole history, so it stays right on any page), `entry` (memo, created_at),
    `entry.hold` (label, link_url; None for card payments, credit use and payouts) and `account`
    (kind). One query per page, plus the paginator's count.
    """
    return (
        Posting.objects.filter(account__user=user, account__kind__in=STATEMENT_KINDS)
        .select_related("entry", "entry__hold", "account")
        .annotate(
            running_balance=Window(
                Sum("amount"),
                partition_by=[F("account_id")],
                order_by=[F("entry__created_at").asc(), F("id").asc()],
            )
        )
        .order_by("-entry__created_at", "-id")
    )


# --- what a hold holds, and what releasing it pays ----------------------------------------------------


def release_quote(*, amount: Decimal, fee: Decimal, held: Decimal) -> tuple[Decimal, Decimal]:
    """(fee, net) of releasing `held` from a hold agreed at `amount` with `fee`.

    The whole amount pays exactly the fee agreed up front; after a partial refund the fee is taken on
    what is released, at the hold's own rate, rounded like every fee. `hold_release` posts this quote.
    """
    if held <= 0:
        return ZERO, ZERO
    if held == amount:
        quoted = fee
    else:
        quoted = min(platform_fee(held, percent=fee * 100 / amount), held)
    return quoted, held - quoted


@dataclass(frozen=True)
class HoldSummary:
    """A hold's money as the ledger records it (all zero for a reference never funded)."""

    funded: Decimal = ZERO
    refunded: Decimal = ZERO
    released: Decimal = ZERO  # what left escrow for the payee, before the fee
    release_fee: Decimal = ZERO
    paid_to_payee: Decimal = ZERO

    @property
    def held(self) -> Decimal:
        return self.funded - self.refunded - self.released


_REFUND_KINDS = (Entry.Kind.REFUND_CREDIT, Entry.Kind.REFUND_CARD)
_RELEASE_KINDS = (Entry.Kind.RELEASE, Entry.Kind.PARTIAL_RELEASE)


def hold_summaries(references: list[str]) -> dict[str, HoldSummary]:
    """Every reference's funded / refunded / released amounts, in one query over the holds' own entries."""
    sums: dict[str, dict[str, Decimal]] = {reference: {} for reference in references}
    rows = (
        Posting.objects.filter(entry__hold__reference__in=list(sums))
        .values("entry__hold__reference", "entry__kind", "account__kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        values = sums[row["entry__hold__reference"]]
        kind, account, total = row["entry__kind"], row["account__kind"], to_money(row["total"])

        def add(name, amount, values=values):
            values[name] = values.get(name, ZERO) + amount

        if account == Kind.ESCROW_HOLD:
            if kind == Entry.Kind.FUND:
                add("funded", total)
            elif kind in _REFUND_KINDS:
                add("refunded", -total)
            elif kind in _RELEASE_KINDS:
                add("released", -total)
        elif kind in _RELEASE_KINDS + (Entry.Kind.SETTLEMENT,) and account == Kind.PLATFORM_FEES:
            add("release_fee", total)
        elif kind in _RELEASE_KINDS + (Entry.Kind.SETTLEMENT,) and account == Kind.USER_AVAILABLE:
            add("paid_to_payee", total)
        elif kind == Entry.Kind.SETTLEMENT:  # the payer's part: to their credit or back to the card
            add("refunded", total)
    for values in sums.values():  # a settlement's released part is what the payee and the fee received
        settled = values.get("paid_to_payee", ZERO) + values.get("release_fee", ZERO) - values.get("released", ZERO)
        if settled > 0:
            values["released"] = values.get("released", ZERO) + settled
    return {reference: HoldSummary(**values) for reference, values in sums.items()}


def entry_split(entry: Entry) -> dict[str, Decimal]:
    """An entry's postings summed by account kind, e.g. {"escrow_hold": -100, "user_available": 90, ...}."""
    rows = entry.postings.values("account__kind").annotate(total=Sum("amount")).order_by()
    return {row["account__kind"]: to_money(row["total"]) for row in rows}


def earnings_by_user(user_ids) -> dict[int, Decimal]:
    """What each user has earned in total (everything that came into their earnings: releases, bonuses,
    settlements, after fees; a failed payout coming back is not an earning), in one query. 0.00 for none."""
    totals = {pk: ZERO for pk in user_ids}
    rows = (
        Posting.objects.filter(account__kind=Kind.USER_AVAILABLE, account__user_id__in=list(totals), amount__gt=0)
        .exclude(entry__kind=Entry.Kind.PAYOUT_REVERSAL)
        .values("account__user_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in rows:
        totals[row["account__user_id"]] = to_money(row["total"])
    return totals


def open_payments(references: list[str]) -> dict[str, PaymentIntent]:
    """{reference: its open payment} for the references with a payment started but not yet confirmed
    ("Payment processing"), in one query. References without one are absent."""
    items = PaymentItem.objects.filter(reference__in=list(references), open=True).select_related("intent")
    return {item.reference: item.intent for item in items}


def payment_for_key(*, payer, idempotency_key: str) -> PaymentIntent | None:
    """The payer's payment started with this idempotency key (a replayed form), if any."""
    return PaymentIntent.objects.filter(payer=payer, idempotency_key=idempotency_key).first()


def entry_for(reference: str) -> Entry:
    return Entry.objects.get(reference=reference)
