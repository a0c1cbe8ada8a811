"""Disputes in the browser: the parties settle 70/30 themselves; staff decide a split in the queue; a
withdrawn dispute gives the review period back."""

import re

import pytest
from playwright.sync_api import expect

from contracts.models import Milestone
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.selectors import user_balances
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in, staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def submitted():
    client = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com", timezone="America/New_York")
    contract = make_contract(client=client, freelancer=freelancer, count=1, amount="100.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=freelancer, name="submit")
    return contract, milestone


def open_dispute_in_the_browser(page, contract, milestone):
    page.goto(contract.get_absolute_url())
    page.locator(f"#milestone-{milestone.pk}").get_by_role("link", name="Open a dispute").click()
    page.get_by_label("What is the problem?").fill("Two of the five pages are missing.")
    page.get_by_role("button", name="Open a dispute").click()
    expect(page.get_by_role("heading", name=re.compile("Dispute on"))).to_be_visible()


def test_the_parties_settle_a_dispute_70_30(new_page, screenshot, password, submitted, tmp_path):
    contract, milestone = submitted
    client_page, freelancer_page = new_page(), new_page(PHONE)
    log_in(client_page, contract.client.email, password)
    open_dispute_in_the_browser(client_page, contract, milestone)
    expect(client_page.locator("#dispute-state")).to_have_text("Awaiting the other party’s evidence")

    proof = tmp_path / "pages.png"
    proof.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    log_in(freelancer_page, contract.freelancer.email, password)
    freelancer_page.goto(contract.get_absolute_url())
    freelancer_page.get_by_role("link", name="Open the dispute page").click()
    freelancer_page.get_by_label("Your evidence").fill("Three pages are done; here they are.")
    freelancer_page.get_by_label("Files (optional)").set_input_files(str(proof))
    freelancer_page.get_by_role("button", name="Add evidence").click()
    expect(freelancer_page.get_by_text("Your evidence was added")).to_be_visible()
    expect(freelancer_page.locator("#dispute-state")).to_have_text("Under review by staff")
    freelancer_page.get_by_label("To the freelancer").fill("70.00")
    freelancer_page.get_by_label("Back to the client").fill("30.00")
    freelancer_page.get_by_role("button", name="Propose this split").click()
    expect(freelancer_page.get_by_text("Waiting for the other party to answer.")).to_be_visible()
    screenshot(freelancer_page, "dispute-proposal-phone")

    client_page.reload()
    expect(client_page.locator("#pending-proposal")).to_contain_text("$70.00 to Felix Freelancer")
    screenshot(client_page, "dispute-page")
    client_page.get_by_role("button", name="Accept and settle").click()
    expect(client_page.get_by_text("Settled: $70.00 to Felix Freelancer, $30.00 back to Clara Client.")).to_be_visible()
    expect(client_page.locator("#outcome")).to_contain_text("$63.00 went to Felix Freelancer")

    assert user_balances(contract.freelancer)["available"] == 63
    assert user_balances(contract.client)["credit"] == 30
    freelancer_page.goto("/wallet/")
    expect(freelancer_page.get_by_text("$63.00").first).to_be_visible()
    assert_ledger_consistent()


def test_staff_decide_a_split_in_the_queue(new_page, screenshot, password, submitted):
    contract, milestone = submitted
    act(milestone_id=milestone.pk, actor=contract.client, name="dispute", note="Unfinished work")
    staff = UserFactory(name="Sam Staff", email="sam@example.com", is_staff=True, is_superuser=True)
    page = new_page()
    staff_log_in(page, staff, password)  # the admin opens only after a second factor

    page.goto("/admin/contracts/dispute/")
    expect(page.get_by_text("on time")).to_be_visible()
    # The dispute's row (by its milestone), then its id link: link texts are ids, which depend on the run order.
    page.locator("#result_list tbody tr").filter(has_text=milestone.title).get_by_role("link").first.click()
    expect(page.get_by_role("link", name="Download the evidence bundle (ZIP)")).to_be_visible()
    page.get_by_role("button", name="Assign to me").click()
    page.get_by_label("To the freelancer").fill("50.00")
    page.get_by_label("Back to the client").fill("50.00")
    page.get_by_label("Written reasons").fill("Half of the agreed pages were delivered.")
    screenshot(page, "dispute-staff-case")
    page.get_by_role("button", name="Decide and move the money").click()
    expect(page.get_by_text("Decided.")).to_be_visible()

    client_page = new_page()
    log_in(client_page, contract.client.email, password)
    client_page.goto(contract.get_absolute_url())
    expect(client_page.get_by_text("Half of the agreed pages were delivered.").first).to_be_visible()
    assert Milestone.objects.get(pk=milestone.pk).state == Milestone.State.RELEASED
    assert user_balances(contract.freelancer)["available"] == 45
    assert_ledger_consistent()


def test_a_withdrawn_dispute_resumes_the_review_countdown(new_page, password, submitted):
    contract, milestone = submitted
    page = new_page()
    log_in(page, contract.client.email, password)
    open_dispute_in_the_browser(page, contract, milestone)

    page.get_by_role("button", name="Withdraw the dispute").click()

    expect(page.get_by_text("You withdrew the dispute.")).to_be_visible()
    expect(page.locator(f"#milestone-{milestone.pk}")).to_contain_text("is approved and paid automatically in")
    expect(page.locator(f"#milestone-{milestone.pk}")).to_contain_text("13 days 23 hours")
