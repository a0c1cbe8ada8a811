"""Reads: balances and statements, always summed from postings (never stored).

Every function here runs a fixed number of queries, whatever the number of entries.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import DecimalField, Exists, Func, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.money import ZERO, platform_fee, to_money

from .models import Account, Entry, Hold, PaymentIntent, PaymentItem, Posting, WalletLine

Kind = Account.Kind
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


def account_balance(account: Account) -> Decimal:
    total = Posting.objects.filter(account=account).aggregate(total=Sum("amount", default=ZERO))["total"]
    return to_money(total)


def accounts_balances(accounts: list[Account]) -> dict[int, Decimal]:
    """Each account's balance by its id, in one query (accounts without postings are left out)."""
    rows = Posting.objects.filter(account__any=accounts).values("account_id").annotate(total=Sum("amount")).order_by()
    return {row["account_id"]: to_money(row["total"]) for row in rows}


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
    sums = _balance_sums(user)
    row = get_user_model().objects.filter(pk=user.pk).values(**sums).first() if user.pk else None
    return {name: to_money(row[name] if row else ZERO) for name in sums}


def _balance_sums(user) -> dict[str, Coalesce]:
    accounts = Account.objects.filter(user=user)
    return {
        "available": _sum_of_postings(accounts.filter(kind=Kind.USER_AVAILABLE)),
        "credit": _sum_of_postings(accounts.filter(kind=Kind.USER_CREDIT)),
        "in_escrow_as_payer": _per_hold(Hold.objects.filter(payer=user), account__hold=OuterRef("pk")),
        "in_escrow_as_payee": _per_hold(Hold.objects.filter(payee=user), account__hold=OuterRef("pk")),
    }


def _per_hold(holds: QuerySet[Hold], **postings) -> Coalesce:
    """The sum, over `holds`, of each hold's postings that match `postings` (a subquery, `OuterRef("pk")` being the
    hold): each hold is followed through its indexes (its account, its entries). Joining all of a user's holds to
    accounts at once instead makes PostgreSQL hash every account of the platform."""
    per_hold = Posting.objects.filter(**postings).order_by().values(total=Func("amount", function="SUM"))
    total = holds.order_by().values(total=Func(Subquery(per_hold, output_field=MONEY_FIELD), function="SUM"))
    return Coalesce(Subquery(total[:1]), ZERO, output_field=MONEY_FIELD)


def _earnings(user) -> QuerySet[Posting]:
    """What the user earned: money in to their earnings account, a payout that bounced back excepted."""
    earnings = Posting.objects.filter(
        account__in=Account.objects.filter(user=user, kind=Kind.USER_AVAILABLE).values("pk")
    )
    return earnings.filter(amount__gt=0).exclude(entry__kind=Entry.Kind.PAYOUT_REVERSAL)


def _payments(user) -> QuerySet[Posting]:
    """Money out of the user's payments account: into escrow, a bonus, or back to their card."""
    funding = Posting.objects.filter(account__in=Account.objects.filter(user=user, kind=Kind.USER_FUNDING).values("pk"))
    return funding.filter(amount__lt=0)


def _roles(user, *, ever_paid, credit, in_escrow, earned, pending, available) -> dict[str, bool]:
    """Which cards the user sees: those of what they do (their roles) and of what they have money in (a former
    freelancer who still has earnings sees them)."""
    return {
        "as_client": bool(user.wants_to_hire or ever_paid or credit or in_escrow),
        "as_freelancer": bool(user.wants_to_work or earned or pending or available),
    }


def balances_summary(user) -> dict:
    """The dashboard's cards: the balances (`available`, `credit`, `in_escrow`, `pending`) and the roles the user has
    money in (`as_client`, `as_freelancer`, as the wallet decides them), in one query; without the all-time totals of
    `wallet_summary`, so whether there were earnings or payments is asked of the index (EXISTS), not summed."""
    sums = _balance_sums(user)
    flags = {"ever_paid": Exists(_payments(user)), "earned": Exists(_earnings(user))}
    row = get_user_model().objects.filter(pk=user.pk).values(**sums, **flags).first() if user.pk else None
    cards = _cards({name: to_money(row[name] if row else ZERO) for name in sums})
    flags = {name: bool(row and row[name]) for name in flags}
    return cards | _roles(user, **flags, **cards)


def _cards(money: dict[str, Decimal]) -> dict[str, Decimal]:
    """The balance cards, as the pages name them, from the figures of `_balance_sums`."""
    return {
        "available": money["available"],
        "credit": money["credit"],
        "in_escrow": money["in_escrow_as_payer"],
        "pending": money["in_escrow_as_payee"],
    }


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


def card_refundable(hold) -> Decimal:
    """How much of the hold's funding payment can still go back to the card: what it charged the card (not
    the credit it used), less its refunds that did not fail, across every hold it paid for."""
    funding = hold.intent
    if funding is None or funding.amount <= 0:
        return ZERO
    refunded = sum((refund.amount for refund in funding.refunds.exclude(state=PaymentIntent.State.FAILED)), ZERO)
    return max(funding.amount - refunded, ZERO)


def card_refund_limit(reference: str) -> Decimal:
    """What a refund of the hold `reference` can send back to the card now (the rest would go to credit)."""
    hold = Hold.objects.select_related("intent").filter(reference=reference).first()
    return card_refundable(hold) if hold is not None else ZERO


def payment_for_key(*, payer, idempotency_key: str) -> PaymentIntent | None:
    """The payer's payment started with this idempotency key (a replayed form), if any."""
    return PaymentIntent.objects.filter(payer=payer, idempotency_key=idempotency_key).first()


def entry_for(reference: str) -> Entry:
    return Entry.objects.get(reference=reference)


# --- the wallet: a transaction history from the user's own point of view ------------------------------
#
# The ledger records where money sits (a card payment lands on the payer's "funding" account and leaves it for
# escrow in the next entry). People read a wallet differently: a payment is money they paid, a release is money
# they earned less a fee. `wallet_entries` picks the entries that concern a user (their own accounts, and the
# holds they pay or are paid from); `wallet_rows` turns one page of them into rows of that reading.


class RowType:
    """The stable codes of a wallet row's type (the CSV and the template use them; labels are below)."""

    PAYMENT = "payment"  # paid into escrow (card and/or credit): money out
    REFUND = "refund"  # money back from escrow, to credit or card: money in
    RELEASED = "released"  # the payer's escrow paid to the freelancer (already counted as a payment)
    FUNDED = "funded"  # a client paid into escrow for the freelancer (pending for them)
    EARNING = "earning"  # released to the freelancer, before the fee: money in
    FEE = "fee"  # the platform's fee on an earning: money out
    REFUNDED_TO_CLIENT = "refunded_to_client"  # escrow meant for the freelancer went back to the client
    BONUS = "bonus"  # a bonus received, before the fee: money in
    BONUS_PAID = "bonus_paid"  # a bonus paid by card: money out
    CREDIT_USED = "credit_used"  # credit put towards a payment (the payment row counts it)
    CREDIT_RETURNED = "credit_returned"  # a payment was not completed: the credit set aside came back
    CREDIT_ADDED = "credit_added"  # a card refund failed and became credit (the refund row counted it)
    WITHDRAWAL = "withdrawal"  # earnings sent to the bank account: money out
    WITHDRAWAL_RETURNED = "withdrawal_returned"  # a failed withdrawal came back: money in


ROW_TYPE_LABELS = {
    RowType.PAYMENT: gettext_lazy("Payment"),
    RowType.REFUND: gettext_lazy("Refund"),
    RowType.RELEASED: gettext_lazy("Paid to freelancer"),
    RowType.FUNDED: gettext_lazy("Funded for you"),
    RowType.EARNING: gettext_lazy("Earning"),
    RowType.FEE: gettext_lazy("Platform fee"),
    RowType.REFUNDED_TO_CLIENT: gettext_lazy("Refunded to client"),
    RowType.BONUS: gettext_lazy("Bonus"),
    RowType.BONUS_PAID: gettext_lazy("Bonus paid"),
    RowType.CREDIT_USED: gettext_lazy("Credit used"),
    RowType.CREDIT_RETURNED: gettext_lazy("Credit returned"),
    RowType.CREDIT_ADDED: gettext_lazy("Added to credit"),
    RowType.WITHDRAWAL: gettext_lazy("Withdrawal"),
    RowType.WITHDRAWAL_RETURNED: gettext_lazy("Withdrawal returned"),
}


@dataclass(frozen=True)
class ReferenceLink:
    """What a hold reference stands for, as its owner app describes it (contract and milestone, linked)."""

    group: str = ""
    group_url: str = ""
    item: str = ""
    item_url: str = ""


@dataclass(frozen=True)
class WalletRow:
    """One line of the wallet. `amount` is signed from the user's point of view (negative: money they paid
    or that left their wallet) when `effect` is "in" or "out"; "info" rows (positive amounts) tell where money
    went without changing what the user has: the row that did is shown next to them."""

    entry_id: int
    date: datetime
    type: str
    amount: Decimal
    effect: str  # "in", "out" or "info"
    detail: str
    reference: str
    link: ReferenceLink | None = None

    @property
    def type_label(self) -> str:
        return ROW_TYPE_LABELS[self.type]


def wallet_entries(user) -> QuerySet[WalletLine]:
    """The user's wallet lines (one per entry that concerns them), newest first, lazily: paginate it, then pass
    a page to `wallet_rows`. One range of the (user, created_at, entry) index: the cost follows the page, never
    the size of the ledger (the lines are written with the entries; card charges have none, the payments they
    paid for are the rows)."""
    return WalletLine.objects.filter(user=user).order_by("-created_at", "-entry_id")


def wallet_rows(lines, *, user) -> list[WalletRow]:
    """The wallet rows of `lines` (a page of `wallet_entries`) for `user`: three queries (the entries with their
    holds and payments, their postings, and what their references stand for), whatever the page size."""
    order = [line.entry_id for line in lines]
    joined = Entry.objects.filter(pk__in=order).select_related("hold__payee", "intent__payer").in_bulk()
    entries = [joined[pk] for pk in order]
    postings: dict[int, list[tuple[str, int | None, Decimal]]] = {entry.pk: [] for entry in entries}
    for entry_id, kind, owner, amount in Posting.objects.filter(entry__in=[e.pk for e in entries]).values_list(
        "entry_id", "account__kind", "account__user_id", "amount"
    ):
        postings[entry_id].append((kind, owner, amount))
    links = reference_links([_link_reference(entry) for entry in entries], user=user)
    rows = []
    for entry in entries:
        link = links.get(_link_reference(entry))
        rows.extend(replace(row, link=link) for row in _entry_rows(entry, postings[entry.pk], user))
    return rows


def _link_reference(entry: Entry) -> str:
    if entry.hold_id:
        return entry.hold.reference
    if entry.kind == Entry.Kind.BONUS:
        return entry.reference.removeprefix("bonus:")
    return ""


def reference_links(references: list[str], *, user) -> dict[str, ReferenceLink]:
    """{reference: ReferenceLink} for the references `user` may see, from the owner apps' describers
    (settings.ESCROW_REFERENCE_LINKS maps a prefix, e.g. "milestone:", to the dotted path of
    `describe(references, user) -> {reference: ReferenceLink}`), one call (one query) per prefix."""
    found: dict[str, ReferenceLink] = {}
    for prefix, path in getattr(settings, "ESCROW_REFERENCE_LINKS", {}).items():
        mine = sorted({reference for reference in references if reference.startswith(prefix)})
        if mine:
            found.update(import_string(path)(mine, user=user))
    return found


def _sums(postings, *, owner=None) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for kind, account_owner, amount in postings:
        if owner is None or account_owner == owner:
            sums[kind] = sums.get(kind, ZERO) + amount
    return sums


def _payment_method(intent: PaymentIntent | None) -> str:
    if intent is None or intent.amount == 0:
        return _("Paid into escrow from your credit")
    card = intent.card_label or _("card")
    if intent.credit_used:
        return _("Paid into escrow by %(card)s and from your credit") % {"card": card}
    return _("Paid into escrow by %(card)s") % {"card": card}


def _entry_rows(entry: Entry, postings, user) -> list[WalletRow]:  # noqa: C901, PLR0912 - one branch per kind
    """What one entry means to `user`, as rows (a release is an earning and a fee)."""
    every, mine = _sums(postings), _sums(postings, owner=user.pk)
    hold = entry.hold
    is_payer = hold is not None and hold.payer_id == user.pk
    is_payee = hold is not None and hold.payee_id == user.pk
    # The provider's id when it is the user's own (their card charge, refund or payout), else our entry number.
    own_intent = entry.intent is not None and entry.intent.payer_id == user.pk
    reference = (entry.external_id or entry.intent.provider_charge_id) if own_intent else ""
    reference = reference or f"TX-{entry.pk}"
    rows: list[WalletRow] = []

    def row(type_, amount, effect, detail=""):
        signed = -amount if effect == "out" else amount
        rows.append(WalletRow(entry.pk, entry.created_at, type_, to_money(signed), effect, detail, reference))

    def refund_rows(to_card, to_credit):
        if to_card:
            row(RowType.REFUND, to_card, "in", _("to your card"))
        if to_credit:
            row(RowType.REFUND, to_credit, "in", _("to your credit"))

    K = Entry.Kind
    if entry.kind == K.FUND:
        held = every.get(Kind.ESCROW_HOLD, ZERO)
        if is_payer:
            row(RowType.PAYMENT, held, "out", _payment_method(entry.intent))
        elif is_payee:
            row(RowType.FUNDED, held, "info", _("Held in escrow for you until the client approves"))
    elif entry.kind in (K.RELEASE, K.PARTIAL_RELEASE, K.SETTLEMENT):
        fee = every.get(Kind.PLATFORM_FEES, ZERO)
        to_payee = every.get(Kind.USER_AVAILABLE, ZERO) + fee
        refunded = -every.get(Kind.ESCROW_HOLD, ZERO) - to_payee
        partly = entry.kind == K.PARTIAL_RELEASE
        if is_payee:
            if to_payee:
                detail = _("Part released from escrow") if partly else _("Released from escrow")
                row(RowType.EARNING, to_payee, "in", detail)
            if fee:
                row(RowType.FEE, fee, "out", _("The platform's fee on this payment"))
            if refunded:
                row(RowType.REFUNDED_TO_CLIENT, refunded, "info", _("Returned to the client from escrow"))
        elif is_payer:
            if to_payee:
                detail = _("Released from escrow to %(name)s") % {"name": hold.payee.get_full_name()}
                row(RowType.RELEASED, to_payee, "info", detail)
            refund_rows(every.get(Kind.GATEWAY, ZERO), mine.get(Kind.USER_CREDIT, ZERO))
    elif entry.kind in (K.REFUND_CREDIT, K.REFUND_CARD):
        value = -every.get(Kind.ESCROW_HOLD, ZERO)
        if is_payer:  # to the card what the card paid, the rest (paid with credit) to credit
            refund_rows(every.get(Kind.GATEWAY, ZERO), mine.get(Kind.USER_CREDIT, ZERO))
        elif is_payee:
            row(RowType.REFUNDED_TO_CLIENT, value, "info", _("Returned to the client from escrow"))
    elif entry.kind == K.REFUND_CARD_FAILED:
        if mine.get(Kind.USER_CREDIT):
            row(RowType.CREDIT_ADDED, mine[Kind.USER_CREDIT], "info", _("The card refund failed: it is your credit"))
    elif entry.kind == K.CREDIT_USE:
        row(RowType.CREDIT_USED, -mine.get(Kind.USER_CREDIT, ZERO), "info", _("Put towards a payment"))
    elif entry.kind == K.CREDIT_RETURN:
        row(RowType.CREDIT_RETURNED, mine.get(Kind.USER_CREDIT, ZERO), "info", _("The payment was not completed"))
    elif entry.kind == K.BONUS:
        if mine.get(Kind.USER_FUNDING, ZERO) < 0:
            row(RowType.BONUS_PAID, -mine[Kind.USER_FUNDING], "out", _("Paid by card on top of the milestone"))
        elif mine.get(Kind.USER_AVAILABLE):
            fee = every.get(Kind.PLATFORM_FEES, ZERO)
            payer = entry.intent.payer.get_full_name() if entry.intent else ""
            row(RowType.BONUS, mine[Kind.USER_AVAILABLE] + fee, "in", _("From %(name)s") % {"name": payer})
            if fee:
                row(RowType.FEE, fee, "out", _("The platform's fee on this payment"))
    elif entry.kind == K.PAYOUT:
        row(RowType.WITHDRAWAL, -mine.get(Kind.USER_AVAILABLE, ZERO), "out", _("To your bank account"))
    elif entry.kind == K.PAYOUT_REVERSAL:
        row(RowType.WITHDRAWAL_RETURNED, mine.get(Kind.USER_AVAILABLE, ZERO), "in", _("The withdrawal failed"))
    return rows


# --- the wallet's figures and chart ------------------------------------------------------------------


def _sum(postings: QuerySet[Posting], *, negate: bool = False) -> Coalesce:
    total = postings.order_by().values(total=Func("amount", function="SUM"))
    value = Coalesce(Subquery(total[:1]), ZERO, output_field=MONEY_FIELD)
    return value if not negate else value * -1


def wallet_summary(user) -> dict:
    """Every figure the wallet's cards show, in one query, and which roles the user has money in.

    Client: in_escrow (paid, still held), paid_out (released to freelancers, and bonuses), credit.
    Freelancer: available (to withdraw), pending (held in escrow for them), earned (after fees, all time),
    fees (the platform's fees on their earnings), withdrawn.
    Each figure is a subquery from the user's own accounts or holds (indexed), like `user_balances`.
    """
    accounts = Account.objects.filter(user=user)
    own = {kind: Posting.objects.filter(account__in=accounts.filter(kind=kind).values("pk")) for kind in Kind}
    earned = _earnings(user)
    figures = {
        **_balance_sums(user),
        "earned": _sum(earned),
        "fees": _sum(Posting.objects.filter(account__kind=Kind.PLATFORM_FEES, entry__in=earned.values("entry_id"))),
        "withdrawn": _sum(own[Kind.PAYOUTS]),
        "released_to_others": _per_hold(
            Hold.objects.filter(payer=user),
            entry__hold=OuterRef("pk"),
            account__kind__in=(Kind.USER_AVAILABLE, Kind.PLATFORM_FEES),
        ),
        "bonuses_paid": _sum(own[Kind.USER_FUNDING].filter(entry__kind=Entry.Kind.BONUS), negate=True),
        "ever_paid": _sum(_payments(user)),
    }
    row = get_user_model().objects.filter(pk=user.pk).values(**figures).first() if user.pk else None
    money = {name: to_money(row[name] if row else ZERO) for name in figures}
    cards = _cards(money)
    totals = {
        "earned": money["earned"],
        "fees": money["fees"],
        "withdrawn": money["withdrawn"],
        "paid_out": money["released_to_others"] + money["bonuses_paid"],
    }
    return cards | totals | _roles(user, ever_paid=money["ever_paid"], earned=money["earned"], **cards)


@dataclass(frozen=True)
class MonthTotal:
    month: date
    earned: Decimal
    spent: Decimal


def wallet_months(user, *, months: int = 12) -> list[MonthTotal]:
    """Earnings (after fees: releases, settlements, bonuses) and spending (payments into escrow and bonuses
    paid) per calendar month in the user's timezone, the last `months` months oldest first, in one query."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate(timezone=tz)
    first = today.replace(day=1)
    for _month in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    earning_kinds = (Entry.Kind.RELEASE, Entry.Kind.PARTIAL_RELEASE, Entry.Kind.SETTLEMENT, Entry.Kind.BONUS)
    rows = (
        Posting.objects.filter(
            account__user=user,
            account__kind__in=(Kind.USER_FUNDING, Kind.USER_AVAILABLE),
            entry__created_at__gte=start,
        )
        .filter(
            Q(account__kind=Kind.USER_AVAILABLE, entry__kind__in=earning_kinds)
            | Q(account__kind=Kind.USER_FUNDING, entry__kind__in=(Entry.Kind.FUND, Entry.Kind.BONUS), amount__lt=0)
        )
        .values("account__kind", month=TruncMonth("entry__created_at", tzinfo=tz))
        .annotate(total=Sum("amount"))
        .order_by()
    )
    totals: dict[date, dict[str, Decimal]] = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
        name = "earned" if row["account__kind"] == Kind.USER_AVAILABLE else "spent"
        sums = totals.setdefault(month, {})
        sums[name] = sums.get(name, ZERO) + abs(row["total"])
    result, month = [], first
    for _month in range(months):
        sums = totals.get(month, {})
        result.append(MonthTotal(month, to_money(sums.get("earned", ZERO)), to_money(sums.get("spent", ZERO))))
        month = (month + timedelta(days=32)).replace(day=1)
    return result
