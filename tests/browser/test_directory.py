import re

import pytest
from playwright.sync_api import expect

from marketplace.services import profile_update
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FREELANCERS = [
    ("Ada Lovelace", "Django developer for marketplaces", "London, UK", ["python", "django", "postgresql"]),
    ("Grace Hopper", "Compiler engineer and COBOL trainer", "Arlington, USA", ["cobol", "compilers", "training"]),
    ("Priya Natarajan", "UX designer for SaaS dashboards", "Bengaluru, India", ["ux design", "figma"]),
    ("Marco Rossi", "Conversion copywriter, English and Italian", "Milan, Italy", ["copywriting", "seo"]),
    (
        "Lena Fischer",
        "Data scientist: forecasting and experiments",
        "Hamburg, Germany",
        ["python", "pandas", "machine learning", "sql", "statistics", "forecasting", "a/b testing", "dbt", "airflow"],
    ),
]


@pytest.fixture
def directory_people(password):
    hirer = UserFactory(name="Clara Client", email="clara@example.com")
    freelancers = {}
    for name, headline, location, skills in FREELANCERS:
        freelancer = FreelancerFactory(name=name, timezone="Europe/London")
        profile_update(
            user=freelancer,
            headline=headline,
            bio="I ship in small milestones.\nEach one ends with a demo.",
            location=location,
            skills=skills,
        )
        freelancers[name] = freelancer
    FreelancerFactory(name="Newcomer Without Profile")
    return hirer, freelancers


def test_client_finds_a_freelancer_by_skill_and_opens_their_profile(page, screenshot, directory_people, password):
    hirer, freelancers = directory_people
    ada = freelancers["Ada Lovelace"]
    log_in(page, hirer.email, password)

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Find freelancers").click()
    expect(page.get_by_role("heading", level=1, name="Find freelancers")).to_be_visible()
    cards = page.get_by_role("list", name="Freelancers").get_by_role("listitem").filter(has=page.locator("article"))
    expect(cards).to_have_count(5)  # the newcomer without a profile is not an empty card
    expect(page.get_by_text("Newcomer Without Profile")).to_have_count(0)
    screenshot(page, "directory")

    page.get_by_label("Search freelancers").fill("Django")
    page.get_by_role("button", name="Search").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Ada Lovelace")
    expect(page.get_by_label("Search freelancers")).to_have_value("Django")

    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page).to_have_url(re.compile(rf"/freelancers/{ada.pk}/$"))
    expect(page.get_by_role("heading", level=1, name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_text("Member since")).to_be_visible()
    offer = page.get_by_role("link", name="Send an offer")
    expect(offer).to_be_visible()
    expect(offer).to_have_attribute("href", f"/offers/new/?freelancer={ada.pk}")
    screenshot(page, "freelancer-profile")


def test_directory_and_profile_are_readable_on_a_phone(new_page, screenshot, directory_people):
    _, freelancers = directory_people
    page = new_page(PHONE)

    page.goto("/freelancers/")
    expect(page.get_by_role("heading", level=1, name="Find freelancers")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "directory-phone")

    page.get_by_role("link", name="Lena Fischer").click()
    expect(page.get_by_role("link", name="Log in to send an offer")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "freelancer-profile-phone")

    page.goto("/freelancers/?q=basket+weaving")
    expect(page.get_by_text("No freelancers match “basket weaving”.")).to_be_visible()
    page.get_by_role("link", name="python").click()
    expect(page.get_by_label("Search freelancers")).to_have_value("python")
    cards = page.get_by_role("list", name="Freelancers").locator("article")
    expect(cards).to_have_count(2)  # both know python
    expect(cards.nth(0)).to_contain_text(freelancers["Ada Lovelace"].name)
    expect(cards.nth(1)).to_contain_text(freelancers["Lena Fischer"].name)


def test_freelancer_fills_in_their_profile_and_sees_it_in_the_directory(page, screenshot, password):
    felix = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(felix.email)
    page.get_by_label(re.compile(r"^\s*Password\W*$")).fill(password)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("button", name="Felix Freelancer").click()
    page.get_by_role("link", name="Your profile").click()
    expect(page.get_by_role("heading", level=1, name="Your profile")).to_be_visible()
    page.get_by_label("Headline").fill("Full-stack Django developer")
    page.get_by_label("About you").fill("Ten years of Python.\nI work in milestones.")
    page.get_by_label("Location").fill("New York, USA")
    page.get_by_label("Skills").fill(", ".join(f"skill {n}" for n in range(21)))
    page.get_by_role("button", name="Save profile").click()

    # The error sits under the skills field, and nothing typed is lost.
    expect(page.locator("#error_1_id_skills")).to_have_text("List at most 20 skills; you entered 21.")
    expect(page.get_by_label("Headline")).to_have_value("Full-stack Django developer")
    screenshot(page, "profile-edit-error")

    page.get_by_label("Skills").fill("Python, Django, python, HTMX")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile was saved.")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name="Felix Freelancer")).to_be_visible()
    expect(page.get_by_role("link", name="Edit your profile")).to_be_visible()
    expect(page.get_by_role("link", name="Send an offer")).to_have_count(0)

    page.get_by_role("link", name="Find freelancers").first.click()
    card = page.get_by_role("list", name="Freelancers").locator("article")
    expect(card).to_contain_text("Full-stack Django developer")
    expect(card.get_by_role("list", name="Skills").get_by_role("listitem")).to_have_text(["python", "django", "htmx"])
