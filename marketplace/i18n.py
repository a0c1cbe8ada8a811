"""Which language (and timezone) to show a person things in, for requests and for what is sent to them.

Requests: marketplace.middleware.UserLanguageMiddleware activates `user_language(user)`. Emails and
notifications are rendered for their recipient, not for whoever's request caused them:

    with recipient_locale(user):
        subject = render_to_string(...)     # the recipient's language, dates in their timezone
"""

from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone, translation


def supported_language(code: str | None) -> str:
    """`code` if the site speaks it (or its generic form: "de-at" → "de"), else the default language."""
    if code:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def user_language(user) -> str:
    """The language a user chose in their settings (English for anyone without a choice)."""
    return supported_language(getattr(user, "language", None))


@contextmanager
def recipient_locale(user):
    """Render inside this block for `user`: their language and their timezone (then restore both)."""
    with translation.override(user_language(user)), timezone.override(getattr(user, "timezone", None) or None):
        yield
