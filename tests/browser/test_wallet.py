import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from escrow.models import Payout
from escrow.services import hold_release
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import assert_ledger_consistent, fund, payouts_ready
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def freelancer_with_earnings(settings):
    """A freelancer with two released milestones ($450.00 + $180.00 after fees), set up through the services."""
    settings.ESCROW_PAYMENT_CALLBACKS = {}  # escrow alone: these references have no milestones
    client = UserFactory(name="Clara Client")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com", timezone="America/New_York")
    for reference, label, amount in [
        ("milestone:1", "Logo design — Milestone 1: sketches", "500.00"),
        ("milestone:2", "Logo design — Milestone 2: final files", "200.00"),
    ]:
        amount = Decimal(amount)
        fund(
            client, HoldSpecFactory(reference=reference, payee=freelancer, amount=amount, fee=amount / 10, label=label)
        )
        hold_release(reference=reference, actor=client)
    payouts_ready(freelancer)
    fund(
        client, HoldSpecFactory(reference="milestone:3", payee=freelancer, amount=Decimal("300.00"), fee=Decimal("30"))
    )
    return freelancer


def log_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label(re.compile(r"^\s*Password\W*$")).fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()


def test_a_freelancer_withdraws_their_earnings(page, screenshot, freelancer_with_earnings):
    log_in(page, "felix@example.com")
    page.get_by_role("link", name="Wallet").click()

    expect(page.get_by_role("heading", level=1, name="Wallet")).to_be_visible()
    available = page.locator("[data-balance=available]")
    expect(available).to_contain_text("$630.00")
    expect(page.locator("[data-balance=in-escrow-for-you]")).to_contain_text("$300.00")
    statement = page.locator("table.statement")
    expect(statement).to_contain_text("Released from escrow: Logo design — Milestone 2: final files")
    expect(statement.get_by_role("link", name=re.compile("Milestone 1: sketches"))).to_be_visible()
    expect(page.get_by_label("Amount to withdraw")).to_have_value("630.00")
    screenshot(page, "wallet")

    page.get_by_role("button", name="Withdraw…").click()
    expect(page.get_by_role("heading", name="Withdraw $630.00?")).to_be_visible()
    page.get_by_role("button", name="Confirm withdrawal").click()

    expect(page.get_by_role("alert")).to_contain_text("$630.00 is on its way to your bank account.")
    expect(available).to_contain_text("$0.00")
    expect(statement).to_contain_text("Withdrawal to your bank account")
    expect(page.get_by_text("Nothing to withdraw yet.")).to_be_visible()
    assert Payout.objects.get().amount == Decimal("630.00")
    assert_ledger_consistent()


def test_withdraw_errors_show_next_to_the_field(page, freelancer_with_earnings):
    log_in(page, "felix@example.com")
    page.goto("/wallet/")
    page.get_by_label("Amount to withdraw").fill("1000")
    page.get_by_role("button", name="Withdraw…").click()

    expect(page.locator("#error_1_id_amount")).to_have_text("You can withdraw at most $630.00.")
    assert not Payout.objects.exists()


def test_the_wallet_on_a_phone(new_page, screenshot, freelancer_with_earnings):
    page = new_page(PHONE)
    log_in(page, "felix@example.com")
    page.goto("/wallet/")

    expect(page.locator("[data-balance=available]")).to_contain_text("$630.00")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "wallet-phone")
