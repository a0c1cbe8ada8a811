"""Writes: every movement of money. Views, tasks and other apps call these; nothing else writes the ledger.

Each service runs in one transaction, locks the rows whose balance it spends (select_for_update),
writes balanced entries through `ledger.entry_post`, and raises an `EscrowError` subclass (with a
`user_message`) when it refuses; a refusal changes nothing. Unique entry references
(`fund:<ref>`, `release:<ref>`, `refund:<ref>:<n>`, ...) make each money event happen at most once,
whatever code path tries it.

Money paid in by card (fundings, bonuses) goes through payment intents (`escrow.payments`): nothing
here charges a card. A card refund and a withdrawal commit their entry first and call the provider after.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.money import ZERO, format_money, platform_fee, to_money

from .errors import (
    AlreadyProcessed,
    EscrowError,
    HoldNotFound,
    IdempotencyKeyReused,
    InvalidAmount,
    PayoutError,
)
from .gateways import PaymentError
from .ledger import EntrySpec, account_get, account_lock, accounts_get, entries_post, entry_post, nonzero
from .models import Account, Entry, Hold, PaymentIntent, Payout, PayoutAccount
from .payments import card_refund_start
from .providers import get_provider
from .selectors import account_balance, accounts_balances, card_refundable, release_quote
from .transfers import transfer_record, transfers_pending_total, transfers_record

if TYPE_CHECKING:
    from marketplace.models import User

__all__ = [
    "AlreadyProcessed",
    "EscrowError",
    "HoldNotFound",
    "HoldSpec",
    "IdempotencyKeyReused",
    "InvalidAmount",
    "PaymentError",
    "PayoutError",
    "hold_refund",
    "Released",
    "hold_release",
    "holds_release",
    "hold_release_part",
    "hold_settle",
    "payout_account_link",
    "payout_account_refresh",
    "payout_request",
    "withdrawal_error",
]

Kind = Account.Kind


@dataclass(frozen=True)
class HoldSpec:
    """One hold to fund: `reference` is the caller's opaque key for what is paid for ("milestone:42")."""

    reference: str
    payee: User
    amount: Decimal
    fee: Decimal
    label: str
    link_url: str = ""


# --- checks shared with escrow.payments (funding) ------------------------------------------------------


def _checked_specs(*, payer, holds: list[HoldSpec]) -> list[HoldSpec]:
    if not holds:
        raise EscrowError(_("There is nothing to pay for."))
    checked, seen = [], set()
    for spec in holds:
        reference = (spec.reference or "").strip()
        if not reference or len(reference) > 200:
            raise ValueError(f"A hold reference must be 1 to 200 characters: {spec.reference!r}")
        if reference in seen:
            raise ValueError(f"The hold reference {reference!r} appears twice.")
        seen.add(reference)
        amount, fee = to_money(spec.amount), to_money(spec.fee)
        if amount <= 0:
            raise InvalidAmount(_("Enter an amount greater than zero."))
        if not ZERO <= fee <= amount:
            raise InvalidAmount(_("The fee must be between zero and the amount."))
        if spec.payee.pk == payer.pk:
            raise EscrowError(_("You can't pay yourself."))
        if spec.link_url and not _safe_link(spec.link_url):
            raise ValueError(f"link_url must be a site path or an http(s) URL: {spec.link_url!r}")
        checked.append(replace(spec, reference=reference, amount=amount, fee=fee))
    return checked


def _safe_link(url: str) -> bool:
    # Statements render it as a link: never a javascript: or other scheme.
    return (url.startswith("/") and not url.startswith("//")) or url.startswith(("https://", "http://"))


def _describe(specs: list[HoldSpec]) -> str:
    more = f" and {len(specs) - 1} more" if len(specs) > 1 else ""
    return f"{specs[0].label}{more}"[:400]


def _refuse_funded(specs: list[HoldSpec]) -> None:
    funded = set(
        Hold.objects.filter(reference__in=[spec.reference for spec in specs]).values_list("reference", flat=True)
    )
    for spec in specs:
        if spec.reference in funded:
            raise AlreadyProcessed(f"“{spec.label}” is already funded.")


# --- release and refund ----------------------------------------------------------------------------


def _hold_lock(reference: str) -> Hold:
    try:
        return Hold.objects.select_for_update(no_key=True, of=("self",)).get(reference=reference)
    except Hold.DoesNotExist:
        raise HoldNotFound() from None


def hold_release(*, reference: str, actor: User | None) -> Entry:
    """Pay what the hold still holds to the payee, minus the platform fee. Happens once per reference.

    After a partial refund the rest is released, and the fee is charged on what is released, at the
    hold's own rate (fee / amount), rounded with `platform_fee`. Refused when nothing is left.
    """
    outcome = holds_release(references=[reference], actor=actor)[reference]
    if isinstance(outcome, EscrowError):
        raise outcome
    return outcome.entry


@dataclass(frozen=True)
class Released:
    """What one release moved: out of escrow (`released`), the platform's `fee`, what the payee `received`."""

    entry: Entry
    released: Decimal
    fee: Decimal
    received: Decimal


def holds_release(*, references: list[str], actor: User | None) -> dict[str, Released | EscrowError]:
    """`hold_release` for many holds at once (a sweep's batch), in a constant number of queries.

    Returns each reference's `Released`, or the `EscrowError` that refused it (never funded, already
    released, nothing left); a refused reference changes nothing and the others still go through. The
    holds are locked in id order; each release is one balanced entry with its own unique reference
    (`release:<ref>`), written in one INSERT for all, so the database still refuses a second release.
    """
    outcome: dict[str, Released | EscrowError] = {reference: HoldNotFound() for reference in references}
    with transaction.atomic():
        holds = list(
            Hold.objects.select_for_update(no_key=True, of=("self",)).filter(reference__any=references).order_by("pk")
        )
        done = set(
            Entry.objects.filter(reference__any=[f"release:{hold.reference}" for hold in holds]).values_list(
                "reference", flat=True
            )
        )
        accounts = {
            account.hold_id: account for account in Account.objects.filter(kind=Kind.ESCROW_HOLD, hold__any=holds)
        }
        held = accounts_balances(list(accounts.values()))
        to_release = []
        for hold in holds:
            account = accounts.get(hold.pk)
            remaining = held.get(account.pk, ZERO) if account else ZERO
            if f"release:{hold.reference}" in done:
                outcome[hold.reference] = AlreadyProcessed("This payment was already released.")
            elif remaining <= 0:
                outcome[hold.reference] = EscrowError(
                    _("Nothing is left in escrow to release: the payment was refunded.")
                )
            else:
                to_release.append((hold, account, remaining))
        if not to_release:
            return outcome
        earnings = accounts_get(Kind.USER_AVAILABLE, user_ids=[hold.payee_id for hold, _account, _held in to_release])
        fees = account_get(Kind.PLATFORM_FEES)
        specs, quotes = [], []
        for hold, account, remaining in to_release:
            fee, net = release_quote(amount=hold.amount, fee=hold.fee, held=remaining)
            fee_note = f" (after a {format_money(fee)} platform fee)" if fee else ""
            specs.append(
                EntrySpec(
                    reference=f"release:{hold.reference}",
                    kind=Entry.Kind.RELEASE,
                    memo=f"Released from escrow: {hold.label}{fee_note}",
                    postings=nonzero((account, -remaining), (earnings[hold.payee_id], net), (fees, fee)),
                    actor=actor,
                    hold=hold,
                )
            )
            quotes.append((remaining, fee, net))
        entries = entries_post(specs)
        # To the payees' payout accounts at the provider, after commit.
        transfers_record(
            [
                (entry, hold.payee_id, net)
                for entry, (hold, _account, _held), (_released, _fee, net) in zip(
                    entries, to_release, quotes, strict=True
                )
                if net > 0
            ]
        )
        for entry, (hold, _account, _held), (remaining, fee, net) in zip(entries, to_release, quotes, strict=True):
            outcome[hold.reference] = Released(entry=entry, released=remaining, fee=fee, received=net)
    return outcome


def hold_refund(
    *, reference: str, amount: Decimal | None, destination: Literal["credit", "card"], actor: User | None
) -> Entry:
    """Give the payer back all (amount None) or part of what the hold still holds.

    "credit" keeps the money on the platform as the payer's credit (usable for the next funding);
    "card" refunds the funding charge, up to what that charge took (across every hold it paid for): the
    rest, money that came from credit, goes back as credit in the same entry.
    """
    if destination not in ("credit", "card"):
        raise ValueError(f"Unknown refund destination {destination!r}.")
    with transaction.atomic():
        hold = _hold_lock(reference)
        if Entry.objects.filter(reference=f"release:{reference}").exists():
            raise EscrowError(_("This payment was already released; a released payment is final."))
        hold_account = account_get(Kind.ESCROW_HOLD, hold=hold)
        remaining = account_balance(hold_account)
        if remaining <= 0:
            raise EscrowError(_("Nothing is left in escrow to refund."))
        value = remaining if amount is None else to_money(amount)
        if value <= 0:
            raise InvalidAmount(_("Enter an amount greater than zero."))
        if value > remaining:
            raise InvalidAmount(_("You can refund at most %(amount)s.") % {"amount": format_money(remaining)})
        # The hold row is locked, so the sequence number cannot be taken twice.
        number = Entry.objects.filter(hold=hold, kind__in=[Entry.Kind.REFUND_CREDIT, Entry.Kind.REFUND_CARD]).count()
        hold = Hold.objects.select_related("intent").get(pk=hold.pk)
        entry_reference = f"refund:{reference}:{number + 1}"

        refund, legs = _refund_legs(hold, value, entry_reference, destination)
        memo = "Refund to credit"
        if refund is not None:
            memo = f"Refund to card ({refund.card_label or 'card'})" + (" and credit" if refund.amount < value else "")
        return entry_post(
            reference=entry_reference,
            kind=Entry.Kind.REFUND_CARD if refund else Entry.Kind.REFUND_CREDIT,
            memo=f"{memo}: {hold.label}",
            postings=[(hold_account, -value), *legs],
            actor=actor,
            hold=hold,
            intent=refund,
        )


def _refund_legs(hold: Hold, value: Decimal, entry_reference: str, destination: str):
    """The postings that give `value` back to the payer, and the card refund among them (or None).

    To the card when the payer chose it, up to what the hold's funding payment charged the card and has not
    refunded yet (across every hold it paid for); the rest, money that came from credit, goes back as credit,
    in the same entry. Caller holds the hold's lock: the money leaves escrow in the caller's entry now and the
    provider is called after commit (`escrow.payments.card_refund_start`); a refused card refund becomes credit."""
    to_card = ZERO
    if destination == "card" and hold.intent_id is not None:
        # The refunds of other holds paid by the same payment take turns here (each holds only its own hold's
        # lock), so they never count the same card money twice. Order: the hold, then its funding payment.
        PaymentIntent.objects.select_for_update(no_key=True, of=("self",)).filter(pk=hold.intent_id).first()
        to_card = min(value, card_refundable(hold))
    refund, legs = None, []
    if to_card > 0:
        refund = card_refund_start(hold=hold, value=to_card, entry_reference=entry_reference)
        legs.append((account_get(Kind.GATEWAY), to_card))
    if value - to_card > 0:
        legs.append((account_get(Kind.USER_CREDIT, user=hold.payer), value - to_card))
    return refund, legs


def hold_release_part(*, reference: str, amount: Decimal, actor: User | None) -> Entry:
    """Pay part of what the hold holds to the payee now (fee at the hold's own rate on that part).

    The rest stays held for a later release, a refund or a dispute. Less than everything: releasing all of
    it is `hold_release`, which happens once.
    """
    with transaction.atomic():
        hold = _hold_lock(reference)
        hold_account = account_get(Kind.ESCROW_HOLD, hold=hold)
        remaining = account_balance(hold_account)
        value = to_money(amount)
        if value <= 0:
            raise InvalidAmount(_("Enter an amount greater than zero."))
        if value >= remaining:
            raise InvalidAmount(
                _("Release less than the %(amount)s held; to release everything, approve the work.")
                % {"amount": format_money(remaining)}
            )
        fee = _fee_on(hold, value)
        number = Entry.objects.filter(hold=hold, kind=Entry.Kind.PARTIAL_RELEASE).count()
        entry = entry_post(
            reference=f"release-part:{reference}:{number + 1}",
            kind=Entry.Kind.PARTIAL_RELEASE,
            memo=f"Part released from escrow: {hold.label}",
            postings=nonzero(
                (hold_account, -value),
                (account_get(Kind.USER_AVAILABLE, user=hold.payee), value - fee),
                (account_get(Kind.PLATFORM_FEES), fee),
            ),
            actor=actor,
            hold=hold,
        )
        if value - fee > 0:
            transfer_record(entry=entry, payee=hold.payee, amount=value - fee)
        return entry


def _fee_on(hold: Hold, value: Decimal) -> Decimal:
    """The platform fee on releasing `value` of this hold, at the hold's own rate."""
    return min(platform_fee(value, percent=hold.fee * 100 / hold.amount), value)


def hold_settle(
    *,
    reference: str,
    to_payee: Decimal,
    to_payer: Decimal,
    destination: Literal["credit", "card"],
    actor: User | None,
    waive_fee: bool = False,
) -> Entry:
    """Split everything the hold holds: `to_payee` released (fee on that part only, unless waived) and
    `to_payer` refunded, in ONE entry. The amounts must add up to what is held; once per hold.
    """
    if destination not in ("credit", "card"):
        raise ValueError(f"Unknown refund destination {destination!r}.")
    to_payee, to_payer = to_money(to_payee), to_money(to_payer)
    with transaction.atomic():
        hold = _hold_lock(reference)
        hold_account = account_get(Kind.ESCROW_HOLD, hold=hold)
        remaining = account_balance(hold_account)
        if remaining <= 0:
            raise EscrowError(_("Nothing is left in escrow to settle."))
        if to_payee < 0 or to_payer < 0 or to_payee + to_payer != remaining:
            raise InvalidAmount(
                _("The two amounts must add up to the %(amount)s held in escrow.") % {"amount": format_money(remaining)}
            )
        entry_reference = f"settle:{reference}"
        if Entry.objects.filter(reference=entry_reference).exists():
            raise AlreadyProcessed("This escrow was already settled.")
        fee = ZERO if waive_fee or not to_payee else _fee_on(hold, to_payee)
        legs = [
            (hold_account, -remaining),
            (account_get(Kind.USER_AVAILABLE, user=hold.payee), to_payee - fee),
            (account_get(Kind.PLATFORM_FEES), fee),
        ]
        refund, refund_legs = _refund_legs(hold, to_payer, entry_reference, destination)
        legs.extend(refund_legs)
        entry = entry_post(
            reference=entry_reference,
            kind=Entry.Kind.SETTLEMENT,
            memo=f"Escrow settled: {format_money(to_payee)} released, {format_money(to_payer)} refunded: {hold.label}",
            postings=nonzero(*legs),
            actor=actor,
            hold=hold,
            intent=refund,
        )
        if to_payee - fee > 0:
            transfer_record(entry=entry, payee=hold.payee, amount=to_payee - fee)
        return entry


# --- payouts ---------------------------------------------------------------------------------------


def withdrawal_error(amount: Decimal, available: Decimal) -> str | None:
    """Why `amount` cannot be withdrawn from `available`, or None. Forms use it to explain early."""
    if amount is None or amount <= 0:
        return _("Enter an amount greater than zero.")
    if amount > available:
        return _("You can withdraw at most %(amount)s.") % {"amount": format_money(available)}
    return None


def payout_request(*, user: User, amount: Decimal, idempotency_key: str) -> Payout:
    """Withdraw `amount` of the user's available earnings to their payout account at the provider.

    Commit, then call, then reverse: the earnings leave the available balance (under a lock on that
    account) and commit before the provider is called, so a second request cannot withdraw the same
    money meanwhile and no lock is held across the call. The provider pays out of the user's connected
    account, where each release was transferred (`escrow.transfers`); earnings whose transfer is still
    pending cannot be withdrawn yet. If the payout fails, a reversal entry returns the money and
    PayoutError is raised. A replay of the key returns the payout.
    """
    value = to_money(amount)
    if not idempotency_key:
        raise ValueError("An idempotency key is required.")
    with transaction.atomic():
        available = account_lock(Kind.USER_AVAILABLE, user=user)
        existing = Payout.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise IdempotencyKeyReused()
            if existing.status == Payout.Status.FAILED:
                raise PayoutError(existing.failure_message)
            return existing
        account = PayoutAccount.objects.filter(user=user, payouts_enabled=True).first()
        if account is None:
            raise PayoutError(_("Set up your payout account first: the wallet shows how."))
        pending = transfers_pending_total(user)
        message = withdrawal_error(value, account_balance(available) - pending)
        if message:
            if pending:
                message += " " + _("%(amount)s is still on its way to your payout account.") % {
                    "amount": format_money(pending)
                }
            raise InvalidAmount(message)
        payout = Payout.objects.create(
            idempotency_key=idempotency_key, user=user, amount=value, currency=settings.CURRENCY
        )
        paid_out = account_get(Kind.PAYOUTS, user=user)
        entry_post(
            reference=f"payout:{payout.pk}",
            kind=Entry.Kind.PAYOUT,
            memo="Withdrawal to your bank account",
            postings=[(available, -value), (paid_out, value)],
            actor=user,
        )

    try:
        provider_payout_id = get_provider(account.provider).payout(
            account_id=account.account_id, amount=value, currency=payout.currency, idempotency_key=f"payout:{payout.pk}"
        )
    except PaymentError as error:
        message = f"The withdrawal failed: {error.user_message} The money is back in your available balance."
        with transaction.atomic():
            payout = Payout.objects.select_for_update(of=("self",)).get(pk=payout.pk)
            payout.status, payout.failure_message = Payout.Status.FAILED, message[:300]
            payout.save(update_fields=["status", "failure_message"])
            entry_post(
                reference=f"payout-reversal:{payout.pk}",
                kind=Entry.Kind.PAYOUT_REVERSAL,
                memo="Withdrawal failed: returned to your earnings",
                postings=[(paid_out, -value), (account_get(Kind.USER_AVAILABLE, user=user), value)],
                actor=user,
            )
        raise PayoutError(message) from error
    payout.status, payout.gateway_payout_id = Payout.Status.PAID, provider_payout_id[:100]
    payout.save(update_fields=["status", "gateway_payout_id"])
    return payout


# --- payout accounts -------------------------------------------------------------------------------


def payout_account_link(*, user: User, return_url: str, refresh_url: str) -> str:
    """The provider's onboarding page for the user's payout account (created on first use)."""
    provider = get_provider()
    account = PayoutAccount.objects.filter(user=user).first()
    if account is None:
        account_id = provider.account_create(
            email=user.email, country="US", idempotency_key=f"payout-account:{user.pk}"
        )
        account, _ = PayoutAccount.objects.get_or_create(
            user=user, defaults={"provider": provider.name, "account_id": account_id}
        )
    return get_provider(account.provider).account_link(
        account_id=account.account_id, refresh_url=refresh_url, return_url=return_url
    )


def payout_account_refresh(*, provider: str, account_id: str) -> PayoutAccount | None:
    """Ask the provider whether the account can be paid out to, and where to (its webhook, or the user's return).

    Saved through the model, so the change is kept in the account's history; when the destination is set or
    changed, the owner gets a security email (in the same transaction: it goes out when the change commits)."""
    account = PayoutAccount.objects.filter(provider=provider, account_id=account_id).first()
    if account is None:
        return None
    status = get_provider(provider).account_retrieve(account_id)  # outside the transaction and the row lock
    with transaction.atomic():
        account = PayoutAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
        before = (account.details_submitted, account.payouts_enabled, account.destination)
        after = (status.details_submitted, status.payouts_enabled, status.destination[:100])
        if after != before:
            account.details_submitted, account.payouts_enabled, account.destination = after
            account.updated_at = timezone.now()
            account.save()
            if account.payouts_enabled and after[1:] != before[1:]:  # set up, or a new destination
                _payout_destination_email(account, first=not before[1])
    if account.payouts_enabled:
        from .tasks import transfers_send

        transfers_send.delay_on_commit(account.user_id)
    return account


def _payout_destination_email(account: PayoutAccount, *, first: bool) -> None:
    from marketplace.accounts import security_email  # accounts' one way to send a security email

    security_email(
        user=account.user,
        template_prefix="escrow/email/payout_destination_changed",
        context={
            "destination": account.destination,
            "first": first,
            "wallet_path": reverse("escrow:wallet"),
            "wallet_url": reverse("escrow:wallet"),
        },
    )
