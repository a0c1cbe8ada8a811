"""Money helpers shared by every app. Amounts are Decimal with two places; floats never touch money."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from .formats import format_money_amount

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value) -> Decimal:
    """Quantize to cents (half up). Accepts Decimal, int or str; refuses float."""
    if isinstance(value, float):
        raise TypeError("Money must not be a float; pass a Decimal or a string.")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def platform_fee(amount: Decimal, percent: Decimal | None = None) -> Decimal:
    """The platform's fee on `amount` at `percent` (default: PLATFORM_FEE_PERCENT), in cents."""
    percent = settings.PLATFORM_FEE_PERCENT if percent is None else percent
    return to_money(Decimal(amount) * Decimal(percent) / Decimal(100))


def format_money(amount, currency: str | None = None) -> str:
    """`amount` in settings.CURRENCY for the active language (Babel): "$1,234.50" in English,
    "1.234,50 $" in German. Every page, email and message shows money through this (or the `money` filter).
    `currency`: for a provider's page that names its own (the site's otherwise)."""
    if amount is None or amount == "":
        return ""
    return format_money_amount(to_money(amount), currency)
