from decimal import Decimal

import pytest
from playwright.sync_api import expect

from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.models import Payout
from escrow.services import hold_release
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import assert_ledger_consistent, fund, payouts_ready
from marketplace.models import Profile
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser import helpers
from tests.browser.conftest import DESKTOP, PHONE

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
    """Log in and wait for the dashboard: a test that navigates on at once would leave it before axe-core ran."""
    helpers.log_in(page, email, "correct-horse-battery")


def test_a_freelancer_withdraws_their_earnings(page, screenshot, freelancer_with_earnings):
    log_in(page, "felix@example.com")
    page.get_by_role("link", name="Wallet").click()

    expect(page.get_by_role("heading", level=1, name="Wallet")).to_be_visible()
    available = page.locator("[data-balance=available]")
    expect(available).to_contain_text("$630.00")
    expect(page.locator("[data-balance=in-escrow-for-you]")).to_contain_text("$300.00")
    statement = page.locator("table.wallet-history")
    expect(statement.locator("tr[data-type=earning]")).to_have_count(2)
    expect(statement.locator("tr[data-type=earning]").first).to_contain_text("+$200.00")
    expect(statement.locator("tr[data-type=fee]").first).to_contain_text("-$20.00")
    expect(page.get_by_label("Amount to withdraw")).to_have_value("630.00")
    screenshot(page, "wallet")

    page.get_by_role("button", name="Withdraw…").click()
    expect(page.get_by_role("heading", name="Withdraw $630.00?")).to_be_visible()
    page.get_by_role("button", name="Confirm withdrawal").click()

    expect(page.get_by_role("alert")).to_contain_text("$630.00 is on its way to your bank account.")
    expect(available).to_contain_text("$0.00")
    expect(statement.locator("tr[data-type=withdrawal]")).to_contain_text("-$630.00")
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


# --- each role's wallet and dashboard, through a real contract ------------------------------------------------


@pytest.fixture
def contract_story():
    """Clara hires Felix for three $300 milestones, all paid by card: the first is approved and released, the
    second submitted and under review, the third refunded by Felix to Clara's credit."""
    clara = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    felix = FreelancerFactory(name="Felix Freelancer", email="felix@example.com", timezone="America/New_York")
    Profile.objects.create(user=felix, headline="Logo designer")
    contract = make_contract(client=clara, freelancer=felix, count=3, amount="300.00")
    first, second, third = contract.milestones.order_by("position")
    fund_milestones(contract, first, second, third)
    act(milestone_id=first.pk, actor=felix, name="submit")
    act(milestone_id=first.pk, actor=clara, name="approve")
    act(milestone_id=second.pk, actor=felix, name="submit")
    act(milestone_id=third.pk, actor=felix, name="refund")
    payouts_ready(felix)
    assert_ledger_consistent()
    return contract


def fits(page):
    """Nothing wider than the screen, the history's amounts included (its table could scroll sideways)."""
    amounts_shown = """[...document.querySelectorAll(".wallet-history td.text-end")]
        .every(cell => cell.getBoundingClientRect().right <= window.innerWidth)"""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth") and page.evaluate(amounts_shown)


@pytest.mark.parametrize(("viewport", "suffix"), [(DESKTOP, ""), (PHONE, "-phone")])
def test_a_clients_dashboard_and_wallet(new_page, screenshot, contract_story, viewport, suffix):
    page = new_page(viewport)
    log_in(page, "clara@example.com")
    expect(page.locator("#money-summary")).to_contain_text("You have in escrow")
    expect(page.locator("#money-summary")).to_contain_text("$300.00")
    expect(page.locator("#needs-action")).to_contain_text("approved automatically in")
    assert fits(page)
    screenshot(page, f"dashboard-client{suffix}")

    page.goto("/wallet/")
    expect(page.locator("[data-balance=in-escrow-paid]")).to_contain_text("$300.00")
    expect(page.locator("[data-balance=paid-out]")).to_contain_text("$300.00")
    expect(page.locator("[data-balance=credit]")).to_contain_text("$300.00")
    expect(page.locator("[data-balance=spent]")).to_contain_text("$900.00")
    history = page.locator("table.wallet-history")
    payments = history.locator("tr[data-type=payment]")
    expect(payments).to_have_count(3)
    expect(payments.first).to_contain_text("-$300.00")
    expect(payments.first).not_to_contain_text("+")
    expect(history.locator("tr[data-type=refund]")).to_contain_text("+$300.00")
    expect(payments.first.get_by_role("link", name="Company website")).to_have_attribute(
        "href", contract_story.get_absolute_url()
    )
    expect(page.get_by_role("heading", name="Spending by month")).to_be_visible()
    expect(page.get_by_text("Available to withdraw")).to_have_count(0)
    expect(page.get_by_role("heading", name="Withdraw earnings")).to_have_count(0)
    assert fits(page)
    screenshot(page, f"wallet-client{suffix}")


@pytest.mark.parametrize(("viewport", "suffix"), [(DESKTOP, ""), (PHONE, "-phone")])
def test_a_freelancers_dashboard_and_wallet(new_page, screenshot, contract_story, viewport, suffix):
    page = new_page(viewport)
    log_in(page, "felix@example.com")
    coming = page.locator("#payments-coming")
    expect(coming).to_contain_text("Payment releases automatically on")
    expect(coming).to_contain_text("unless the client acts")
    expect(page.get_by_text("Nothing needs your attention")).to_have_count(0)
    expect(page.locator("#profile-prompt")).to_contain_text("25% done")
    expect(page.locator("#money-summary")).to_contain_text("Available to withdraw")
    assert fits(page)
    screenshot(page, f"dashboard-freelancer{suffix}")

    page.goto("/wallet/")
    expect(page.locator("[data-balance=available]")).to_contain_text("$270.00")
    expect(page.locator("[data-balance=in-escrow-for-you]")).to_contain_text("$300.00")
    expect(page.locator("[data-balance=fees]")).to_contain_text("$30.00")
    history = page.locator("table.wallet-history")
    expect(history.locator("tr[data-type=earning]")).to_contain_text("+$300.00")
    expect(history.locator("tr[data-type=fee]")).to_contain_text("-$30.00")
    expect(history.locator("tr[data-type=refunded_to_client]")).to_contain_text("for information")
    expect(page.get_by_role("heading", name="Withdraw earnings")).to_be_visible()
    expect(page.get_by_role("heading", name="Earnings by month")).to_be_visible()
    expect(page.locator("#earnings-chart svg rect")).to_have_count(1)
    expect(page.locator("[data-balance=credit]")).to_have_count(0)
    assert fits(page)
    screenshot(page, f"wallet-freelancer{suffix}")
