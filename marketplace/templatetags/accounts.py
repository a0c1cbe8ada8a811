from django import template

from marketplace.accounts import has_second_factor as _has_second_factor

register = template.Library()


@register.filter
def has_second_factor(user) -> bool:
    """Whether the user protects their account with an authenticator app or a security key."""
    return user.is_authenticated and _has_second_factor(user)
