"""Languages: money and dates in the reader's language and timezone, the user's language chosen per request and
per email, and a German catalogue that is complete, compiled and up to date with the source."""

import ast
import datetime as dt
import gettext
import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.checkers import python_format
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation.template import templatize
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from jobs.tests.factories import make_job, make_proposal
from marketplace import formats
from marketplace.i18n import recipient_locale
from marketplace.money import format_money
from marketplace.services import profile_update
from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging.models import Notification

NBSP = "\xa0"
PO = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
MOMENT = dt.datetime(2026, 11, 26, 15, 40, 12, 345678, tzinfo=dt.UTC)


# --- formatting -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "amount", "expected"),
    [
        ("en", "1234.5", "$1,234.50"),
        ("de", "1234.5", f"1.234,50{NBSP}$"),
        ("en", "-3", "-$3.00"),
        ("de", "-3", f"-3,00{NBSP}$"),
        ("de", "0.005", f"0,01{NBSP}$"),  # cents, half up (marketplace.money.to_money)
    ],
)
def test_money_in_the_active_language(language, amount, expected):
    with translation.override(language):
        assert format_money(Decimal(amount)) == expected


def test_money_in_the_currency_of_the_setting(settings):
    settings.CURRENCY = "EUR"
    with translation.override("de"):
        assert format_money(Decimal("1234.5")) == f"1.234,50{NBSP}€"
    with translation.override("en"):
        assert format_money(Decimal("1234.5")) == "€1,234.50"


@settings_hypothesis(max_examples=300, deadline=None)
@given(
    cents=st.integers(min_value=-(10**12), max_value=10**12),
    language=st.sampled_from([code for code, _name in settings.LANGUAGES]),
    currency=st.sampled_from(["USD", "EUR", "GBP", "CHF"]),
)
def test_the_fast_money_path_writes_exactly_what_babel_writes(cents, language, currency):
    amount = Decimal(cents) / 100
    with translation.override(language):
        assert formats.format_money_amount(amount, currency) == format_currency(
            amount, currency, locale=formats.current_locale()
        )


def test_the_time_of_day_is_written_the_same_in_every_language_of_the_site():
    """format_datetime writes "HH:mm" directly, which is right only while every language's 24-hour pattern is it."""
    for code, _name in settings.LANGUAGES:
        assert str(formats._pattern(code, formats.TIME).pattern) == "HH:mm", code


@pytest.mark.parametrize(
    ("language", "zone", "date", "moment"),
    [
        ("en", "Europe/Berlin", "Nov 26, 2026", "Nov 26, 2026, 16:40"),
        ("de", "Europe/Berlin", "26. Nov. 2026", "26. Nov. 2026, 16:40"),
        ("en", "America/New_York", "Nov 26, 2026", "Nov 26, 2026, 10:40"),
        ("de", "Asia/Tokyo", "27. Nov. 2026", "27. Nov. 2026, 00:40"),  # already the next day there
    ],
)
def test_dates_in_the_active_language_and_the_viewers_timezone(language, zone, date, moment):
    with translation.override(language), timezone.override(ZoneInfo(zone)):
        assert formats.format_date(MOMENT) == date
        assert formats.format_datetime(MOMENT) == moment
        rendered = Template("{% load formats %}{{ t|local_date }} / {{ t|local_datetime }}").render(
            Context({"t": MOMENT})
        )
        assert rendered == f"{date} / {moment}"


def test_a_datetime_with_its_zone_and_a_plain_date():
    with translation.override("de"), timezone.override(ZoneInfo("Europe/Berlin")):
        assert formats.format_datetime(MOMENT, zone=True) == "26. Nov. 2026, 16:40 CET"
        assert formats.format_date(dt.date(2026, 3, 1)) == "1. März 2026"
        assert formats.format_datetime(MOMENT, zone=True, weekday=True) == "Do., 26. Nov. 2026, 16:40 CET"
    assert formats.format_date(None) == formats.format_datetime(None) == ""


def test_time_datetime_attributes_are_iso_8601_to_the_second_with_the_viewers_offset():
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert formats.iso_datetime(MOMENT) == "2026-11-26T16:40:12+01:00"
        rendered = Template('{% load formats %}<time datetime="{{ t|iso_datetime }}">').render(Context({"t": MOMENT}))
    assert rendered == '<time datetime="2026-11-26T16:40:12+01:00">'
    assert formats.iso_datetime(dt.date(2026, 3, 1)) == "2026-03-01"


# --- choosing the language ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_logged_in_user_reads_the_site_in_their_own_language_whatever_the_browser_says(client):
    user = UserFactory(language="de")
    client.force_login(user)
    response = client.get(reverse("dashboard"), headers={"accept-language": "en"})
    assert response.headers["Content-Language"] == "de"
    assert '<html lang="de"' in response.content.decode()
    assert "Kontoeinstellungen" in response.content.decode()


@pytest.mark.django_db
def test_a_visitor_gets_their_browsers_language_and_english_by_default(client):
    german = client.get(reverse("directory"), headers={"accept-language": "de-DE,de;q=0.9"})
    assert german.headers["Content-Language"] == "de"
    assert "Freelancer finden" in german.content.decode()
    english = client.get(reverse("directory"), headers={"accept-language": "fr"})
    assert english.headers["Content-Language"] == "en"
    assert "Find freelancers" in english.content.decode()


@pytest.mark.django_db
def test_the_switcher_sets_a_visitors_cookie_and_a_members_setting(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("directory")})
    assert response.status_code == 302 and response.url == reverse("directory")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert "Freelancer finden" in client.get(reverse("directory")).content.decode()

    user = UserFactory(language="en")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "de", "next": "/"})
    user.refresh_from_db()
    assert user.language == "de"
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})  # not a language of the site
    user.refresh_from_db()
    assert user.language == "de"


@pytest.mark.django_db
def test_account_settings_save_the_language_and_answer_in_it(client):
    user = UserFactory(language="en")
    client.force_login(user)
    data = {"name": user.name, "role": "hire", "timezone": "Europe/Berlin", "refund_to": "credit", "language": "de"}
    response = client.post(reverse("account_settings"), data, follow=True)
    user.refresh_from_db()
    assert user.language == "de"
    page = response.content.decode()
    assert "Ihre Einstellungen wurden gespeichert." in page
    assert '<option value="de" selected>Deutsch</option>' in page


@pytest.mark.django_db
def test_anonymous_pages_cached_for_everyone_are_cached_per_language(client):
    profile_update(user=FreelancerFactory(name="Felix Freelancer"), headline="Shops", bio="", location="", skills=[])
    english = client.get(reverse("directory"), headers={"accept-language": "en"}).content.decode()
    assert "No ratings yet" in english  # inside the fragment cached for every visitor
    german = client.get(reverse("directory"), headers={"accept-language": "de"}).content.decode()
    assert "Noch keine Bewertungen" in german and "No ratings yet" not in german


# --- a page and a notification in German -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_page_in_german_with_german_amounts_and_dates(client):
    job = make_job(budget_min=Decimal("1234.50"), budget_max=Decimal("1234.50"), deadline=dt.date(2027, 3, 1))
    reader = FreelancerFactory(language="de", timezone="Europe/Berlin")
    client.force_login(reader)
    page = client.get(job.get_absolute_url()).content.decode()
    assert f"Festes Budget 1.234,50{NBSP}$" in page
    assert "benötigt bis 1. März 2027" in page
    assert "Bewerbung senden" in page


@pytest.mark.django_db
def test_notifications_are_written_in_the_recipients_language_not_the_actors():
    client = UserFactory(language="de")
    job = make_job(client=client)
    with translation.override("en"):  # the freelancer's request is in English
        make_proposal(job=job, freelancer=FreelancerFactory(name="Felix Freelancer", language="en"))
    text = Notification.objects.get(user=client).text
    assert text == f"Felix Freelancer hat sich auf „{job.title}“ beworben."


def test_recipient_locale_sets_and_restores_language_and_timezone():
    user = UserFactory.build(language="de", timezone=ZoneInfo("Asia/Tokyo"))
    before = timezone.get_current_timezone_name()
    with translation.override("en"):
        with recipient_locale(user):
            assert translation.get_language() == "de"
            assert timezone.get_current_timezone_name() == "Asia/Tokyo"
            assert format_money(Decimal("5")) == f"5,00{NBSP}$"
        assert translation.get_language() == "en"
    assert timezone.get_current_timezone_name() == before


# --- the German catalogue ----------------------------------------------------------------------------------------


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="de")


def test_every_german_message_is_translated_checked_and_not_fuzzy():
    catalog = _catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 500
    problems = []
    for message in messages:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {message.id!r}")
            continue
        try:
            python_format(catalog, message)  # the same placeholders as the English text
        except Exception as error:  # babel's TranslationError
            problems.append(f"{message.id!r}: {error}")
    assert problems == []


def test_the_committed_mo_file_is_compiled_from_the_po_file():
    """CI needs no gettext tools: the compiled catalogue is committed, and this proves it is current."""
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in _catalog():
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            assert compiled.ngettext(message.id[0], message.id[1], 1) == message.string[0], message.id
            assert compiled.ngettext(message.id[0], message.id[1], 2) == message.string[1], message.id
        else:
            assert compiled.gettext(message.id) == message.string, message.id


KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
}
SKIP = {"tests", "migrations", ".venv", "node_modules", "var", "staticfiles", "bench", "deploy", "artifacts"}


# In Django's templatize() output (what makemessages hands xgettext): gettext(u'…'), ngettext(u'…', u'…', n),
# pgettext(u'context', u'…'), npgettext(u'context', u'…', u'…', n).
TEMPLATE_CALL = re.compile(r"\b(n?p?gettext)\(((?:\s*u?'(?:[^'\\]|\\.)*'\s*,?)+)", re.S)
LITERAL = re.compile(r"u?'(?:[^'\\]|\\.)*'", re.S)


def _template_msgids(source: str):
    for function, arguments in TEMPLATE_CALL.findall(templatize(source)):
        literals = [ast.literal_eval(literal) for literal in LITERAL.findall(arguments)]
        yield literals[1] if function.startswith(("pgettext", "npgettext")) else literals[0]


def _marked_strings():
    base = Path(settings.BASE_DIR)
    for path in sorted(base.rglob("*")):
        parts = set(path.relative_to(base).parts)
        if parts & SKIP or not path.is_file():
            continue
        if path.suffix == ".py":
            for _lineno, _function, message, _comments in extract_python(path.open("rb"), KEYWORDS, [], {}):
                yield path, message[0] if isinstance(message, tuple) else message
        elif path.suffix in (".html", ".txt") and "templates" in path.parts:
            for msgid in _template_msgids(path.read_text(encoding="utf-8")):
                yield path, msgid


def test_every_string_marked_in_the_source_is_in_the_german_catalogue():
    """What `manage.py makemessages` would add, found without gettext's tools: run makemessages and translate
    (README, "Languages") when this fails."""
    known = {message.id if isinstance(message.id, str) else message.id[0] for message in _catalog() if message.id}
    found = list(_marked_strings())
    assert len(found) > 500
    assert sorted({f"{path.name}: {msgid!r}" for path, msgid in found if msgid and msgid not in known}) == []
