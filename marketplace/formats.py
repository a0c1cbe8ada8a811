"""Locale-aware display of money and dates: the one place that formats them for people (Babel, CLDR data).

Everything here formats in the *active* language (Django's translation.get_language(): the user's choice, set
per request by marketplace.middleware.UserLanguageMiddleware, or per email by `marketplace.i18n.recipient_locale`)
and, for times, the *current* timezone (the viewer's, activated by UserTimezoneMiddleware). Templates use the
filters in marketplace/templatetags/formats.py (`local_date`, `local_datetime`, `local_month`, `iso_datetime`) and
money's `money` filter; Python uses these functions. Machine-readable values (`<time datetime>`, CSV, JSON) never
go through here except `iso_datetime`, which is the same in every language.

A contract page shows hundreds of amounts and times, so what Babel works out per language (the locale's patterns,
symbols and separators) is worked out once and kept; formatting a value is then a few microseconds.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import match_skeleton, parse_pattern
from babel.numbers import format_compact_currency, format_currency, get_currency_precision, get_currency_symbol
from django.conf import settings
from django.utils import timezone, translation


@lru_cache(maxsize=16)
def _locale(language: str) -> Locale:
    return Locale.parse(translation.to_locale(language))


def _language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


def current_locale() -> Locale:
    """The Babel locale of the active language ("en" → en, "de" → de)."""
    return _locale(_language())


# --- money -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MoneyFormat:
    """The locale's standard currency pattern, resolved: "-¤#,##0.00" → ("-$", "") around "1,234.50"."""

    prefix: tuple[str, str]  # (positive, negative)
    suffix: tuple[str, str]
    separators: dict  # str.maketrans: Python's "," and "." → the locale's group and decimal symbols

    def format(self, amount: Decimal) -> str:
        negative = amount < 0
        digits = f"{abs(amount):,.2f}".translate(self.separators)
        return f"{self.prefix[negative]}{digits}{self.suffix[negative]}"


@lru_cache(maxsize=64)
def _money_format(language: str, currency: str) -> _MoneyFormat | None:
    """The fast path for the usual case (groups of three, two decimals, Latin digits); None: let Babel do it."""
    locale = _locale(language)
    pattern = locale.currency_formats["standard"]
    if (
        pattern.grouping != (3, 3)
        or pattern.frac_prec != (2, 2)
        or get_currency_precision(currency) != 2
        or locale.default_numbering_system != "latn"
    ):
        return None
    symbol = get_currency_symbol(currency, locale=locale)
    symbols = locale.number_symbols["latn"]
    minus = symbols["minusSign"]
    return _MoneyFormat(
        prefix=tuple(part.replace("¤", symbol).replace("-", minus) for part in pattern.prefix),
        suffix=tuple(part.replace("¤", symbol).replace("-", minus) for part in pattern.suffix),
        separators=str.maketrans({",": symbols["group"], ".": symbols["decimal"]}),
    )


def format_money_amount(amount: Decimal, currency: str | None = None) -> str:
    """`amount` (already quantized to cents) in `currency` (default settings.CURRENCY) for the active language:
    "$1,234.50" in English, "1.234,50 $" in German (with a no-break space before the symbol)."""
    currency = currency or settings.CURRENCY
    language = _language()
    fast = _money_format(language, currency)
    if fast is None:
        return format_currency(amount, currency, locale=_locale(language))
    return fast.format(amount)


def format_money_compact(amount: Decimal) -> str:
    """A round amount, short: "$1K", "$1M" in English ("1000 $", "1 Mio. $" in German)."""
    return _compact(amount, settings.CURRENCY, _language())


@lru_cache(maxsize=256)
def _compact(amount: Decimal, currency: str, language: str) -> str:
    """Babel takes ~0.5 ms for each; the few round amounts shown (earnings bands) recur on every directory page."""
    return format_compact_currency(amount, currency, locale=_locale(language))


# --- dates -------------------------------------------------------------------------------------------------------

# CLDR skeletons: what to show, in whatever order and punctuation the language uses.
DAY, WEEKDAY, MONTH = "yMMMd", "yMMMEd", "yMMMM"  # "Nov 26, 2026", "Thu, Nov 26, 2026", "November 2026"
TIME = "Hm"  # 24-hour "16:40": "HH:mm" in every language the site speaks (a test checks), so written directly


@lru_cache(maxsize=64)
def _pattern(language: str, skeleton: str):
    locale = _locale(language)
    return parse_pattern(locale.datetime_skeletons[match_skeleton(skeleton, locale.datetime_skeletons)])


@lru_cache(maxsize=16)
def _joiner(language: str) -> str:
    """How the language joins a date and a time: "{1}, {0}" (date, time) in English and German."""
    return _locale(language).datetime_formats["medium"].replace("'", "")


def _aware_local(value: dt.datetime) -> dt.datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return timezone.localtime(value)  # the current timezone: the viewer's


@lru_cache(maxsize=4096)
def _format(value: dt.date, skeleton: str, language: str) -> str:
    """A day (or month) in a language: the same few hundred days recur on every page, so each is worked out once."""
    return _pattern(language, skeleton).apply(value, _locale(language))


def format_date(value: dt.date | dt.datetime | None) -> str:
    """A date as people read it: "Nov 26, 2026" / "26. Nov. 2026". A datetime is first moved to the viewer's
    timezone, so the day is theirs."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = _aware_local(value).date()
    return _format(value, DAY, _language())


def format_month(value: dt.date | dt.datetime | None) -> str:
    """A month and year: "November 2026" / "März 2026"; a datetime in the viewer's timezone."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = _aware_local(value).date()
    return _format(value, MONTH, _language())


def format_datetime(value: dt.datetime | None, *, zone: bool = False, weekday: bool = False) -> str:
    """A moment in the viewer's timezone, 24-hour clock: "Nov 26, 2026, 16:40" / "26. Nov. 2026, 16:40";
    with `zone`, the zone's abbreviation follows ("16:40 CET"); with `weekday`, the day's name leads
    ("Thu, Nov 26, 2026" / "Do., 26. Nov. 2026")."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return format_date(value)
    value = _aware_local(value)
    language = _language()
    time = f"{value:%H:%M}"  # what the Hm skeleton gives in every language the site speaks
    if zone:  # the tz database's abbreviation ("CET", "EST", "JST"): CLDR has short names for few zones
        time = f"{time} {value.tzname()}"
    day = _format(value.date(), WEEKDAY if weekday else DAY, language)
    return _joiner(language).replace("{1}", day).replace("{0}", time)


def iso_datetime(value: dt.datetime | dt.date | None) -> str:
    """The machine-readable value of `<time datetime="…">`: ISO 8601 to the second (HTML allows at most three
    decimals; Django's `date:'c'` writes six) with the offset of the viewer's timezone: "2026-11-26T16:40:12+01:00".
    A date stays a date."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    return _aware_local(value).replace(microsecond=0).isoformat()
