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
