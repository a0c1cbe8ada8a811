"""The seam between the ledger and the outside world: card payments in, payouts out.

`get_gateway()` and `get_payouts()` build the classes named by the PAYMENT_GATEWAY and PAYOUT_METHOD
settings, so a real provider replaces the sandbox without touching the services. Card numbers pass
through these calls only; nothing here or in the models stores them.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from .errors import EscrowError


class PaymentError(EscrowError):
    """The payment provider refused or failed; nothing was charged."""

    code = "payment_error"
    default_message = "The payment could not be completed. Nothing was charged."

    def __init__(self, user_message: str | None = None, *, code: str | None = None):
        super().__init__(user_message)
        if code:
            self.code = code


class CardDeclined(PaymentError):
    code = "card_declined"
    default_message = "Your card was declined. Try another card."


class InsufficientFunds(PaymentError):
    code = "insufficient_funds"
    default_message = "Your card has insufficient funds."


class GatewayUnavailable(PaymentError):
    code = "gateway_unavailable"
    default_message = "We couldn't reach the payment provider. Nothing was charged; please try again."


# A failed Charge stores its failure code; a replay of the same request rebuilds the same error from it.
ERRORS_BY_CODE: dict[str, type[PaymentError]] = {
    "card_declined": CardDeclined,
    "invalid_number": CardDeclined,
    "expired_card": CardDeclined,
    "insufficient_funds": InsufficientFunds,
    "gateway_unavailable": GatewayUnavailable,
}


def payment_error_from(code: str, message: str) -> PaymentError:
    return ERRORS_BY_CODE.get(code, PaymentError)(message or None, code=code)


@dataclass(frozen=True)
class CardDetails:
    """What a card form collected. The number never reaches a model, a log line or a repr."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int  # four digits
    cvc: str = field(repr=False)

    @property
    def last4(self) -> str:
        return normalize_card_number(self.number)[-4:]


@dataclass(frozen=True)
class ChargeResult:
    id: str
    brand: str
    last4: str


class PaymentGateway(Protocol):
    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        card_number: str,
        exp_month: int,
        exp_year: int,
        cvc: str,
        idempotency_key: str,
        description: str,
    ) -> ChargeResult:
        """Charge the card; raise a PaymentError subclass when nothing was charged."""

    def refund(self, *, charge_id: str, amount: Decimal, idempotency_key: str) -> str:
        """Refund part or all of a charge to its card; return the provider's refund id."""


class PayoutMethod(Protocol):
    def payout(self, *, user, amount: Decimal, idempotency_key: str) -> str:
        """Send money to the user's bank account; return the provider's payout id."""


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


def _sandbox_id(prefix: str, idempotency_key: str) -> str:
    # Derived from the idempotency key, like a real provider that answers a retried request with
    # the object it created the first time: a replay never makes a second charge, refund or payout.
    return f"{prefix}_sandbox_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]}"


class SandboxGateway:
    """A provider's test mode. Test cards (spaces allowed):

    4242 4242 4242 4242  succeeds            4000 0000 0000 9995  insufficient funds
    4000 0000 0000 0002  declined            4000 0000 0000 0119  network error (provider unreachable)

    Any other number that passes the Luhn check succeeds; one that fails it is declined as invalid.
    """

    DECLINED = "4000000000000002"
    INSUFFICIENT_FUNDS = "4000000000009995"
    UNREACHABLE = "4000000000000119"

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        card_number: str,
        exp_month: int,
        exp_year: int,
        cvc: str,
        idempotency_key: str,
        description: str,
    ) -> ChargeResult:
        number = normalize_card_number(card_number)
        if number == self.UNREACHABLE:
            raise GatewayUnavailable()
        if not luhn_valid(number):
            raise CardDeclined("Your card number is invalid. Check it and try again.", code="invalid_number")
        today = date.today()
        if (exp_year, exp_month) < (today.year, today.month):
            raise CardDeclined("Your card has expired. Try another card.", code="expired_card")
        if number == self.DECLINED:
            raise CardDeclined()
        if number == self.INSUFFICIENT_FUNDS:
            raise InsufficientFunds()
        if Decimal(amount) <= 0:
            raise PaymentError("The amount to charge must be greater than zero.", code="invalid_amount")
        return ChargeResult(id=_sandbox_id("ch", idempotency_key), brand=card_brand(number), last4=number[-4:])

    def refund(self, *, charge_id: str, amount: Decimal, idempotency_key: str) -> str:
        if not charge_id:
            raise PaymentError("There is no card payment to refund.", code="no_charge")
        return _sandbox_id("re", idempotency_key)


class SandboxPayouts:
    """Test-mode bank payouts: every payout succeeds."""

    def payout(self, *, user, amount: Decimal, idempotency_key: str) -> str:
        return _sandbox_id("po", idempotency_key)


def get_gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()


def get_payouts() -> PayoutMethod:
    return import_string(settings.PAYOUT_METHOD)()
