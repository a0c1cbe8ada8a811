"""Help, terms and privacy pages, the footer, the 500 page and accepting the terms at sign-up."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.urls import reverse

from marketplace import urls
from marketplace.models import User
from marketplace.pages import server_error

from .test_accounts import SIGNUP

pytestmark = pytest.mark.django_db


def test_the_help_page_shows_the_numbers_from_the_settings(client):
    page = client.get(reverse("help")).content.decode()
    assert "<strong>10%</strong>" in page  # PLATFORM_FEE_PERCENT
    assert "a milestone of $400.00 pays the freelancer $360.00 after a $40.00 fee" in page
    assert "<strong>14 days</strong>" in page  # REVIEW_PERIOD_DAYS
    assert "at least $5.00" in page  # MILESTONE_MIN_AMOUNT
    assert "reminded 7, 3, 1 days before the end" in page
    assert "each party has 14 days to leave feedback" in page  # FEEDBACK_WINDOW_DAYS
    assert "no activity for 30 days" in page and "after 60 days" in page


def test_changing_a_setting_changes_the_help_page(client, settings):
    settings.PLATFORM_FEE_PERCENT = Decimal("12.50")
    settings.REVIEW_PERIOD = timedelta(days=1)
    settings.MILESTONE_MIN_AMOUNT = Decimal("20.00")
    settings.FEEDBACK_WINDOW = timedelta(days=21)
    page = client.get(reverse("help")).content.decode()
    assert "<strong>12.5%</strong>" in page
    assert "pays the freelancer $350.00 after a $50.00 fee" in page
    assert "<strong>1 day</strong>" in page  # singular
    assert "at least $20.00" in page
    assert "each party has 21 days" in page
    assert "<strong>10%</strong>" not in page


@pytest.mark.parametrize(("name", "heading"), [("terms", "Terms of service"), ("privacy", "Privacy policy")])
def test_legal_pages_render_for_anyone(client, name, heading, settings):
    settings.TERMS_VERSION = "2027-01-01"
    page = client.get(reverse(name))
    assert page.status_code == 200
    assert f'<h1 class="h2">{heading}</h1>' in page.content.decode()
    if name == "terms":
        assert "Version 2027-01-01." in page.content.decode()
        assert "10%" in page.content.decode() and "14 days" in page.content.decode()


@pytest.mark.parametrize("path", ["/", "/help/", "/accounts/login/"])
def test_every_page_links_help_terms_and_privacy_in_the_footer(client, path):
    footer = client.get(path).content.decode().split("<footer", 1)[1]
    for name in ("help", "terms", "privacy"):
        assert f'href="{reverse(name)}"' in footer


def test_the_500_page_renders_without_database_or_context_processors(django_assert_num_queries):
    assert urls.handler500 == "marketplace.pages.server_error"
    with django_assert_num_queries(0):
        response = server_error(RequestFactory().get("/broken/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html and "Milestone" in html
    assert "<style>" in html and "/static/" not in html  # self-contained


def test_an_error_in_a_view_shows_the_500_page(client, monkeypatch):
    from marketplace import pages

    def boom(request):
        raise RuntimeError("broken")

    monkeypatch.setattr(pages, "numbers", boom)
    client.raise_request_exception = False
    response = client.get(reverse("help"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_signup_requires_accepting_the_terms(client):
    form = client.get(reverse("account_signup")).content.decode()
    assert 'name="accept_terms"' in form and f'href="{reverse("terms")}"' in form

    data = {key: value for key, value in SIGNUP.items() if key != "accept_terms"}
    response = client.post(reverse("account_signup"), data)

    assert response.status_code == 200
    assert "Accept the terms of service to create an account." in response.content.decode()
    assert not User.objects.exists()


def test_signup_records_the_terms_version_and_time(client, settings):
    settings.TERMS_VERSION = "2026-11-26"
    client.post(reverse("account_signup"), SIGNUP)

    user = User.objects.get()
    assert user.terms_version == "2026-11-26"
    assert user.terms_accepted_at is not None
    assert user.history.first().terms_version == "2026-11-26"  # in the user's history too
