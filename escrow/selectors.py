"""Reads: balances and statements, always summed from postings (never stored).

Every function here runs a fixed number of queries, whatever the number of entries.
"""

from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum, Window

from marketplace.money import ZERO, to_money

from .models import Account, Posting

Kind = Account.Kind

# The accounts a user sees on their statement: money they paid in, their credit, their earnings.
STATEMENT_KINDS = (Kind.USER_FUNDING, Kind.USER_CREDIT, Kind.USER_AVAILABLE)


def account_balance(account: Account) -> Decimal:
    total = Posting.objects.filter(account=account).aggregate(total=Sum("amount", default=ZERO))["total"]
    return to_money(total)


def user_balances(user) -> dict[str, Decimal]:
    """{"available", "credit", "in_escrow_as_payer", "in_escrow_as_payee"} in one query.

    available: earnings the user can withdraw; credit: refunds kept for their next payment;
    in_escrow_as_payer: money they paid that is still held; in_escrow_as_payee: money held for them.
    """
    own = Q(account__user=user, account__kind__in=[Kind.USER_AVAILABLE, Kind.USER_CREDIT])
    held = Q(account__kind=Kind.ESCROW_HOLD) & (Q(account__hold__payer=user) | Q(account__hold__payee=user))
    totals = Posting.objects.filter(own | held).aggregate(
        available=Sum("amount", filter=Q(account__user=user, account__kind=Kind.USER_AVAILABLE), default=ZERO),
        credit=Sum("amount", filter=Q(account__user=user, account__kind=Kind.USER_CREDIT), default=ZERO),
        in_escrow_as_payer=Sum(
            "amount", filter=Q(account__kind=Kind.ESCROW_HOLD, account__hold__payer=user), default=ZERO
        ),
        in_escrow_as_payee=Sum(
            "amount", filter=Q(account__kind=Kind.ESCROW_HOLD, account__hold__payee=user), default=ZERO
        ),
    )
    return {name: to_money(value) for name, value in totals.items()}


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
