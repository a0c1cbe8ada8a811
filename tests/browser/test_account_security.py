import re

import pytest
from playwright.sync_api import expect

from marketplace.tests.factories import UserFactory
from marketplace.tests.second_factor import totp_code
from tests.browser.helpers import PASSWORD_LABEL, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_cannot_open_the_admin_without_a_second_factor(page, password, screenshot):
    staff = UserFactory(name="Sam Staff", is_staff=True, is_superuser=True)
    log_in(page, staff.email, password)

    page.goto("/admin/")

    # Sent to set one up, after confirming the password.
    expect(page.get_by_text("Staff must set up two-factor authentication before opening the admin.")).to_be_visible()
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    screenshot(page, "staff-activate-totp")
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()

    # The admin now asks for a code once in this session, then opens.
    page.goto("/admin/")
    expect(page.get_by_text("Enter a code from your authenticator app to open the admin.")).to_be_visible()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_a_locked_out_login_shows_why_and_for_how_long(page, client_user, password, screenshot, settings):
    page.goto("/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Email address").fill(client_user.email)
        page.get_by_label(PASSWORD_LABEL).fill("not-the-password")
        page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Too many failed login attempts")).to_be_visible()
    expect(page.get_by_text(re.compile(r"locked for 15 minutes"))).to_be_visible()
    screenshot(page, "login-locked")

    # Even the right password is refused while the lock lasts.
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(client_user.email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Too many failed login attempts")).to_be_visible()
