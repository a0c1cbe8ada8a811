"""The seam's adapter for the sandbox provider (escrow/sandbox): its answers mapped to ProviderPayment."""

import hmac
import json
import time
from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from escrow.gateways import CardDeclined, GatewayUnavailable, PaymentError
from escrow.sandbox import engine
from escrow.sandbox.models import Checkout, ConnectedAccount

from . import AccountStatus, InvalidSignature, ProviderEvent, ProviderPayment, destination_label

STATES = {
    Checkout.Status.OPEN: "requires_action",
    Checkout.Status.CHALLENGE: "requires_action",
    Checkout.Status.PROCESSING: "processing",
    Checkout.Status.SUCCEEDED: "succeeded",
    Checkout.Status.FAILED: "failed",
    Checkout.Status.CANCELED: "canceled",
}
SIGNATURE_TOLERANCE = 300  # seconds, as Stripe's default


def _error(error: engine.SandboxError) -> PaymentError:
    if error.code == "processing_error":
        return GatewayUnavailable()
    if error.code in ("card_declined", "insufficient_funds"):
        return CardDeclined(error.message, code=error.code)
    return PaymentError(error.message, code=error.code)


class SandboxProvider:
    name = "sandbox"

    def checkout_create(self, *, amount, currency, description, return_url, idempotency_key, email):
        try:
            checkout = engine.checkout_create(
                amount=amount,
                currency=currency,
                description=description,
                return_url=return_url,
                key=idempotency_key,
                email=email,
            )
        except engine.SandboxError as error:
            raise _error(error) from error
        return self._payment(checkout)

    def payment_retrieve(self, payment_id: str) -> ProviderPayment:
        checkout = Checkout.objects.filter(pk=payment_id).first()
        if checkout is None:
            raise PaymentError("The provider does not know this payment.", code="not_found")
        return self._payment(engine.checkout_refresh(checkout))

    def checkout_cancel(self, payment_id: str) -> ProviderPayment:
        return self._payment(engine.checkout_cancel(payment_id))

    def _payment(self, checkout: Checkout) -> ProviderPayment:
        return ProviderPayment(
            id=checkout.pk,
            state=STATES[checkout.status],
            redirect_url=reverse("sandbox:checkout", args=[checkout.pk]),
            charge_id=checkout.charge_id,
            card_label=checkout.card_label,
            amount=checkout.amount,
            failure_code=checkout.failure_code,
            failure_message=checkout.failure_message,
        )

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> str:
        try:
            return engine.refund_create(charge_id=charge_id, amount=amount, key=idempotency_key).pk
        except engine.SandboxError as error:
            raise _error(error) from error

    def account_create(self, *, email: str, country: str, idempotency_key: str) -> str:
        return engine.account_create(email=email, key=idempotency_key).pk

    def account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        return f"{reverse('sandbox:onboarding', args=[account_id])}?return={return_url}"

    def account_retrieve(self, account_id: str) -> AccountStatus:
        account = ConnectedAccount.objects.get(pk=account_id)
        return AccountStatus(
            id=account.pk,
            details_submitted=account.details_submitted,
            payouts_enabled=account.payouts_enabled,
            destination=destination_label(last4=account.bank_last4),
        )

    def transfer(self, *, account_id, amount, currency, idempotency_key, description) -> str:
        return self._move("transfer", account_id, amount, idempotency_key)

    def payout(self, *, account_id, amount, currency, idempotency_key) -> str:
        return self._move("payout", account_id, amount, idempotency_key)

    def _move(self, kind, account_id, amount, key) -> str:
        try:
            return engine.money_move(kind=kind, account_id=account_id, amount=amount, key=key).pk
        except engine.SandboxError as error:
            raise _error(error) from error

    def webhook_parse(self, *, body: bytes, headers) -> ProviderEvent:
        header = headers.get(engine.SIGNATURE_HEADER, "")
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise InvalidSignature("No timestamp in the signature header.") from None
        if abs(time.time() - timestamp) > SIGNATURE_TOLERANCE:
            raise InvalidSignature("The signature is too old.")
        expected = engine.sign(body, secret=settings.SANDBOX_WEBHOOK_SECRET, timestamp=timestamp)
        if not hmac.compare_digest(expected, f"t={timestamp},v1={parts.get('v1', '')}"):
            raise InvalidSignature("The signature does not match.")
        try:
            payload = json.loads(body)
            return ProviderEvent(
                id=payload["id"], type=payload["type"], object_id=payload["data"]["object"]["id"], payload=payload
            )
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidSignature("A signed body that is not an event.") from error
