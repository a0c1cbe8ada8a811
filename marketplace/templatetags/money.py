from django import template

from marketplace.money import format_money

register = template.Library()


@register.filter
def money(amount, currency=None):
    """Money in the active language: {{ milestone.amount|money }} -> $1,234.50 (en), 1.234,50 $ (de)."""
    return format_money(amount, currency or None)
