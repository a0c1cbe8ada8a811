"""What a payment provider's refusal means to us: the errors every provider adapter raises.

The provider calls themselves go through `escrow.providers` (hosted card entry, refunds, Connect).
"""

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
