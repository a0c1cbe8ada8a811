"""The README's screenshots: the demo's pages (`seed_demo`) at 1280 and 390 px, at a fixed time, so that the same
code draws the same pictures. They are written to artifacts/screenshots/docs/; with UPDATE_DOCS_SCREENSHOTS=1 they
are copied into docs/screenshots/ (commit them)."""

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from contracts.demo import WEBSITE
from contracts.models import Contract
from marketplace.demo import seed_demo
from marketplace.models import User

from .conftest import DESKTOP, PHONE, SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, reset_sequences=True)]

# A Monday morning; the demo's review ends five minutes later.
FIXED_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OUTPUT = SCREENSHOTS / "docs"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"1280": DESKTOP, "390": PHONE}


@pytest.fixture
def demo(settings):
    """The demo data, made and shown at FIXED_TIME (the live server's clock stands still with the test's)."""
    # The browser keeps its own clock: cookies that expire when the browser closes cannot expire on it.
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_COOKIE_AGE = None
    with time_machine.travel(FIXED_TIME, tick=False):
        seed_demo()
        yield


def logged_in(new_page, live_server, email: str, viewport):
    """A page with the user's session (made on the server; the login form is other tests' business)."""
    client = Client()
    client.force_login(User.objects.get(email=email))
    page = new_page(viewport)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.clock.set_fixed_time(FIXED_TIME)  # the countdowns count from the same moment as the server
    return page


def shoot(page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)
    return path


@pytest.mark.parametrize("width", WIDTHS)
def test_readme_screenshots(new_page, live_server, demo, width):
    viewport = WIDTHS[width]
    contract = Contract.objects.get(title=WEBSITE)
    under_review = contract.milestones.order_by("position").first()

    client = logged_in(new_page, live_server, "client@demo.test", viewport)
    client.goto("/dashboard/")
    expect(client.get_by_role("heading", level=1)).to_contain_text("Welcome")
    shoot(client, f"dashboard-client-{width}")
    client.goto(contract.get_absolute_url())
    expect(client.get_by_role("heading", level=1)).to_contain_text(WEBSITE)
    shoot(client, f"contract-{width}")
    client.goto(reverse("contracts:milestone_detail", args=[contract.pk, under_review.pk]))
    expect(client.get_by_role("heading", name="Submissions")).to_be_visible()
    shoot(client, f"milestone-under-review-{width}")
    client.goto("/wallet/")
    expect(client.get_by_role("heading", level=1, name="Wallet")).to_be_visible()
    shoot(client, f"wallet-client-{width}")

    freelancer = logged_in(new_page, live_server, "freelancer@demo.test", viewport)
    freelancer.goto("/dashboard/")
    expect(freelancer.get_by_role("heading", level=1)).to_contain_text("Welcome")
    shoot(freelancer, f"dashboard-freelancer-{width}")
    freelancer.goto("/wallet/")
    expect(freelancer.get_by_role("heading", level=1, name="Wallet")).to_be_visible()
    shoot(freelancer, f"wallet-freelancer-{width}")
