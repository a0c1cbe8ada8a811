from django import template

from marketplace.money import format_money

register = template.Library()


@register.filter
def money(amount):
    """Render a Decimal amount as money: {{ milestone.amount|money }} -> $1,234.50"""
    return format_money(amount)
