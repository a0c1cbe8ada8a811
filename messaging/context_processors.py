"""The header badges: unread conversations and unread notifications.

Lazy, so a page that never shows them pays nothing, and one query when it does (both counts
come from one SELECT; see `selectors.unread_counts`)."""

from django.utils.functional import SimpleLazyObject

from . import selectors


def unread_counts(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"messaging_unread": SimpleLazyObject(lambda: selectors.unread_counts_cached(user=user))}
