"""Domain errors of the escrow app. Each carries a `user_message` a view can show as it is."""


class EscrowError(Exception):
    """A money operation was refused; nothing changed. `user_message` is safe to show to the user."""

    default_message = "That payment operation could not be completed."

    def __init__(self, user_message: str | None = None):
        self.user_message = user_message or self.default_message
        super().__init__(self.user_message)


class AlreadyProcessed(EscrowError):
    """The money event (funding, release, refund, bonus) for this reference already happened."""

    default_message = "This payment has already been processed."


class HoldNotFound(EscrowError):
    default_message = "There is no escrow payment for this item."


class InvalidAmount(EscrowError):
    default_message = "Enter a valid amount."


class IdempotencyKeyReused(EscrowError):
    """The same idempotency key came with a different request (another payer or another purpose)."""

    default_message = "This payment form was already used for another payment. Reload the page and try again."


class PayoutError(EscrowError):
    default_message = "The withdrawal could not be made."
