from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def stars(value) -> str:
    """★★★★☆ for 4 (a rating is rounded to whole stars; the number is shown next to it)."""
    if value in (None, ""):
        return ""
    full = max(0, min(5, int(Decimal(value) + Decimal("0.5"))))
    return "★" * full + "☆" * (5 - full)
