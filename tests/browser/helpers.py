import re

from playwright.sync_api import expect

PASSWORD_LABEL = re.compile(r"^\s*Password\W*$")


def log_in(page, email: str, password: str) -> None:
    """Log in through the login form and wait for the dashboard."""
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Welcome, "))).to_be_visible()


def pay_on_sandbox(page, number: str) -> None:
    """On the sandbox provider's hosted page (never ours): type a test card and pay."""
    expect(page).to_have_url(re.compile(r"/sandbox-pay/checkout/"))
    expect(page.get_by_role("note")).to_contain_text("SANDBOX")
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


def staff_log_in(page, staff, password: str) -> None:
    """Log a staff member in with a password and an authenticator code (the admin needs the second factor)."""
    from marketplace.tests.second_factor import totp_activate, totp_code

    secret = totp_activate(staff)
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Welcome, "))).to_be_visible()
