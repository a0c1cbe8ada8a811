"""The sandbox provider's behaviour: what happens on its side when a card is entered, refunded, paid out.

Test cards (spaces allowed; any future expiry, any 3-digit CVC):

    4242 4242 4242 4242  succeeds                 4000 0000 0000 9995  insufficient funds
    4000 0000 0000 0002  declined                 4000 0000 0000 0119  network error (nothing charged, retry)
    4000 0027 6000 3184  3-D Secure challenge     4000 0000 0000 0077  confirmed late, by webhook only

Any other number that passes the Luhn check succeeds; one that fails it is refused as invalid.
Bank accounts for connected accounts: any number succeeds except 000111111116, which is closed: payouts to
it fail (transfers into the connected account still arrive).
"""

import hashlib
import hmac
import json
import secrets
import time
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .models import Checkout, ConnectedAccount, Event, Refund, Transfer


def normalize_card_number(number: str) -> str:
    return "".join(ch for ch in str(number) if ch not in " -")


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, digit in enumerate(int(ch) for ch in reversed(number)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    return {"4": "Visa", "5": "Mastercard", "3": "American Express"}.get(number[:1], "Card")


DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
UNREACHABLE = "4000000000000119"
THREE_D_SECURE = "4000002760003184"
LATE = "4000000000000077"
FAILING_BANK_ACCOUNT = "000111111116"
CHECKOUT_LIFETIME = timedelta(hours=1)


class SandboxError(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(message)


def new_id(prefix: str) -> str:
    return f"{prefix}_sandbox_{secrets.token_hex(12)}"


def _once(model, idempotency_key: str, **fields):
    """Create the object for this idempotency key, or return the one created the first time."""
    existing = model.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return model.objects.create(idempotency_key=idempotency_key, **fields)
    except IntegrityError:
        return model.objects.get(idempotency_key=idempotency_key)


# --- checkouts -------------------------------------------------------------------------------------


def checkout_create(*, amount: Decimal, currency: str, description: str, return_url: str, key: str, email: str):
    if Decimal(amount) <= 0:
        raise SandboxError("invalid_amount", "The amount must be greater than zero.")
    return _once(
        Checkout,
        key,
        id=new_id("cs"),
        amount=amount,
        currency=currency,
        description=description[:400],
        return_url=return_url,
        email=email,
        expires_at=timezone.now() + CHECKOUT_LIFETIME,
    )


def checkout_refresh(checkout: Checkout) -> Checkout:
    """Expire an abandoned checkout; settle a late one whose time has come."""
    now = timezone.now()
    if checkout.status in (Checkout.Status.OPEN, Checkout.Status.CHALLENGE) and checkout.expires_at <= now:
        _settle(checkout.pk, Checkout.Status.CANCELED, "expired", "The payment page expired.")
    elif checkout.status == Checkout.Status.PROCESSING and checkout.settle_at and checkout.settle_at <= now:
        _settle(checkout.pk, Checkout.Status.SUCCEEDED)
    return Checkout.objects.get(pk=checkout.pk)


def checkout_pay(checkout_id: str, *, number: str, exp_month: int, exp_year: int, cvc: str) -> Checkout:
    """The payer submitted the hosted form. Raises SandboxError for a card problem the page shows."""
    number = normalize_card_number(number)
    if number == UNREACHABLE:
        raise SandboxError("processing_error", "The card network could not be reached. Nothing was charged; retry.")
    if not luhn_valid(number):
        raise SandboxError("invalid_number", "Your card number is invalid.")
    today = date.today()
    if (exp_year, exp_month) < (today.year, today.month):
        raise SandboxError("expired_card", "Your card has expired.")
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        raise SandboxError("invalid_cvc", "Your card's security code is invalid.")
    label = f"{card_brand(number)} •••• {number[-4:]}"
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        if checkout.status != Checkout.Status.OPEN:
            return checkout
        checkout.card_label = label
        checkout.save(update_fields=["card_label"])
    if number == DECLINED:
        return _settle(checkout_id, Checkout.Status.FAILED, "card_declined", "Your card was declined.")
    if number == INSUFFICIENT_FUNDS:
        return _settle(checkout_id, Checkout.Status.FAILED, "insufficient_funds", "Your card has insufficient funds.")
    if number == THREE_D_SECURE:
        return _settle(checkout_id, Checkout.Status.CHALLENGE)
    if number == LATE:
        return _settle(checkout_id, Checkout.Status.PROCESSING)
    return _settle(checkout_id, Checkout.Status.SUCCEEDED)


def challenge_answer(checkout_id: str, *, passed: bool) -> Checkout:
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        if checkout.status != Checkout.Status.CHALLENGE:
            return checkout
    if passed:
        return _settle(checkout_id, Checkout.Status.SUCCEEDED)
    return _settle(
        checkout_id, Checkout.Status.FAILED, "authentication_failed", "The bank could not authenticate the payment."
    )


def checkout_cancel(checkout_id: str) -> Checkout:
    return _settle(checkout_id, Checkout.Status.CANCELED, "canceled", "The payment was canceled.")


def settle_late_checkouts() -> int:
    """The sandbox's own sweep: late confirmations whose time came are confirmed (and their webhook sent)."""
    due = Checkout.objects.filter(status=Checkout.Status.PROCESSING, settle_at__lte=timezone.now())
    settled = 0
    for checkout_id in due.values_list("pk", flat=True)[:500]:
        _settle(checkout_id, Checkout.Status.SUCCEEDED)
        settled += 1
    return settled


FINAL = (Checkout.Status.SUCCEEDED, Checkout.Status.FAILED, Checkout.Status.CANCELED)
ALLOWED = {
    Checkout.Status.OPEN: {Checkout.Status.CHALLENGE, Checkout.Status.PROCESSING, *FINAL},
    Checkout.Status.CHALLENGE: set(FINAL),
    Checkout.Status.PROCESSING: {Checkout.Status.SUCCEEDED, Checkout.Status.FAILED},
}


def _settle(checkout_id: str, status: str, code: str = "", message: str = "") -> Checkout:
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
        if status not in ALLOWED.get(checkout.status, set()):
            return checkout
        checkout.status = status
        checkout.failure_code, checkout.failure_message = code, message
        if status == Checkout.Status.SUCCEEDED:
            checkout.charge_id = new_id("ch")
        if status == Checkout.Status.PROCESSING:
            checkout.settle_at = timezone.now() + timedelta(seconds=settings.SANDBOX_LATE_SECONDS)
        checkout.save()
        event_emit(f"payment.{status}", checkout.pk, checkout_payload(checkout))
    return checkout


def checkout_payload(checkout: Checkout) -> dict:
    return {
        "id": checkout.pk,
        "object": "checkout",
        "status": checkout.status,
        "amount": str(checkout.amount),
        "currency": checkout.currency,
        "charge": checkout.charge_id or None,
        "card": checkout.card_label or None,
        "failure_code": checkout.failure_code or None,
        "failure_message": checkout.failure_message or None,
    }


# --- refunds, connected accounts, transfers and payouts ----------------------------------------------


def refund_create(*, charge_id: str, amount: Decimal, key: str) -> Refund:
    checkout = (
        Checkout.objects.filter(charge_id=charge_id, status=Checkout.Status.SUCCEEDED).first() if charge_id else None
    )
    if checkout is None:
        raise SandboxError("no_charge", "There is no such charge to refund.")
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    refunded = sum((refund.amount for refund in Refund.objects.filter(charge_id=charge_id)), Decimal("0"))
    if refunded + Decimal(amount) > checkout.amount:
        raise SandboxError("amount_too_large", "The refund is larger than what is left of the charge.")
    return _once(Refund, key, id=new_id("re"), charge_id=charge_id, amount=amount)


def account_create(*, email: str, key: str) -> ConnectedAccount:
    return _once(ConnectedAccount, key, id=new_id("acct"), email=email)


def account_onboard(account_id: str, *, bank_account: str) -> ConnectedAccount:
    with transaction.atomic():
        account = ConnectedAccount.objects.select_for_update().get(pk=account_id)
        account.bank_last4 = bank_account[-4:]
        account.details_submitted = account.payouts_enabled = True
        account.save()
        event_emit("account.updated", account.pk, account_payload(account))
    return account


def account_payload(account: ConnectedAccount) -> dict:
    return {
        "id": account.pk,
        "object": "account",
        "details_submitted": account.details_submitted,
        "payouts_enabled": account.payouts_enabled,
    }


def money_move(*, kind: str, account_id: str, amount: Decimal, key: str) -> Transfer:
    account = ConnectedAccount.objects.filter(pk=account_id).first()
    if account is None or not account.payouts_enabled:
        raise SandboxError("account_invalid", "The payee has not finished setting up payouts.")
    if Decimal(amount) <= 0:
        raise SandboxError("invalid_amount", "The amount must be greater than zero.")
    existing = Transfer.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    if kind == Transfer.Kind.PAYOUT:
        if account.bank_last4 == FAILING_BANK_ACCOUNT[-4:]:
            raise SandboxError("account_closed", "The bank account was closed.")
        if Decimal(amount) > account_balance(account):
            raise SandboxError("balance_insufficient", "The payout account does not hold that much yet.")
    return _once(
        Transfer,
        key,
        id=new_id("tr" if kind == Transfer.Kind.TRANSFER else "po"),
        kind=kind,
        account=account,
        amount=amount,
    )


def account_balance(account: ConnectedAccount) -> Decimal:
    """What was transferred to the connected account and not paid out yet."""
    totals = {kind: Decimal("0") for kind in Transfer.Kind.values}
    for row in account.transfers.values("kind").annotate(total=models.Sum("amount")).order_by():
        totals[row["kind"]] = row["total"]
    return totals[Transfer.Kind.TRANSFER] - totals[Transfer.Kind.PAYOUT]


# --- webhooks ----------------------------------------------------------------------------------------


def event_emit(event_type: str, object_id: str, data: dict) -> Event:
    """Record the event and deliver it once the provider's own transaction has committed."""
    from .tasks import deliver_event

    event = Event.objects.create(
        id=new_id("evt"),
        type=event_type,
        object_id=object_id,
        payload={"type": event_type, "created": int(time.time()), "data": {"object": data}},
    )
    event.payload["id"] = event.pk
    event.save(update_fields=["payload"])
    deliver_event.delay_on_commit(event.pk)
    return event


SIGNATURE_HEADER = "Sandbox-Signature"


def sign(body: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the scheme Stripe uses."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_body(event: Event) -> bytes:
    return json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
