"""The seam's adapter for Stripe (the official `stripe` library): Checkout Sessions for funding and bonuses,
refunds, Connect Express accounts for payees (onboarding link, status), transfers to them and payouts.

Amounts are Decimals on our side and integer cents at Stripe. Every create carries our idempotency key,
so a retry after a timeout or a crash returns the object Stripe made the first time. Webhooks are
verified with `stripe.Webhook.construct_event` and the STRIPE_WEBHOOK_SECRET of the endpoint.
"""

import json
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from escrow.gateways import CardDeclined, GatewayUnavailable, PaymentError

from . import AccountStatus, InvalidSignature, ProviderEvent, ProviderPayment, destination_label

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    return int((Decimal(amount) / CENT).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


def absolute(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else f"{settings.SITE_URL}{url}"


def _error(error: stripe.StripeError) -> PaymentError:
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return GatewayUnavailable()
    if isinstance(error, stripe.CardError):
        return CardDeclined(error.user_message or None, code=error.code or "card_declined")
    return PaymentError(
        getattr(error, "user_message", None) or None, code=getattr(error, "code", None) or "stripe_error"
    )


def _destination(account) -> str:
    """The connected account's default payout destination (Express accounts list their external accounts)."""
    external = (account.to_dict().get("external_accounts") or {}).get("data") or []
    chosen = next((e for e in external if e.get("default_for_currency")), external[0] if external else None)
    if chosen is None:
        return ""
    return destination_label(last4=chosen.get("last4") or "", bank_name=chosen.get("bank_name") or "")


class StripeProvider:
    name = "stripe"

    def __init__(self):
        if not settings.STRIPE_SECRET_KEY:
            raise ImproperlyConfigured("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET).")
        options = {"max_network_retries": 2}
        if settings.STRIPE_API_BASE:
            options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
        self.client = stripe.StripeClient(settings.STRIPE_SECRET_KEY, **options)

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except stripe.StripeError as error:
            raise _error(error) from error

    # --- payments in ---------------------------------------------------------------------------

    def checkout_create(self, *, amount, currency, description, return_url, idempotency_key, email):
        back = absolute(return_url) + "?session_id={CHECKOUT_SESSION_ID}"
        session = self._call(
            self.client.v1.checkout.sessions.create,
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": currency.lower(),
                            "unit_amount": to_cents(amount),
                            "product_data": {"name": description[:250] or "Payment"},
                        },
                    }
                ],
                "customer_email": email or None,
                "success_url": back,
                "cancel_url": back,
                "metadata": {"reference": idempotency_key},
            },
            options={"idempotency_key": idempotency_key},
        )
        return self._payment(session)

    def payment_retrieve(self, payment_id: str) -> ProviderPayment:
        session = self._call(
            self.client.v1.checkout.sessions.retrieve,
            payment_id,
            params={"expand": ["payment_intent.latest_charge"]},
        )
        return self._payment(session)

    def checkout_cancel(self, payment_id: str) -> ProviderPayment:
        try:
            return self._payment(self.client.v1.checkout.sessions.expire(payment_id))
        except stripe.InvalidRequestError:  # already complete or expired: its real state decides
            return self.payment_retrieve(payment_id)
        except stripe.StripeError as error:
            raise _error(error) from error

    def _payment(self, session) -> ProviderPayment:
        data = session.to_dict()  # plain dicts all the way down (expanded objects included)
        intent = data.get("payment_intent")
        intent = intent if isinstance(intent, dict) else None
        charge = intent.get("latest_charge") if intent else None
        card_label = ""
        if isinstance(charge, dict):
            card = (charge.get("payment_method_details") or {}).get("card") or {}
            if card.get("last4"):
                card_label = f"{str(card.get('brand') or 'card').title()} •••• {card['last4']}"
        failure_code = failure_message = ""
        if data.get("status") == "open":
            state = "requires_action"
        elif data.get("status") == "expired":
            state = "canceled"
        elif data.get("payment_status") in ("paid", "no_payment_required"):
            state = "succeeded"
        elif intent and intent.get("status") in ("requires_payment_method", "canceled"):
            state = "failed"
            error = intent.get("last_payment_error") or {}
            failure_code, failure_message = error.get("code") or "payment_failed", error.get("message") or ""
        else:
            state = "processing"  # e.g. a bank debit, confirmed later by checkout.session.async_payment_*
        amount_total = data.get("amount_total")
        return ProviderPayment(
            id=data["id"],
            state=state,
            redirect_url=data.get("url") or "",
            charge_id=charge.get("id", "") if isinstance(charge, dict) else (charge or ""),
            card_label=card_label,
            amount=from_cents(amount_total) if amount_total is not None else None,
            failure_code=failure_code,
            failure_message=failure_message,
        )

    def refund(self, *, charge_id, amount, currency, idempotency_key) -> str:
        refund = self._call(
            self.client.v1.refunds.create,
            params={"charge": charge_id, "amount": to_cents(amount)},
            options={"idempotency_key": idempotency_key},
        )
        if refund.status in ("failed", "canceled"):
            raise PaymentError("The card refund failed.", code=f"refund_{refund.status}")
        return refund.id

    # --- Connect: payees' accounts, transfers and payouts ---------------------------------------

    def account_create(self, *, email, country, idempotency_key) -> str:
        account = self._call(
            self.client.v1.accounts.create,
            params={
                "type": "express",
                "country": country,
                "email": email,
                "capabilities": {"transfers": {"requested": True}},
            },
            options={"idempotency_key": idempotency_key},
        )
        return account.id

    def account_link(self, *, account_id, refresh_url, return_url) -> str:
        link = self._call(
            self.client.v1.account_links.create,
            params={
                "account": account_id,
                "refresh_url": absolute(refresh_url),
                "return_url": absolute(return_url),
                "type": "account_onboarding",
            },
        )
        return link.url

    def account_retrieve(self, account_id) -> AccountStatus:
        account = self._call(self.client.v1.accounts.retrieve, account_id)
        return AccountStatus(
            id=account.id,
            details_submitted=bool(account.details_submitted),
            payouts_enabled=bool(account.payouts_enabled),
            destination=_destination(account),
        )

    def transfer(self, *, account_id, amount, currency, idempotency_key, description) -> str:
        transfer = self._call(
            self.client.v1.transfers.create,
            params={
                "amount": to_cents(amount),
                "currency": currency.lower(),
                "destination": account_id,
                "description": description,
            },
            options={"idempotency_key": idempotency_key},
        )
        return transfer.id

    def payout(self, *, account_id, amount, currency, idempotency_key) -> str:
        payout = self._call(
            self.client.v1.payouts.create,
            params={"amount": to_cents(amount), "currency": currency.lower()},
            options={"idempotency_key": idempotency_key, "stripe_account": account_id},
        )
        return payout.id

    # --- webhooks --------------------------------------------------------------------------------

    def webhook_parse(self, *, body: bytes, headers) -> ProviderEvent:
        try:
            event = stripe.Webhook.construct_event(
                body, headers.get("Stripe-Signature"), settings.STRIPE_WEBHOOK_SECRET
            )
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise InvalidSignature(str(error)) from error
        payload = json.loads(body)
        return ProviderEvent(id=event.id, type=event.type, object_id=payload["data"]["object"]["id"], payload=payload)
