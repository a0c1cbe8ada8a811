import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from marketplace.accounts import email_verified
from marketplace.models import User
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitor_signs_up_confirms_the_email_logs_out_and_in_again(page, screenshot):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fixed-price work")
    screenshot(page, "landing")

    page.get_by_role("link", name="Create a free account").click()
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("Hire freelancers").check()
    page.get_by_label(re.compile(r"^\s*Password\W*$")).fill("compilers-since-1952")
    page.get_by_label("Password confirmation").fill("compilers-since-1952")
    expect(page.get_by_label("Timezone")).to_have_value("Europe/Paris")  # taken from the browser
    page.get_by_label("I accept the terms of service").check()
    page.get_by_role("button", name="Create account").click()

    # Not logged in yet: the address must be confirmed first.
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    screenshot(page, "verify-email")
    user = User.objects.get(email="grace@example.com")
    assert not email_verified(user)
    assert user.wants_to_hire and not user.wants_to_work
    assert str(user.timezone) == "Europe/Paris"
    (message,) = [m for m in mail.outbox if m.to == ["grace@example.com"]]
    link = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+/)", message.body).group(1)

    page.goto(link)
    expect(page.get_by_role("heading", name="Confirm Email Address")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Welcome, Grace")).to_be_visible()
    expect(page.get_by_text("Nothing needs your attention right now.")).to_be_visible()
    screenshot(page, "dashboard")
    assert email_verified(user)

    page.get_by_role("button", name="Grace Hopper").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Log in").click()
    page.get_by_label("Email address").fill("GRACE@example.com")
    page.get_by_label(re.compile(r"^\s*Password\W*$")).fill("compilers-since-1952")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Welcome, Grace")).to_be_visible()


def test_signup_errors_show_next_to_the_field_and_keep_the_input(page):
    page.goto("/accounts/signup/")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label(re.compile(r"^\s*Password\W*$")).fill("compilers-since-1952")
    page.get_by_label("Password confirmation").fill("different-password-1")
    page.get_by_role("button", name="Create account").click()

    expect(page.locator("#error_1_id_password2")).to_contain_text("You must type the same password each time.")
    expect(page.get_by_label("Full name")).to_have_value("Grace Hopper")
    assert User.objects.count() == 0


def test_pages_are_readable_on_a_phone(new_page, screenshot):
    page = new_page(PHONE)
    page.goto("/")
    # The navigation collapses behind a toggle, and nothing overflows sideways.
    expect(page.get_by_role("button", name="Toggle navigation")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "landing-phone")
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
