"""A client sends an offer with 3 milestones, the freelancer proposes a change to one amount,
the client sees the diff and accepts, and both dashboards show the active contract."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contracts.models import Contract
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_milestone(page, index, title, amount, days):
    row = page.locator("[data-row]").nth(index)
    row.get_by_label("Title").fill(title)
    row.get_by_label("Deliverable").fill(f"{title}: delivered as files")
    row.get_by_label("Estimated delivery date").fill((timezone.localdate() + timedelta(days=days)).isoformat())
    row.get_by_label("Amount").fill(amount)


def test_offer_negotiation_ends_in_an_active_contract(new_page, screenshot, password):
    client = UserFactory(name="Clara Client", email="clara@example.com")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    client_page = new_page()
    freelancer_page = new_page()

    # The client writes the offer: three milestones, rows added in the page, totals live.
    log_in(client_page, client.email, password)
    client_page.goto(f"/offers/new/?freelancer={freelancer.pk}")
    client_page.get_by_label("Title", exact=False).first.fill("Online shop")
    client_page.get_by_label("Scope of work").fill("A small online shop with a cart and checkout.")
    client_page.get_by_label("What success looks like").fill("Customers can buy products end to end.")
    fill_milestone(client_page, 0, "Designs", "300.00", 7)
    client_page.get_by_role("button", name="+ Add another milestone").click()
    fill_milestone(client_page, 1, "Catalogue", "450.50", 14)
    client_page.get_by_role("button", name="+ Add another milestone").click()
    fill_milestone(client_page, 2, "Checkout", "249.50", 21)
    expect(client_page.locator("#offer-total")).to_have_text("$1,000.00")
    expect(client_page.locator("#offer-fee")).to_have_text("$100.00")
    expect(client_page.locator("#offer-receives")).to_have_text("$900.00")
    screenshot(client_page, "offer-form")
    client_page.get_by_role("button", name="Send offer").click()
    expect(client_page.get_by_text("Your offer was sent to Felix Freelancer.")).to_be_visible()

    # The freelancer proposes a higher amount for the catalogue.
    log_in(freelancer_page, freelancer.email, password)
    freelancer_page.get_by_role("link", name="Answer").click()
    expect(freelancer_page.get_by_role("heading", name="Online shop")).to_be_visible()
    freelancer_page.get_by_role("link", name="Propose changes").click()
    freelancer_page.locator("[data-row]").nth(1).get_by_label("Amount").fill("600.00")
    freelancer_page.get_by_label("Note to the other party").fill("The catalogue needs product variants.")
    freelancer_page.get_by_role("button", name="Send revision").click()
    expect(freelancer_page.get_by_text("Waiting for Clara Client to answer revision 2.")).to_be_visible()

    # The client sees exactly what changed, and accepts.
    client_page.goto("/dashboard/")
    client_page.get_by_role("link", name="Answer").click()
    diff = client_page.locator("section", has=client_page.get_by_role("heading", name="What changed in revision 2"))
    expect(diff).to_contain_text("Catalogue")
    expect(diff.locator("del")).to_have_text("$450.50")
    expect(diff.locator("ins")).to_have_text("$600.00")
    screenshot(client_page, "offer-diff")
    client_page.get_by_role("button", name="Accept revision 2 and start the contract").click()
    expect(client_page.get_by_text("Offer accepted. The contract has started")).to_be_visible()
    expect(client_page.locator("[data-total=remaining]")).to_have_text("$1,149.50")
    screenshot(client_page, "contract")

    contract = Contract.objects.get()
    assert [str(m.amount) for m in contract.milestones.all()] == ["300.00", "600.00", "249.50"]

    # Both dashboards show the active contract.
    for page, name in ((client_page, "client"), (freelancer_page, "freelancer")):
        page.goto("/dashboard/")
        expect(page.locator("#active-contracts")).to_contain_text("Online shop")
        screenshot(page, f"dashboard-{name}")
    expect(client_page.locator("#needs-action")).to_contain_text("Designs")  # a milestone to fund

    phone = new_page(PHONE)
    log_in(phone, freelancer.email, password)
    phone.goto(contract.get_absolute_url())
    expect(phone.get_by_text("Not funded yet — don’t start work on it until it is funded.").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "contract-phone")
