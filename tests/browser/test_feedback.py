"""Both parties leave feedback on an ended contract; neither sees the other's until both have; then the
rating shows on the freelancer's profile and in the directory (sorted by rating)."""

import re

import pytest
from playwright.sync_api import expect

from feedback.models import CRITERIA, Role
from feedback.tests.factories import ended_contract
from marketplace.services import profile_update
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def contract():
    client = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com", timezone="America/New_York")
    profile_update(user=freelancer, headline="Django developer", bio="", location="New York", skills=["django"])
    other = FreelancerFactory(name="Aaron Another")  # first by name, last by rating
    profile_update(user=other, headline="Copywriter", bio="", location="", skills=["copy"])
    return ended_contract(client=client, freelancer=freelancer, amount="1200.00")


def rate(page, role: str, stars: list[int]) -> None:
    for (_, label, _), count in zip(CRITERIA[role], stars, strict=True):
        page.get_by_role("radiogroup", name=label).locator("label").nth(count - 1).click()


def test_double_blind_feedback_then_the_rating_is_public(new_page, screenshot, password, contract):
    client_page, freelancer_page = new_page(), new_page()

    # the client finds "Leave feedback" on the dashboard and writes first
    log_in(client_page, contract.client.email, password)
    client_page.get_by_role("link", name="Leave feedback").click()
    expect(client_page.get_by_role("heading", level=1)).to_have_text(f"Feedback on “{contract.title}”")
    rate(client_page, Role.CLIENT, [5, 4, 5, 4])
    client_page.get_by_label("Public comment").fill("Felix delivered early and explained every choice.")
    client_page.get_by_label("Private note to the platform (optional)").fill("Invoice PDF was missing once.")
    screenshot(client_page, "feedback-form")
    client_page.get_by_role("button", name="Submit feedback").click()
    expect(client_page.get_by_text("Thank you: your feedback is saved.")).to_be_visible()
    expect(client_page.locator("#their-feedback-status")).to_contain_text("has not left feedback yet")

    # the freelancer learns that the client wrote, but not what
    log_in(freelancer_page, contract.freelancer.email, password)
    freelancer_page.goto(contract.get_absolute_url())
    freelancer_page.get_by_role("link", name="Leave or read feedback").click()
    expect(freelancer_page.locator("#their-feedback-status")).to_contain_text("Clara Client has left feedback")
    expect(freelancer_page.get_by_text("Felix delivered early")).to_have_count(0)
    screenshot(freelancer_page, "feedback-blind")
    rate(freelancer_page, Role.FREELANCER, [5, 5, 4, 5])
    freelancer_page.get_by_label("Public comment").fill("Clear brief and quick reviews.")
    freelancer_page.get_by_role("button", name="Submit feedback").click()

    # both published at once: each reads the other's public comment, never the private note
    expect(freelancer_page.get_by_text("Felix delivered early and explained every choice.")).to_be_visible()
    expect(freelancer_page.get_by_text("Invoice PDF was missing once.")).to_have_count(0)
    screenshot(freelancer_page, "feedback-published")
    client_page.reload()
    expect(client_page.get_by_text("Clear brief and quick reviews.")).to_be_visible()
    expect(client_page.get_by_text("Invoice PDF was missing once.")).to_be_visible()  # the author's own note

    # the profile shows the rating, the comment, completed contracts and the earnings band
    client_page.goto(f"/freelancers/{contract.freelancer_id}/")
    record = client_page.locator("#track-record")
    expect(record).to_contain_text("4.5")
    expect(record).to_contain_text("(1 rating)")
    expect(record).to_contain_text("1 completed contract")
    expect(record).to_contain_text("$1K+ earned")
    expect(client_page.locator("#recent-comments")).to_contain_text("Felix delivered early")
    screenshot(client_page, "profile-with-rating")

    # the directory shows it too, and sorts by rating
    client_page.goto("/freelancers/")
    cards = client_page.get_by_role("list", name="Freelancers").locator("article")
    expect(cards.first).to_contain_text("Aaron Another")
    client_page.get_by_role("link", name="Best rated").click()
    expect(cards.first).to_contain_text("Felix Freelancer")
    expect(cards.first).to_contain_text("4.5")
    expect(cards.nth(1)).to_contain_text("No ratings yet")
    expect(client_page).to_have_url(re.compile(r"sort=rating"))
    screenshot(client_page, "directory-by-rating")

    phone = new_page(PHONE)
    phone.goto(f"/freelancers/{contract.freelancer_id}/")
    expect(phone.locator("#track-record")).to_contain_text("4.5")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "profile-with-rating-phone")
