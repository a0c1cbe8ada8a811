"""Writes: every movement of money. Views, tasks and other apps call these; nothing else writes the ledger.

Each service runs in one transaction, locks the rows whose balance it spends (select_for_update),
writes balanced entries through `ledger.entry_post`, and raises an `EscrowError` subclass (with a
`user_message`) when it refuses; a refusal changes nothing. Unique entry references
(`fund:<ref>`, `release:<ref>`, `refund:<ref>:<n>`, ...) make each money event happen at most once,
whatever code path tries it.

Calling from another app's transaction: `holds_fund` and `bonus_pay` record a failed card payment and
then raise the PaymentError. If the caller's own `transaction.atomic` block lets that exception
escape, the record is rolled back with it; catch PaymentError inside the block (or call outside it)
so that a replay of the same idempotency key shows the same error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from marketplace.money import ZERO, format_money, platform_fee, to_money

from .errors import (
    AlreadyProcessed,
    CardRequired,
    EscrowError,
    HoldNotFound,
    IdempotencyKeyReused,
    InvalidAmount,
    PayoutError,
)
from .gateways import CardDetails, PaymentError, get_gateway, get_payouts, payment_error_from
from .ledger import account_get, account_lock, entry_post, nonzero
from .models import Account, Charge, Entry, Hold, Payout, Posting
from .selectors import account_balance, release_quote

if TYPE_CHECKING:
    from marketplace.models import User

__all__ = [
    "AlreadyProcessed",
    "CardDetails",
    "CardRequired",
    "EscrowError",
    "FundingResult",
    "HoldNotFound",
    "HoldSpec",
    "IdempotencyKeyReused",
    "InvalidAmount",
    "PaymentError",
    "PayoutError",
    "bonus_pay",
    "hold_refund",
    "hold_release",
    "hold_release_part",
    "hold_settle",
    "holds_fund",
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


@dataclass(frozen=True)
class FundingResult:
    holds: tuple[Hold, ...]
    charge: Charge | None  # None when credit paid for everything
    credit_used: Decimal
    charged: Decimal
    replayed: bool = field(default=False, compare=False)  # True when the same request was already processed

    @property
    def total(self) -> Decimal:
        return self.credit_used + self.charged


# --- funding ---------------------------------------------------------------------------------------


def holds_fund(
    *,
    payer: User,
    holds: list[HoldSpec],
    card: CardDetails | None,
    idempotency_key: str,
    use_credit: bool = False,
    actor: User | None,
) -> FundingResult:
    """Pay for several holds with one card charge (after the payer's credit, if `use_credit`).

    A replay of `idempotency_key` (double click, resubmitted form, concurrent request) charges nothing
    again and returns the first result, or raises the first failure. A failed card payment creates no
    hold and no entry, records the failed Charge and raises the PaymentError.
    """
    specs = _checked_specs(payer=payer, holds=holds)
    if not idempotency_key:
        raise ValueError("An idempotency key is required.")
    total = sum((spec.amount for spec in specs), ZERO)
    failure: PaymentError | None = None

    with transaction.atomic():
        # Lock order everywhere: the payer's credit account, then the Charge row, then the holds.
        credit_account = account_lock(Kind.USER_CREDIT, user=payer) if use_credit else None
        replay = _funding_replay(payer=payer, idempotency_key=idempotency_key, specs=specs)
        if replay is not None:
            return replay
        _refuse_funded(specs)

        credit_used = min(account_balance(credit_account), total) if credit_account else ZERO
        to_charge = total - credit_used
        charge = None
        if to_charge > 0:
            if card is None:
                raise CardRequired(f"Enter your card details to pay {format_money(to_charge)}.")
            charge, created = _charge_claim(
                payer=payer, idempotency_key=idempotency_key, amount=to_charge, description=_describe(specs)
            )
            if not created:
                # A concurrent request with this key finished while we waited for its Charge row.
                replay = _funding_replay(payer=payer, idempotency_key=idempotency_key, specs=specs)
                if replay is None:
                    raise IdempotencyKeyReused()
                return replay

        try:
            with transaction.atomic():  # a savepoint: a failed card payment leaves no hold and no entry
                # The holds are inserted before the card is charged: a concurrent funding of the same
                # reference (another key) waits on these rows and is then refused, having charged nothing.
                new_holds = _holds_create(payer=payer, specs=specs, idempotency_key=idempotency_key, charge=charge)
                funding = account_get(Kind.USER_FUNDING, user=payer)
                if charge is not None:
                    _charge_card(charge=charge, card=card, funding=funding, actor=actor)
                if credit_used:
                    entry_post(
                        reference=f"credit-use:{idempotency_key}",
                        kind=Entry.Kind.CREDIT_USE,
                        memo="Paid from your credit",
                        postings=[(credit_account, -credit_used), (funding, credit_used)],
                        actor=actor,
                    )
                for hold in new_holds:
                    entry_post(
                        reference=f"fund:{hold.reference}",
                        kind=Entry.Kind.FUND,
                        memo=f"Paid into escrow: {hold.label}",
                        postings=[(funding, -hold.amount), (account_get(Kind.ESCROW_HOLD, hold=hold), hold.amount)],
                        actor=actor,
                        hold=hold,
                    )
        except PaymentError as error:
            _charge_failed(charge, error)
            failure = error
        else:
            return FundingResult(
                holds=tuple(new_holds), charge=charge, credit_used=credit_used, charged=to_charge, replayed=False
            )
    # The failed Charge is committed above, so a replay of this key raises the same error.
    raise failure


def _checked_specs(*, payer, holds: list[HoldSpec]) -> list[HoldSpec]:
    if not holds:
        raise EscrowError("There is nothing to pay for.")
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
            raise InvalidAmount("Enter an amount greater than zero.")
        if not ZERO <= fee <= amount:
            raise InvalidAmount("The fee must be between zero and the amount.")
        if spec.payee.pk == payer.pk:
            raise EscrowError("You can't pay yourself.")
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


def _holds_create(*, payer, specs: list[HoldSpec], idempotency_key: str, charge: Charge | None) -> list[Hold]:
    created = {}
    # Sorted, so two requests funding overlapping sets of references wait for each other, never deadlock.
    for spec in sorted(specs, key=lambda spec: spec.reference):
        try:
            with transaction.atomic():
                created[spec.reference] = Hold.objects.create(
                    reference=spec.reference,
                    payer=payer,
                    payee=spec.payee,
                    amount=spec.amount,
                    fee=spec.fee,
                    label=spec.label[:300],
                    link_url=spec.link_url[:500],
                    funding_key=idempotency_key,
                    funded_by_charge=charge,
                )
        except IntegrityError as error:
            raise AlreadyProcessed(f"“{spec.label}” is already funded.") from error
    return [created[spec.reference] for spec in specs]


def _funding_replay(*, payer, idempotency_key: str, specs: list[HoldSpec]) -> FundingResult | None:
    """The result of an earlier holds_fund with this key, or None if there was none.

    Raises the recorded PaymentError if that earlier attempt failed.
    """
    charge = Charge.objects.filter(idempotency_key=idempotency_key).first()
    order = {spec.reference: index for index, spec in enumerate(specs)}
    # In the order the caller listed them, as the first call returned them.
    holds = tuple(
        sorted(
            Hold.objects.filter(funding_key=idempotency_key),
            key=lambda hold: (order.get(hold.reference, len(order)), hold.pk),
        )
    )
    if charge is None and not holds:
        return None
    if (charge is not None and charge.payer_id != payer.pk) or any(hold.payer_id != payer.pk for hold in holds):
        raise IdempotencyKeyReused()
    if charge is not None and charge.status == Charge.Status.FAILED:
        raise payment_error_from(charge.failure_code, charge.failure_message)
    if not holds:
        raise IdempotencyKeyReused()  # the key paid for something else (a bonus)
    credit_used = -Posting.objects.filter(
        entry__reference=f"credit-use:{idempotency_key}", account__kind=Kind.USER_CREDIT
    ).aggregate(total=Sum("amount", default=ZERO))["total"]
    return FundingResult(
        holds=holds,
        charge=charge,
        credit_used=to_money(credit_used),
        charged=charge.amount if charge else ZERO,
        replayed=True,
    )


def _charge_claim(*, payer, idempotency_key: str, amount: Decimal, description: str) -> tuple[Charge, bool]:
    """Insert the pending Charge row for this key, or return the existing one, locked.

    A concurrent request with the same key blocks on the unique index until the first one commits
    or rolls back, then finds its row: the card is charged at most once per key.
    """
    charge, created = Charge.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "payer": payer,
            "amount": amount,
            "currency": settings.CURRENCY,
            "description": description,
            "status": Charge.Status.PENDING,
        },
    )
    if not created:
        charge = Charge.objects.select_for_update(of=("self",)).get(pk=charge.pk)
    return charge, created


def _charge_card(*, charge: Charge, card: CardDetails, funding: Account, actor) -> Entry:
    """Charge the card (raises PaymentError) and record the money arriving in the payer's funding account."""
    result = get_gateway().charge(
        amount=charge.amount,
        currency=charge.currency,
        card_number=card.number,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        cvc=card.cvc,
        idempotency_key=charge.idempotency_key,
        description=charge.description,
    )
    charge.status = Charge.Status.SUCCEEDED
    charge.brand, charge.last4, charge.gateway_charge_id = result.brand, result.last4, result.id
    charge.save(update_fields=["status", "brand", "last4", "gateway_charge_id"])
    return entry_post(
        reference=f"charge:{charge.pk}",
        kind=Entry.Kind.CHARGE,
        memo=f"Card payment ({charge.card_label})",
        postings=[(account_get(Kind.GATEWAY), -charge.amount), (funding, charge.amount)],
        actor=actor,
        external_id=result.id,
    )


def _charge_failed(charge: Charge | None, error: PaymentError) -> None:
    if charge is None:  # pragma: no cover - only a card payment raises PaymentError
        return
    charge.status = Charge.Status.FAILED
    charge.failure_code = error.code[:50]
    charge.failure_message = error.user_message[:300]
    charge.save(update_fields=["status", "failure_code", "failure_message"])


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
    with transaction.atomic():
        hold = _hold_lock(reference)
        if Entry.objects.filter(reference=f"release:{reference}").exists():
            raise AlreadyProcessed("This payment was already released.")
        hold_account = account_get(Kind.ESCROW_HOLD, hold=hold)
        remaining = account_balance(hold_account)
        if remaining <= 0:
            raise EscrowError("Nothing is left in escrow to release: the payment was refunded.")
        fee, _net = release_quote(amount=hold.amount, fee=hold.fee, held=remaining)
        fee_note = f" (after a {format_money(fee)} platform fee)" if fee else ""
        return entry_post(
            reference=f"release:{reference}",
            kind=Entry.Kind.RELEASE,
            memo=f"Released from escrow: {hold.label}{fee_note}",
            postings=nonzero(
                (hold_account, -remaining),
                (account_get(Kind.USER_AVAILABLE, user=hold.payee), remaining - fee),
                (account_get(Kind.PLATFORM_FEES), fee),
            ),
            actor=actor,
            hold=hold,
        )


def hold_refund(
    *, reference: str, amount: Decimal | None, destination: Literal["credit", "card"], actor: User | None
) -> Entry:
    """Give the payer back all (amount None) or part of what the hold still holds.

    "credit" keeps the money on the platform as the payer's credit (usable for the next funding);
    "card" refunds the funding charge. At most what that charge took can go back to the card, across
    every hold it paid for: money that came from credit goes back as credit.
    """
    if destination not in ("credit", "card"):
        raise ValueError(f"Unknown refund destination {destination!r}.")
    with transaction.atomic():
        hold = _hold_lock(reference)
        if Entry.objects.filter(reference=f"release:{reference}").exists():
            raise EscrowError("This payment was already released; a released payment is final.")
        hold_account = account_get(Kind.ESCROW_HOLD, hold=hold)
        remaining = account_balance(hold_account)
        if remaining <= 0:
            raise EscrowError("Nothing is left in escrow to refund.")
        value = remaining if amount is None else to_money(amount)
        if value <= 0:
            raise InvalidAmount("Enter an amount greater than zero.")
        if value > remaining:
            raise InvalidAmount(f"You can refund at most {format_money(remaining)}.")
        # The hold row is locked, so the sequence number cannot be taken twice.
        number = Entry.objects.filter(hold=hold, kind__in=[Entry.Kind.REFUND_CREDIT, Entry.Kind.REFUND_CARD]).count()
        entry_reference = f"refund:{reference}:{number + 1}"

        if destination == "credit":
            return entry_post(
                reference=entry_reference,
                kind=Entry.Kind.REFUND_CREDIT,
                memo=f"Refund to credit: {hold.label}",
                postings=[(hold_account, -value), (account_get(Kind.USER_CREDIT, user=hold.payer), value)],
                actor=actor,
                hold=hold,
            )

        refund_id, card_leg, memo = _card_refund_leg(hold, value, entry_reference)
        return entry_post(
            reference=entry_reference,
            kind=Entry.Kind.REFUND_CARD,
            memo=f"{memo}: {hold.label}",
            postings=[(hold_account, -value), card_leg],
            actor=actor,
            hold=hold,
            external_id=refund_id,
        )


def _card_refund_leg(hold: Hold, value: Decimal, entry_reference: str):
    """Refund `value` of the hold's funding charge to the card: (provider refund id, the posting, a memo).

    Caller holds the hold's lock. Inside the transaction: if the provider refuses, nothing is recorded. The
    entry reference is the provider's idempotency key, so a retry after a crash cannot refund twice.
    """
    if hold.funded_by_charge_id is None:
        raise EscrowError("This payment was made with credit, so it can only be refunded as credit.")
    charge = Charge.objects.select_for_update(of=("self",)).get(pk=hold.funded_by_charge_id)
    refundable = charge.amount - _card_refunded(charge)
    if value > refundable:
        raise InvalidAmount(f"At most {format_money(refundable)} can go back to the card; refund the rest as credit.")
    refund_id = get_gateway().refund(charge_id=charge.gateway_charge_id, amount=value, idempotency_key=entry_reference)
    return refund_id, (account_get(Kind.GATEWAY), value), f"Refund to card ({charge.card_label})"


def _card_refunded(charge: Charge) -> Decimal:
    total = Posting.objects.filter(
        entry__kind__in=[Entry.Kind.REFUND_CARD, Entry.Kind.SETTLEMENT],
        entry__hold__funded_by_charge=charge,
        account__kind=Kind.GATEWAY,
    ).aggregate(total=Sum("amount", default=ZERO))["total"]
    return to_money(total)


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
            raise InvalidAmount("Enter an amount greater than zero.")
        if value >= remaining:
            raise InvalidAmount(
                f"Release less than the {format_money(remaining)} held; to release everything, approve the work."
            )
        fee = _fee_on(hold, value)
        number = Entry.objects.filter(hold=hold, kind=Entry.Kind.PARTIAL_RELEASE).count()
        return entry_post(
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
            raise EscrowError("Nothing is left in escrow to settle.")
        if to_payee < 0 or to_payer < 0 or to_payee + to_payer != remaining:
            raise InvalidAmount(f"The two amounts must add up to the {format_money(remaining)} held in escrow.")
        entry_reference = f"settle:{reference}"
        if Entry.objects.filter(reference=entry_reference).exists():
            raise AlreadyProcessed("This escrow was already settled.")
        fee = ZERO if waive_fee or not to_payee else _fee_on(hold, to_payee)
        legs = [
            (hold_account, -remaining),
            (account_get(Kind.USER_AVAILABLE, user=hold.payee), to_payee - fee),
            (account_get(Kind.PLATFORM_FEES), fee),
        ]
        external_id = ""
        if to_payer and destination == "card":
            external_id, card_leg, _memo = _card_refund_leg(hold, to_payer, entry_reference)
            legs.append(card_leg)
        else:
            legs.append((account_get(Kind.USER_CREDIT, user=hold.payer), to_payer))
        return entry_post(
            reference=entry_reference,
            kind=Entry.Kind.SETTLEMENT,
            memo=f"Escrow settled: {format_money(to_payee)} released, {format_money(to_payer)} refunded: {hold.label}",
            postings=nonzero(*legs),
            actor=actor,
            hold=hold,
            external_id=external_id,
        )


# --- bonus -----------------------------------------------------------------------------------------


def bonus_pay(
    *,
    payer: User,
    payee: User,
    amount: Decimal,
    card: CardDetails | None,
    idempotency_key: str,
    reference: str,
    fee: Decimal,
    actor: User | None,
) -> Entry:
    """Charge the payer's card and pay the payee straight into their available balance, minus `fee`.

    The entry reference is `bonus:<reference>`: one bonus per reference. Replays behave as in holds_fund.
    """
    amount, fee = to_money(amount), to_money(fee)
    if amount <= 0:
        raise InvalidAmount("Enter an amount greater than zero.")
    if not ZERO <= fee <= amount:
        raise InvalidAmount("The fee must be between zero and the amount.")
    if payee.pk == payer.pk:
        raise EscrowError("You can't pay yourself.")
    if not idempotency_key or not reference:
        raise ValueError("An idempotency key and a reference are required.")
    entry_reference = f"bonus:{reference}"
    failure: PaymentError | None = None

    with transaction.atomic():
        # Serialises bonuses to this payee: two requests with different keys for the same reference
        # cannot both get past the "already paid" check and charge the card twice.
        available = account_lock(Kind.USER_AVAILABLE, user=payee)
        replay = _bonus_replay(payer=payer, idempotency_key=idempotency_key, entry_reference=entry_reference)
        if replay is not None:
            return replay
        if Entry.objects.filter(reference=entry_reference).exists():
            raise AlreadyProcessed("This bonus was already paid.")
        if card is None:
            raise CardRequired(f"Enter your card details to pay {format_money(amount)}.")
        charge, created = _charge_claim(
            payer=payer,
            idempotency_key=idempotency_key,
            amount=amount,
            description=f"Bonus for {payee.get_full_name()}",
        )
        if not created:
            replay = _bonus_replay(payer=payer, idempotency_key=idempotency_key, entry_reference=entry_reference)
            if replay is None:
                raise IdempotencyKeyReused()
            return replay
        try:
            with transaction.atomic():
                funding = account_get(Kind.USER_FUNDING, user=payer)
                _charge_card(charge=charge, card=card, funding=funding, actor=actor)
                fee_note = f" (after a {format_money(fee)} platform fee)" if fee else ""
                entry = entry_post(
                    reference=entry_reference,
                    kind=Entry.Kind.BONUS,
                    memo=f"Bonus from {payer.get_full_name()}{fee_note}",
                    postings=nonzero(
                        (funding, -amount), (available, amount - fee), (account_get(Kind.PLATFORM_FEES), fee)
                    ),
                    actor=actor,
                    external_id=charge.gateway_charge_id,
                )
        except PaymentError as error:
            _charge_failed(charge, error)
            failure = error
        else:
            return entry
    raise failure


def _bonus_replay(*, payer, idempotency_key: str, entry_reference: str) -> Entry | None:
    charge = Charge.objects.filter(idempotency_key=idempotency_key).first()
    if charge is None:
        return None
    if charge.payer_id != payer.pk:
        raise IdempotencyKeyReused()
    if charge.status == Charge.Status.FAILED:
        raise payment_error_from(charge.failure_code, charge.failure_message)
    entry = Entry.objects.filter(reference=entry_reference, external_id=charge.gateway_charge_id).first()
    if entry is None:
        raise IdempotencyKeyReused()
    return entry


# --- payouts ---------------------------------------------------------------------------------------


def withdrawal_error(amount: Decimal, available: Decimal) -> str | None:
    """Why `amount` cannot be withdrawn from `available`, or None. Forms use it to explain early."""
    if amount is None or amount <= 0:
        return "Enter an amount greater than zero."
    if amount > available:
        return f"You can withdraw at most {format_money(available)}."
    return None


def payout_request(*, user: User, amount: Decimal, idempotency_key: str) -> Payout:
    """Withdraw `amount` of the user's available earnings to their bank account.

    The earnings leave the available balance (under a lock on that account) before the provider is
    called, so a second request cannot withdraw the same money meanwhile. If the provider fails, a
    reversal entry returns the money and PayoutError is raised. A replay of the key returns the payout.
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
        message = withdrawal_error(value, account_balance(available))
        if message:
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
        payout_id = get_payouts().payout(user=user, amount=value, idempotency_key=idempotency_key)
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
    payout.status, payout.gateway_payout_id = Payout.Status.PAID, payout_id
    payout.save(update_fields=["status", "gateway_payout_id"])
    return payout
