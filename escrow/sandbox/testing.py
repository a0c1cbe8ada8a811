"""The payer on the sandbox's hosted page, without a browser: for demo data and tests only."""

from escrow.models import PaymentIntent
from escrow.payments import payment_refresh

from . import engine

GOOD_CARD = "4242 4242 4242 4242"


def pay(intent: PaymentIntent, card: str = GOOD_CARD, *, challenge_passed: bool = True) -> PaymentIntent:
    """Type `card` on the intent's sandbox page (answer a 3-D Secure challenge), then come back: the
    return asks the provider, as the real return page does. Call it outside any transaction."""
    if intent.state != PaymentIntent.State.REQUIRES_ACTION:
        return intent
    number = engine.normalize_card_number(card)
    engine.checkout_pay(intent.provider_id, number=number, exp_month=12, exp_year=2099, cvc="123")
    if number == engine.THREE_D_SECURE:
        engine.challenge_answer(intent.provider_id, passed=challenge_passed)
    return payment_refresh(intent_id=intent.pk)
