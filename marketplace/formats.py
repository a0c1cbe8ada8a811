"""Locale-aware display of money and dates: the one place that formats them for people (Babel, CLDR data).

Everything here formats in the *active* language (Django's translation.get_language(): the user's choice, set
per request by marketplace.middleware.UserLanguageMiddleware, or per email by `marketplace.i18n.recipient_locale`)
and, for times, the *current* timezone (the viewer's, activated by UserTimezoneMiddleware). Templates use the
filters in marketplace/templatetags/formats.py (`local_datetime`, `local_date`, `iso_datetime`) and money's
`money` filter; Python uses these functions. Machine-readable values (`<time datetime>`, CSV, JSON) never go
through here except `iso_datetime`, which is the same in every language.
"""

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_compact_currency, format_currency
from django.conf import settings
from django.utils import timezone, translation


@lru_cache(maxsize=16)
def _locale(language: str) -> Locale:
    return Locale.parse(translation.to_locale(language))


def current_locale() -> Locale:
    """The Babel locale of the active language ("en" → en, "de" → de)."""
    return _locale(translation.get_language() or settings.LANGUAGE_CODE)


def format_money_amount(amount: Decimal, currency: str | None = None) -> str:
    """`amount` (already quantized to cents) in `currency` (default settings.CURRENCY) for the active language:
    "$1,234.50" in English, "1.234,50 $" in German (with a no-break space before the symbol)."""
    return format_currency(amount, currency or settings.CURRENCY, locale=current_locale())


def format_money_compact(amount: Decimal) -> str:
    """A round amount, short: "$1K", "$1M" in English ("1000 $", "1 Mio. $" in German)."""
    return format_compact_currency(amount, settings.CURRENCY, locale=current_locale())


def _aware_local(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return timezone.localtime(value)  # the current timezone: the viewer's


def format_date(value: dt.date | dt.datetime | None) -> str:
    """A date as people read it: "Nov 26, 2026" / "26. Nov. 2026". A datetime is first moved to the viewer's
    timezone, so the day is theirs."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = _aware_local(value).date()
    return format_skeleton("yMMMd", value, locale=current_locale())


def format_month(value: dt.date | dt.datetime | None) -> str:
    """A month and year: "November 2026" (both languages spell it so); a datetime in the viewer's timezone."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = _aware_local(value).date()
    return format_skeleton("yMMMM", value, locale=current_locale())


def format_datetime(value: dt.datetime | None, *, zone: bool = False) -> str:
    """A moment in the viewer's timezone, 24-hour clock: "Nov 26, 2026, 16:40" / "26. Nov. 2026, 16:40";
    with `zone`, the zone's abbreviation follows ("16:40 CET")."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return format_date(value)
    value = _aware_local(value)
    locale = current_locale()
    day = format_skeleton("yMMMd", value.date(), locale=locale)
    time = format_time(value, "HH:mm", tzinfo=value.tzinfo, locale=locale)
    if zone:  # the tz database's abbreviation ("CET", "EST", "JST"): CLDR has short names for few zones
        time = f"{time} {value.tzname()}"
    pattern = locale.datetime_formats["medium"]  # "{1}, {0}": how this language joins a date and a time
    return pattern.replace("'", "").replace("{1}", day).replace("{0}", time)


def iso_datetime(value: dt.datetime | dt.date | None) -> str:
    """ISO 8601 to the second (no microseconds), in UTC with an offset, for `<time datetime="…">`."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat()
