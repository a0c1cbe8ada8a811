"""The client funds a milestone (a declined card first), the freelancer sees it funded,
the client approves, and the freelancer's wallet shows the payment less the fee and withdraws it."""

import pytest
from playwright.sync_api import expect

from contracts.tests.factories import act, make_contract
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pay_with(page, number):
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry date").fill("12/30")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay into escrow").click()


def test_fund_approve_and_withdraw(new_page, screenshot, password):
    client = UserFactory(name="Clara Client", email="clara@example.com")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    contract = make_contract(client=client, freelancer=freelancer, count=2, amount="400.00")
    first = contract.milestones.first()
    client_page, freelancer_page = new_page(), new_page()

    log_in(client_page, client.email, password)
    client_page.goto(contract.get_absolute_url())
    client_page.locator(f"#milestone-{first.pk}").get_by_role("link", name="Fund milestone").click()
    expect(client_page.locator("#fund-total")).to_have_text("$400.00")
    expect(client_page.locator("#fund-fees")).to_have_text("$40.00")

    pay_with(client_page, "4000 0000 0000 0002")  # declined
    expect(client_page.locator("#payment-error")).to_have_text("Your card was declined. Try another card.")
    screenshot(client_page, "fund-declined")
    client_page.goto(contract.get_absolute_url())
    expect(client_page.locator("[data-total=in_escrow]")).to_have_text("$0.00")

    client_page.locator(f"#milestone-{first.pk}").get_by_role("link", name="Fund milestone").click()
    screenshot(client_page, "fund-confirm")
    pay_with(client_page, "4242 4242 4242 4242")
    expect(client_page.get_by_text("Funded: $400.00 is now held in escrow.")).to_be_visible()
    expect(client_page.locator("[data-total=in_escrow]")).to_have_text("$400.00")

    log_in(freelancer_page, freelancer.email, password)
    freelancer_page.goto(contract.get_absolute_url())
    card = freelancer_page.locator(f"#milestone-{first.pk}")
    expect(card).to_contain_text("Funded — $400.00 is held in escrow. You can start.")
    screenshot(freelancer_page, "contract-funded-freelancer")

    act(milestone_id=first.pk, actor=freelancer, name="submit")  # (the review issue adds files)
    client_page.goto(contract.get_absolute_url())
    client_page.locator(f"#milestone-{first.pk}").get_by_role("link", name="Approve work").click()
    client_page.get_by_role("button", name="Approve and release $400.00").click()
    expect(client_page.get_by_text("Approved. $360.00 was released to Felix Freelancer.")).to_be_visible()

    freelancer_page.get_by_role("link", name="Wallet").click()
    expect(freelancer_page.locator("[data-balance=available]")).to_contain_text("$360.00")
    screenshot(freelancer_page, "wallet-after-release")
    freelancer_page.get_by_role("button", name="Withdraw…").click()
    freelancer_page.get_by_role("button", name="Confirm withdrawal").click()
    expect(freelancer_page.get_by_role("alert")).to_contain_text("$360.00 is on its way to your bank account.")
    expect(freelancer_page.locator("[data-balance=available]")).to_contain_text("$0.00")
    assert_ledger_consistent()
