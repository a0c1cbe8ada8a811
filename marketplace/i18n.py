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


# Languages that write a label (a button, a status) in lower case inside a sentence: "This milestone is funded".
# German keeps it as it is: its nouns keep their capitals ("Sie können jetzt nicht Arbeit einreichen").
LOWER_CASE_IN_SENTENCE = {"en"}


def in_sentence(label) -> str:
    """A label (button, status) as it reads inside a sentence of the active language."""
    label = str(label)
    return label.lower() if translation.get_language() in LOWER_CASE_IN_SENTENCE else label


@contextmanager
def recipient_locale(user):
    """Render inside this block for `user`: their language and their timezone (then restore both)."""
    with translation.override(user_language(user)), timezone.override(getattr(user, "timezone", None) or None):
        yield
