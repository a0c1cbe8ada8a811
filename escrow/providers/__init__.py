"""The provider seam: every call that reaches the payment provider goes through `get_provider()`.

`PAYMENT_PROVIDER` (sandbox | stripe) chooses the adapter. Each adapter speaks the provider's own
language and answers in these dataclasses; `escrow.payments` decides what they mean for the ledger.
Nothing here holds a row lock: callers call the provider outside every transaction (Saleor's
`complete_checkout`: prepare in one transaction, call the provider, finish in another).

Card data never passes through this seam: the provider's hosted page takes it.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from escrow.gateways import PaymentError

ProviderState = Literal["requires_action", "processing", "succeeded", "failed", "canceled"]


class InvalidSignature(Exception):
    """A webhook whose signature does not verify: answered 400 and never stored."""


@dataclass(frozen=True)
class ProviderPayment:
    """The provider's view of one payment (a hosted checkout and the charge it made)."""

    id: str
    state: ProviderState
    redirect_url: str = ""
    charge_id: str = ""
    card_label: str = ""
    amount: Decimal | None = None
    failure_code: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event: `object_id` is the payment (or account) it is about."""

    id: str
    type: str
    object_id: str
    payload: dict


@dataclass(frozen=True)
class AccountStatus:
    id: str
    details_submitted: bool
    payouts_enabled: bool
    # Where payouts go, as the provider lets us describe it (never a full account number), e.g.
    # "bank account ending 6789"; empty when the provider does not say.
    destination: str = ""


def destination_label(*, last4: str, bank_name: str = "") -> str:
    """How a payout destination is shown and kept: the bank's name (if known) and the last four digits."""
    if not last4:
        return ""
    return f"{bank_name} •••• {last4}".strip()


class PaymentProvider(Protocol):
    name: str

    def checkout_create(
        self, *, amount: Decimal, currency: str, description: str, return_url: str, idempotency_key: str, email: str
    ) -> ProviderPayment:
        """Open a hosted payment page for `amount`; the same key returns the same checkout."""

    def payment_retrieve(self, payment_id: str) -> ProviderPayment:
        """Ask the provider where a payment stands now (webhooks and the sweep trust only this answer)."""

    def checkout_cancel(self, payment_id: str) -> ProviderPayment:
        """Close an unpaid hosted page (Stripe: expire the session); a paid one stays paid."""

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> str:
        """Refund part of a charge to its card; return the refund id. Raises PaymentError."""

    def account_create(self, *, email: str, country: str, idempotency_key: str) -> str:
        """Create the payee's connected account; return its id."""

    def account_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        """A one-time URL where the payee enters their payout details on the provider's site."""

    def account_retrieve(self, account_id: str) -> AccountStatus: ...

    def transfer(
        self, *, account_id: str, amount: Decimal, currency: str, idempotency_key: str, description: str
    ) -> str:
        """Move released money to the payee's connected account; return the transfer id."""

    def payout(self, *, account_id: str, amount: Decimal, currency: str, idempotency_key: str) -> str:
        """Pay the connected account's money out to its bank; return the payout id. Raises PaymentError."""

    def webhook_parse(self, *, body: bytes, headers) -> ProviderEvent:
        """Verify the signature and parse the event; raise InvalidSignature."""


PROVIDERS = {
    "sandbox": "escrow.providers.sandbox.SandboxProvider",
    "stripe": "escrow.providers.stripe.StripeProvider",
}


def get_provider(name: str | None = None) -> PaymentProvider:
    """The configured provider (or the one named: an intent is always finished by the provider that began it)."""
    return import_string(PROVIDERS[name or settings.PAYMENT_PROVIDER])()


__all__ = [
    "AccountStatus",
    "InvalidSignature",
    "PaymentError",
    "PaymentProvider",
    "ProviderEvent",
    "ProviderPayment",
    "get_provider",
]
