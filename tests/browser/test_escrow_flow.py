"""Paying through the sandbox provider's hosted page, end to end: a declined card, a 3-D Secure challenge
and a late confirmation by webhook (delivered over HTTP, signed); the freelancer sees "Funded" only after
the provider confirmed; then approval, payout setup on the provider's page and a withdrawal.

Every form of ours and every request our pages post is checked: no card number, expiry or CVC, ever."""

import re
from urllib.parse import parse_qsl, urlparse

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from contracts.tests.factories import act, make_contract
from escrow.sandbox.models import Checkout
from escrow.sandbox.tasks import sandbox_sweep
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.helpers import log_in, pay_on_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARD_WORDS = re.compile(r"card|cvc|cvv|csc|expir|exp_|pan\b|cc-", re.I)


class CardDataWatch:
    """Records every form field our pages render and every field name our site receives in a POST."""

    def __init__(self, pages):
        self.posted: list[tuple[str, list[str]]] = []
        self.rendered: list[tuple[str, list[str]]] = []
        for page in pages:
            page.on("request", self._request)
            page.on("load", self._forms)

    @staticmethod
    def _ours(url: str) -> bool:
        return not urlparse(url).path.startswith("/sandbox-pay/")

    def _request(self, request):
        if request.method == "POST" and self._ours(request.url):
            fields = [name for name, _ in parse_qsl(request.post_data or "")]
            if "multipart/form-data" in (request.headers.get("content-type") or ""):
                fields = re.findall(r'name="([^"]+)"', request.post_data or "")
            self.posted.append((urlparse(request.url).path, fields))

    def _forms(self, page):
        if self._ours(page.url):
            fields = page.eval_on_selector_all(
                "form input, form select, form textarea",
                "els => els.map(e => [e.name, e.id, e.getAttribute('autocomplete') || ''].join(' '))",
            )
            self.rendered.append((urlparse(page.url).path, fields))

    def assert_no_card_data(self):
        assert self.posted and self.rendered  # it did watch
        for path, fields in self.posted + self.rendered:
            bad = [field for field in fields if CARD_WORDS.search(field)]
            assert not bad, f"card data on our side: {path} {bad}"


def status_of(page, milestone):
    return page.locator(f"#milestone-{milestone.pk}")


def test_fund_through_the_hosted_page_3ds_decline_and_late_webhook(
    new_page, screenshot, password, live_server, settings
):
    settings.SANDBOX_WEBHOOK_URL = live_server.url + reverse("escrow:webhook", args=["sandbox"])  # real HTTP
    settings.SANDBOX_LATE_SECONDS = 3600  # settled below by the sandbox's sweep, not by the clock
    client = UserFactory(name="Clara Client", email="clara@example.com")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    contract = make_contract(client=client, freelancer=freelancer, count=2, amount="400.00")
    first, second = contract.milestones.order_by("position")
    client_page, freelancer_page = new_page(), new_page()
    watch = CardDataWatch([client_page, freelancer_page])
    log_in(client_page, client.email, password)
    log_in(freelancer_page, freelancer.email, password)

    # A declined card: back on our page with the error, nothing funded.
    client_page.goto(contract.get_absolute_url())
    status_of(client_page, first).get_by_role("link", name="Fund milestone").click()
    expect(client_page.locator("#fund-total")).to_have_text("$400.00")
    expect(client_page.locator("#hosted-payment-note")).to_contain_text("never reach")
    screenshot(client_page, "fund-confirm")
    client_page.get_by_role("button", name="Continue to payment").click()
    screenshot(client_page, "sandbox-hosted-page")
    pay_on_sandbox(client_page, "4000 0000 0000 0002")
    expect(client_page.get_by_role("alert")).to_contain_text("The payment failed: Your card was declined.")
    expect(client_page.locator("[data-total=in_escrow]")).to_have_text("$0.00")
    screenshot(client_page, "fund-declined")

    # 3-D Secure: the provider's challenge page, then funded on confirmation.
    status_of(client_page, first).get_by_role("link", name="Fund milestone").click()
    client_page.get_by_role("button", name="Continue to payment").click()
    pay_on_sandbox(client_page, "4000 0027 6000 3184")
    expect(client_page.get_by_role("heading", name="3-D Secure authentication")).to_be_visible()
    freelancer_page.goto(contract.get_absolute_url())
    expect(status_of(freelancer_page, first)).to_contain_text("Payment processing")
    expect(status_of(freelancer_page, first)).not_to_contain_text("Funded")
    screenshot(client_page, "sandbox-3ds-challenge")
    client_page.get_by_role("button", name="Complete authentication").click()
    expect(client_page.get_by_role("alert")).to_contain_text("Payment confirmed: $400.00 was paid.")
    expect(client_page.locator("[data-total=in_escrow]")).to_have_text("$400.00")
    freelancer_page.reload()
    expect(status_of(freelancer_page, first)).to_contain_text("Funded — $400.00 is held in escrow. You can start.")
    screenshot(freelancer_page, "contract-funded-freelancer")

    # A late confirmation: processing until the provider's signed webhook arrives.
    status_of(client_page, second).get_by_role("link", name="Fund milestone").click()
    client_page.get_by_role("button", name="Continue to payment").click()
    pay_on_sandbox(client_page, "4000 0000 0000 0077")
    expect(client_page.get_by_role("alert")).to_contain_text("Payment processing")
    freelancer_page.reload()
    expect(status_of(freelancer_page, second)).to_contain_text("Payment processing")
    expect(status_of(freelancer_page, second)).not_to_contain_text("Funded")
    expect(status_of(freelancer_page, second).get_by_role("link", name="Submit work")).to_have_count(0)
    screenshot(freelancer_page, "contract-payment-processing")
    Checkout.objects.filter(status=Checkout.Status.PROCESSING).update(settle_at="2000-01-01T00:00:00Z")
    assert sandbox_sweep()["settled"] == 1  # the provider confirms; its webhook goes over HTTP to our endpoint
    freelancer_page.reload()
    expect(status_of(freelancer_page, second)).to_contain_text("Funded — $400.00 is held in escrow.")

    # Approval, then the freelancer sets up payouts on the provider's page and withdraws.
    act(milestone_id=first.pk, actor=freelancer, name="submit")
    client_page.goto(contract.get_absolute_url())
    status_of(client_page, first).get_by_role("link", name="Approve work").click()
    client_page.get_by_role("button", name="Approve and release $400.00").click()
    expect(client_page.get_by_text("Approved. $360.00 was released to Felix Freelancer.")).to_be_visible()

    freelancer_page.get_by_role("link", name="Wallet").click()
    expect(freelancer_page.locator("#payout-account")).to_contain_text("Add the bank account")
    screenshot(freelancer_page, "wallet-get-paid")
    freelancer_page.get_by_role("button", name="Set up payouts").click()
    expect(freelancer_page).to_have_url(re.compile(r"/sandbox-pay/connect/"))
    freelancer_page.get_by_role("button", name="Save and return").click()
    expect(freelancer_page.get_by_role("alert")).to_contain_text("Your payout account is set up")
    expect(freelancer_page.locator("#payout-account")).to_contain_text("Payouts on")
    freelancer_page.get_by_role("button", name="Withdraw…").click()
    freelancer_page.get_by_role("button", name="Confirm withdrawal").click()
    expect(freelancer_page.get_by_role("alert")).to_contain_text("$360.00 is on its way to your bank account.")
    expect(freelancer_page.locator("[data-balance=available]")).to_contain_text("$0.00")

    watch.assert_no_card_data()
    assert_ledger_consistent()
