"""Payments through the provider: funding, bonus and card refunds as payment intents (writes).

The shape is Saleor's three-phase checkout completion (saleor/checkout/complete_checkout.py):

1. prepare, in one transaction: validate, reserve (one open payment per hold reference, the payer's
   credit set aside), and commit a PaymentIntent in state `created`;
2. call the provider *outside* every transaction and row lock (a slow provider stalls no other
   writer): it opens a hosted page, and the payer types the card there, never on our pages;
3. finish, in another transaction, only when the provider confirms (the payer's return, a signed
   webhook, or the reconciliation sweep, which all ask the provider and apply its answer):
   post the ledger entries, create the holds, tell the caller (ESCROW_PAYMENT_CALLBACKS);
   on failure or cancellation, free the reservation and give the credit back.

Every confirmation path calls `payment_apply`, which locks the intent and moves it forward only; the
entries' unique references make a second posting impossible whatever path tries it. Card refunds
follow the payout pattern: the ledger entry commits first, the provider is called after commit, a
failure returns the money to the payer's credit.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from marketplace.money import ZERO, format_money, to_money

from .errors import AlreadyProcessed, EscrowError, IdempotencyKeyReused, InvalidAmount
from .gateways import PaymentError
from .ledger import account_get, account_lock, entry_post, nonzero
from .models import Account, Entry, Hold, PaymentIntent, PaymentItem, Transfer, WebhookEvent
from .providers import InvalidSignature, ProviderPayment, get_provider
from .selectors import account_balance, card_refundable
from .transfers import transfer_record, transfers_send

if TYPE_CHECKING:
    from marketplace.models import User

    from .services import HoldSpec

logger = logging.getLogger(__name__)
Kind = Account.Kind
State = PaymentIntent.State


class PaymentInProgress(EscrowError):
    default_message = "A payment for this is already in progress. Finish it, or wait until it is confirmed."


# --- phase 1: prepare ------------------------------------------------------------------------------


def payment_start_funding(
    *,
    payer: User,
    holds: list[HoldSpec],
    idempotency_key: str,
    use_credit: bool = False,
    next_url: str = "",
    actor: User | None,
) -> PaymentIntent:
    """Start paying for holds: credit first (if `use_credit`), the rest through the provider's hosted page.

    Returns the intent: `succeeded` when credit paid for everything (the holds exist already), else
    `requires_action` with `redirect_url`, the provider's page to send the payer to. A replay of the key
    (double click, 20 identical requests) returns the same intent and opens no second payment; another
    key for a reference that has an open payment returns that payment (same payer and holds) or is refused.
    """
    from .services import _checked_specs, _describe, _refuse_funded

    specs = _checked_specs(payer=payer, holds=holds)
    if not idempotency_key:
        raise ValueError("An idempotency key is required.")
    total = sum((spec.amount for spec in specs), ZERO)
    with transaction.atomic():
        credit_account = account_lock(Kind.USER_CREDIT, user=payer) if use_credit else None
        intent = _replay(payer=payer, idempotency_key=idempotency_key, kind=PaymentIntent.Kind.FUNDING)
        if intent is None:
            _refuse_funded(specs)
            credit_used = min(account_balance(credit_account), total) if credit_account else ZERO
            intent, created = _intent_create(
                kind=PaymentIntent.Kind.FUNDING,
                payer=payer,
                idempotency_key=idempotency_key,
                amount=total - credit_used,
                credit_used=credit_used,
                description=_describe(specs),
                next_url=next_url,
                items=[
                    PaymentItem(
                        reference=s.reference,
                        payee=s.payee,
                        amount=s.amount,
                        fee=s.fee,
                        label=s.label[:300],
                        link_url=s.link_url[:500],
                    )
                    for s in specs
                ],
            )
            if created and credit_used:
                entry_post(
                    reference=f"credit-use:intent:{intent.pk}",
                    kind=Entry.Kind.CREDIT_USE,
                    memo="Paid from your credit",
                    postings=[
                        (credit_account, -credit_used),
                        (account_get(Kind.USER_FUNDING, user=payer), credit_used),
                    ],
                    actor=actor,
                    intent=intent,
                )
            if created and intent.amount == 0:
                intent.succeed()
                intent.save()
                _post_success(intent)
    return _checkout(intent)


def payment_start_bonus(
    *,
    payer: User,
    payee: User,
    amount: Decimal,
    fee: Decimal,
    reference: str,
    label: str,
    idempotency_key: str,
    next_url: str = "",
) -> PaymentIntent:
    """Start a bonus paid by card through the hosted page; `bonus:<reference>` is posted once it is confirmed."""
    amount, fee = to_money(amount), to_money(fee)
    if amount <= 0:
        raise InvalidAmount(_("Enter an amount greater than zero."))
    if not ZERO <= fee <= amount:
        raise InvalidAmount(_("The fee must be between zero and the amount."))
    if payee.pk == payer.pk:
        raise EscrowError(_("You can't pay yourself."))
    if not idempotency_key or not reference:
        raise ValueError("An idempotency key and a reference are required.")
    with transaction.atomic():
        intent = _replay(payer=payer, idempotency_key=idempotency_key, kind=PaymentIntent.Kind.BONUS)
        if intent is None:
            if Entry.objects.filter(reference=f"bonus:{reference}").exists():
                raise AlreadyProcessed("This bonus was already paid.")
            intent, _created = _intent_create(
                kind=PaymentIntent.Kind.BONUS,
                payer=payer,
                idempotency_key=idempotency_key,
                amount=amount,
                credit_used=ZERO,
                description=f"Bonus for {payee.get_full_name()}"[:400],
                next_url=next_url,
                items=[PaymentItem(reference=reference, payee=payee, amount=amount, fee=fee, label=label[:300])],
            )
    return _checkout(intent)


def _replay(*, payer, idempotency_key: str, kind: str) -> PaymentIntent | None:
    intent = PaymentIntent.objects.filter(idempotency_key=idempotency_key).first()
    if intent is not None and (intent.payer_id != payer.pk or intent.kind != kind):
        raise IdempotencyKeyReused()
    return intent


def _intent_create(*, items: list[PaymentItem], **fields) -> tuple[PaymentIntent, bool]:
    """Insert the intent and its open items. A concurrent request with the same key waits on the unique
    index and then returns the first one's intent; an open payment for one of the references (another
    key) is returned if it pays for exactly the same things for the same payer, refused otherwise."""
    try:
        with transaction.atomic():
            intent = PaymentIntent.objects.create(
                currency=settings.CURRENCY, provider=settings.PAYMENT_PROVIDER, **fields
            )
            intent.ledger_reference = f"payment:{intent.pk}"
            intent.save(update_fields=["ledger_reference"])
            for item in items:
                item.intent = intent
            PaymentItem.objects.bulk_create(items)
            return intent, True
    except IntegrityError:
        pass
    same_key = PaymentIntent.objects.filter(idempotency_key=fields["idempotency_key"]).first()
    if same_key is not None:
        if same_key.payer_id != fields["payer"].pk or same_key.kind != fields["kind"]:
            raise IdempotencyKeyReused() from None
        return same_key, False
    references = sorted(item.reference for item in items)
    open_item = PaymentItem.objects.filter(reference__in=references, open=True).select_related("intent").first()
    if open_item is not None:
        other = open_item.intent
        if (
            other.payer_id == fields["payer"].pk
            and sorted(other.items.values_list("reference", flat=True)) == references
        ):
            return other, False
        raise PaymentInProgress() from None
    raise AlreadyProcessed()


# --- phase 2: the provider, outside any transaction ------------------------------------------------


def _checkout(intent: PaymentIntent) -> PaymentIntent:
    """Open the provider's hosted page for a `created` intent (idempotent at the provider: same key, same page)."""
    if intent.state != State.CREATED:
        return intent
    _refuse_inside_transaction()
    provider = get_provider(intent.provider)
    return_url = reverse("escrow:payment_return", args=[intent.pk])
    try:
        payment = provider.checkout_create(
            amount=intent.amount,
            currency=intent.currency,
            description=intent.description,
            return_url=return_url,
            idempotency_key=f"intent:{intent.pk}",
            email=intent.payer.email,
        )
    except PaymentError as error:
        # Nothing can be paid: free the reservation so the payer can start again.
        payment_apply(
            intent_id=intent.pk, payment=ProviderPayment(id="", state="canceled", failure_message=error.user_message)
        )
        raise
    with transaction.atomic():
        intent = PaymentIntent.objects.select_for_update(of=("self",)).get(pk=intent.pk)
        if intent.state == State.CREATED:
            intent.await_payer(provider_id=payment.id, redirect_url=payment.redirect_url)
            intent.updated_at = timezone.now()
            intent.save()
    return intent


def _refuse_inside_transaction() -> None:
    """The provider is never called while this connection holds row locks (a test case's own wrapping
    transaction, marked by Django, does not count)."""
    connection = transaction.get_connection()
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError("The payment provider is called outside transactions: call this after commit.")


def payment_refresh(*, intent_id: int) -> PaymentIntent:
    """Ask the provider where the payment stands and apply it. The return page, webhooks and the sweep use it."""
    intent = PaymentIntent.objects.get(pk=intent_id)
    if not intent.is_open or not intent.provider_id or intent.kind == PaymentIntent.Kind.REFUND:
        return intent
    _refuse_inside_transaction()
    payment = get_provider(intent.provider).payment_retrieve(intent.provider_id)
    return payment_apply(intent_id=intent.pk, payment=payment)


def payment_cancel(*, intent_id: int, actor: User) -> PaymentIntent:
    """The payer gives up a payment not yet paid: the provider closes its page, then its answer is applied
    (if the payer did pay meanwhile, the payment succeeds instead)."""
    intent = PaymentIntent.objects.get(pk=intent_id)
    if intent.payer_id != actor.pk:
        raise EscrowError(_("This is not your payment."))
    if intent.state not in (State.CREATED, State.REQUIRES_ACTION):
        return intent
    _refuse_inside_transaction()
    if not intent.provider_id:
        return payment_apply(intent_id=intent.pk, payment=ProviderPayment(id="", state="canceled"))
    payment = get_provider(intent.provider).checkout_cancel(intent.provider_id)
    return payment_apply(intent_id=intent.pk, payment=payment)


# --- phase 3: finish --------------------------------------------------------------------------------


def payment_apply(*, intent_id: int, payment: ProviderPayment) -> PaymentIntent:
    """Move the intent to what the provider says, forward only; post the money on success. Idempotent:
    a replayed or out-of-order answer (processing after succeeded) changes nothing."""
    with transaction.atomic():
        intent = PaymentIntent.objects.select_for_update(of=("self",)).get(pk=intent_id)
        if not intent.is_open:
            return intent
        if payment.amount is not None and to_money(payment.amount) != intent.amount:
            logger.error("Provider amount %s differs from intent %s (%s)", payment.amount, intent.pk, intent.amount)
            return intent
        state = payment.state
        if state == "processing" and intent.state != State.PROCESSING:
            intent.mark_processing()
        elif state == "succeeded":
            intent.succeed(charge_id=payment.charge_id, card_label=payment.card_label)
        elif state == "failed":
            intent.fail(code=payment.failure_code or "failed", message=payment.failure_message or "The payment failed.")
        elif state == "canceled" and intent.state != State.PROCESSING:
            intent.cancel(message=payment.failure_message or "The payment was canceled.")
        else:
            return intent
        intent.updated_at = timezone.now()
        intent.save()
        if intent.state == State.SUCCEEDED:
            _post_success(intent)
        elif intent.state in (State.FAILED, State.CANCELED):
            _release_reservation(intent)
        return intent


def _post_success(intent: PaymentIntent) -> None:
    """The ledger entries of a confirmed payment, the holds, and the callers' callbacks. Caller holds the
    intent's row lock inside a transaction."""
    actor = intent.payer
    funding = account_get(Kind.USER_FUNDING, user=intent.payer)
    if intent.amount > 0:
        entry_post(
            reference=intent.ledger_reference,
            kind=Entry.Kind.CHARGE,
            memo=f"Card payment ({intent.card_label})" if intent.card_label else "Card payment",
            postings=[(account_get(Kind.GATEWAY), -intent.amount), (funding, intent.amount)],
            actor=actor,
            external_id=intent.provider_charge_id[:100],
            intent=intent,
        )
    items = list(intent.items.select_related("payee").order_by("reference"))
    for item in items:
        if intent.kind == PaymentIntent.Kind.BONUS:
            fee_note = f" (after a {format_money(item.fee)} platform fee)" if item.fee else ""
            entry = entry_post(
                reference=f"bonus:{item.reference}",
                kind=Entry.Kind.BONUS,
                memo=f"Bonus from {intent.payer.get_full_name()}{fee_note}",
                postings=nonzero(
                    (funding, -item.amount),
                    (account_get(Kind.USER_AVAILABLE, user=item.payee), item.amount - item.fee),
                    (account_get(Kind.PLATFORM_FEES), item.fee),
                ),
                actor=actor,
                external_id=intent.provider_charge_id[:100],
                intent=intent,
            )
            if item.amount - item.fee > 0:
                transfer_record(entry=entry, payee=item.payee, amount=item.amount - item.fee)
            continue
        hold = Hold.objects.create(
            reference=item.reference,
            payer=intent.payer,
            payee=item.payee,
            amount=item.amount,
            fee=item.fee,
            label=item.label,
            link_url=item.link_url,
            funding_key=intent.idempotency_key,
            intent=intent,
        )
        entry_post(
            reference=f"fund:{hold.reference}",
            kind=Entry.Kind.FUND,
            memo=f"Paid into escrow: {hold.label}",
            postings=[(funding, -hold.amount), (account_get(Kind.ESCROW_HOLD, hold=hold), hold.amount)],
            actor=actor,
            hold=hold,
            intent=intent,
        )
    PaymentItem.objects.filter(intent=intent).update(open=False)
    for item in items:
        callback = payment_callback_for(item.reference)
        if callback is not None:
            callback(item.reference, actor)


def payment_callback_for(reference: str):
    """The caller's callback for a confirmed payment of `reference` (settings.ESCROW_PAYMENT_CALLBACKS maps a
    reference prefix, e.g. "milestone:", to the dotted path of `callback(reference, actor)`), or None."""
    for prefix, path in getattr(settings, "ESCROW_PAYMENT_CALLBACKS", {}).items():
        if reference.startswith(prefix):
            return import_string(path)
    return None


def _release_reservation(intent: PaymentIntent) -> None:
    PaymentItem.objects.filter(intent=intent).update(open=False)
    if intent.credit_used:
        entry_post(
            reference=f"credit-return:intent:{intent.pk}",
            kind=Entry.Kind.CREDIT_RETURN,
            memo="Payment not completed: your credit is back",
            postings=[
                (account_get(Kind.USER_FUNDING, user=intent.payer), -intent.credit_used),
                (account_get(Kind.USER_CREDIT, user=intent.payer), intent.credit_used),
            ],
            actor=intent.payer,
            intent=intent,
        )


# --- card refunds (commit, then call, then fall back to credit) -------------------------------------


def card_refund_start(*, hold: Hold, value: Decimal, entry_reference: str) -> PaymentIntent:
    """Inside the caller's transaction (hold row locked), which posts the entry taking the money out of escrow
    (a refund, or a settlement's refunded part) with this intent: a card refund to run after commit. At most
    what the funding payment charged goes back to the card, across its holds."""
    funding = hold.intent
    left = card_refundable(hold)
    if value > left:  # callers send only what the card can take back (escrow.services._refund_legs)
        raise InvalidAmount(
            _("At most %(amount)s can go back to the card; refund the rest as credit.") % {"amount": format_money(left)}
        )
    refund = PaymentIntent.objects.create(
        kind=PaymentIntent.Kind.REFUND,
        idempotency_key=f"refund-intent:{entry_reference}",
        payer=hold.payer,
        amount=value,
        currency=funding.currency,
        description=f"Refund: {hold.label}"[:400],
        provider=funding.provider,
        provider_charge_id=funding.provider_charge_id,
        refund_of=funding,
        hold=hold,
        ledger_reference=entry_reference,
        card_label=funding.card_label,
    )
    refund.mark_processing()
    refund.save()
    from .tasks import card_refund_execute as execute_task

    execute_task.delay_on_commit(refund.pk)
    return refund


def card_refund_execute(*, intent_id: int) -> PaymentIntent:
    """Call the provider for a committed card refund (idempotent key), then record the answer."""
    intent = PaymentIntent.objects.get(pk=intent_id)
    if intent.state != State.PROCESSING:
        return intent
    _refuse_inside_transaction()
    try:
        refund_id = get_provider(intent.provider).refund(
            charge_id=intent.provider_charge_id,
            amount=intent.amount,
            currency=intent.currency,
            idempotency_key=f"intent:{intent.pk}",
        )
    except PaymentError as error:
        if error.code == "gateway_unavailable":
            raise  # try again later (the sweep retries processing refunds)
        with transaction.atomic():
            intent = PaymentIntent.objects.select_for_update(of=("self",)).get(pk=intent_id)
            if intent.state != State.PROCESSING:
                return intent
            intent.fail(code=error.code, message=error.user_message)
            intent.save()
            entry_post(
                reference=f"refund-card-failed:{intent.pk}",
                kind=Entry.Kind.REFUND_CARD_FAILED,
                memo="The card refund failed: the money is in your credit instead",
                postings=[
                    (account_get(Kind.GATEWAY), -intent.amount),
                    (account_get(Kind.USER_CREDIT, user=intent.payer), intent.amount),
                ],
                actor=None,
                hold=intent.hold,
                intent=intent,
            )
        return intent
    with transaction.atomic():
        intent = PaymentIntent.objects.select_for_update(of=("self",)).get(pk=intent_id)
        if intent.state == State.PROCESSING:
            intent.provider_id = refund_id
            intent.succeed()
            intent.save()
    return intent


# --- webhooks and the reconciliation sweep ------------------------------------------------------------


def webhook_receive(*, provider: str, body: bytes, headers) -> int:
    """Verify, store once, and queue the processing of one webhook. Returns the HTTP status to answer."""
    try:
        event = get_provider(provider).webhook_parse(body=body, headers=headers)
    except InvalidSignature as error:
        logger.warning("Refused a %s webhook: %s", provider, error)
        return 400
    from .tasks import process_webhook_event

    with transaction.atomic():
        try:
            with transaction.atomic():
                row = WebhookEvent.objects.create(
                    provider=provider,
                    event_id=event.id,
                    type=event.type[:100],
                    object_id=event.object_id[:255],
                    payload=event.payload,
                )
        except IntegrityError:
            return 200  # a replay: stored and processed once already
        process_webhook_event.delay_on_commit(row.pk)
    return 200


def webhook_process(*, event_pk: int) -> None:
    """Apply one stored event: ask the provider about its object and apply the answer (order-safe)."""
    row = WebhookEvent.objects.get(pk=event_pk)
    if row.processed_at is not None:
        return
    try:
        if row.type.startswith("account."):
            from .services import payout_account_refresh

            payout_account_refresh(provider=row.provider, account_id=row.object_id)
        else:
            intent = PaymentIntent.objects.filter(provider=row.provider, provider_id=row.object_id).first()
            if intent is not None:
                payment_refresh(intent_id=intent.pk)
    except Exception as error:
        WebhookEvent.objects.filter(pk=row.pk).update(attempts=row.attempts + 1, last_error=repr(error)[:2000])
        raise
    WebhookEvent.objects.filter(pk=row.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), attempts=row.attempts + 1, last_error=""
    )


RECONCILE_AFTER = timedelta(minutes=2)
ABANDON_CREATED_AFTER = timedelta(hours=1)
BATCH = 200


def payments_reconcile(*, now=None) -> dict[str, int]:
    """The sweep: finish what a crash, a lost webhook or a slow provider left open. Idempotent."""
    now = now or timezone.now()
    counts = {"refreshed": 0, "refunds": 0, "transfers": 0, "events": 0, "abandoned": 0, "errors": 0}
    stale = PaymentIntent.objects.filter(updated_at__lt=now - RECONCILE_AFTER)
    for intent_id in (
        stale.filter(
            state__in=[State.REQUIRES_ACTION, State.PROCESSING],
            kind__in=[PaymentIntent.Kind.FUNDING, PaymentIntent.Kind.BONUS],
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[:BATCH]
    ):
        counts["refreshed"] += _safely(counts, payment_refresh, intent_id=intent_id)
    for intent_id in stale.filter(state=State.PROCESSING, kind=PaymentIntent.Kind.REFUND).values_list("pk", flat=True)[
        :BATCH
    ]:
        counts["refunds"] += _safely(counts, card_refund_execute, intent_id=intent_id)
    for intent_id in PaymentIntent.objects.filter(
        state=State.CREATED, updated_at__lt=now - ABANDON_CREATED_AFTER
    ).values_list("pk", flat=True)[:BATCH]:
        # Died between prepare and the provider call: no page was ever shown, nobody can have paid.
        payment_apply(intent_id=intent_id, payment=ProviderPayment(id="", state="canceled"))
        counts["abandoned"] += 1
    waiting = Transfer.objects.filter(status=Transfer.Status.PENDING, created_at__lt=now - RECONCILE_AFTER)
    for payee_id in waiting.order_by("payee_id").values_list("payee_id", flat=True).distinct()[:BATCH]:
        counts["transfers"] += _safely(counts, transfers_send, payee_id=payee_id)
    for event_pk in WebhookEvent.objects.filter(processed_at__isnull=True, received_at__lt=now - RECONCILE_AFTER)[
        :BATCH
    ].values_list("pk", flat=True):
        counts["events"] += _safely(counts, webhook_process, event_pk=event_pk)
    return counts


def _safely(counts, function, **kwargs) -> int:
    try:
        function(**kwargs)
    except Exception:
        logger.exception("Reconciliation of %s failed", kwargs)
        counts["errors"] += 1
        return 0
    return 1
