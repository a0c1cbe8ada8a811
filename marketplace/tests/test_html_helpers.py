"""Small pieces that keep the pages valid HTML: `<time datetime>` values and the favicon."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib.staticfiles import finders
from django.template import Context, Template
from django.utils import timezone

from marketplace.formats import iso_datetime


def render(source: str, **context) -> str:
    return Template("{% load formats %}" + source).render(Context(context))


def test_iso_datetime_is_to_the_second_with_the_offset_of_the_current_timezone():
    moment = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert render("{{ moment|iso_datetime }}", moment=moment) == "2026-03-01T13:30:15+01:00"
    with timezone.override(ZoneInfo("America/New_York")):
        assert render("{{ moment|iso_datetime }}", moment=moment) == "2026-03-01T07:30:15-05:00"


def test_iso_datetime_of_a_date_and_of_nothing():
    assert iso_datetime(dt.date(2026, 3, 1)) == "2026-03-01"
    assert iso_datetime(None) == ""
    assert iso_datetime("") == ""


def test_favicon_ico_points_at_the_svg_icon(client):
    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/favicon.svg")


USER_TEXTS = [
    "Message 109174 about the work.",
    "Plain text, no links: 3.5 pages; done!",
    "See https://example.com/a?b=1&c=2 and http://[::1]:8000/x.",
    "www.Example.org, WWW.EXAMPLE.ORG and example.com/path or example.community",
    "Mail felix@example.com or <felix@example.com>; not@ alone",
    '<script>alert("x")</script> & "quotes" \'single\' <b>bold</b>',
    "javascript:alert(1) and data:text/html,hi",
    "Line one\nLine two\r\nLine three\n\nfour",
    "Ends with a domain example.net",
    "Entities &lt;a href=x&gt; and &#64; and &amp;",
    "",
]


def test_user_text_is_urlize_and_linebreaksbr():
    for text in USER_TEXTS:
        fast = Template("{% load text %}{{ text|user_text }}").render(Context({"text": text}))
        django = Template("{{ text|urlize|linebreaksbr }}").render(Context({"text": text}))
        assert fast == django, text
    assert "<script>" not in Template("{% load text %}{{ t|user_text }}").render(Context({"t": USER_TEXTS[5]}))
