"""The whole loop in the browser: fund → submit with a file → request changes → resubmit → approve →
the freelancer's wallet shows the payment; and a milestone whose review period ends is released
automatically."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contracts import services
from contracts.models import Submission
from contracts.tests.factories import fund_milestones, make_contract
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.conftest import PHONE
from tests.browser.helpers import log_in, pay_on_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people():
    client = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com", timezone="America/New_York")
    return client, freelancer


def test_fund_submit_request_changes_resubmit_approve(new_page, screenshot, password, people, tmp_path):
    client, freelancer = people
    contract = make_contract(client=client, freelancer=freelancer, count=1, amount="800.00")
    milestone = contract.milestones.get()
    client_page, freelancer_page = new_page(), new_page()

    log_in(client_page, client.email, password)
    client_page.goto(contract.get_absolute_url())
    client_page.get_by_role("link", name="Fund milestone").click()
    client_page.get_by_role("button", name="Continue to payment").click()
    pay_on_sandbox(client_page, "4242 4242 4242 4242")
    expect(client_page.get_by_text("Payment confirmed: $800.00 was paid.")).to_be_visible()

    design = tmp_path / "homepage.png"
    design.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 128)
    log_in(freelancer_page, freelancer.email, password)
    freelancer_page.goto(contract.get_absolute_url())
    freelancer_page.get_by_role("link", name="Submit work").click()
    freelancer_page.get_by_label("What you are delivering").fill("Homepage design, first version.")
    freelancer_page.get_by_label("Files (optional)").set_input_files(str(design))
    screenshot(freelancer_page, "submit-work")
    freelancer_page.get_by_role("button", name="Submit for review").click()
    expect(freelancer_page.get_by_text("Submission 1 sent.")).to_be_visible()
    expect(freelancer_page.locator("#submission-1")).to_contain_text("homepage.png")
    expect(freelancer_page.locator("#submission-1")).to_contain_text("SHA-256")

    client_page.goto(contract.get_absolute_url())
    expect(client_page.get_by_text("is approved and paid automatically in")).to_be_visible()
    expect(client_page.locator(f"#milestone-{milestone.pk}")).to_contain_text("13 days 23 hours")
    screenshot(client_page, "contract-under-review")
    client_page.get_by_role("link", name="Request changes").click()
    client_page.get_by_label("What should change?").fill("Make the hero image larger.")
    client_page.get_by_role("button", name="Request changes").click()
    expect(client_page.get_by_text("Changes requested — the review clock is stopped")).to_be_visible()

    freelancer_page.goto(contract.get_absolute_url())
    freelancer_page.get_by_role("link", name="Submit work").click()
    freelancer_page.get_by_label("What you are delivering").fill("Second version with a larger hero image.")
    freelancer_page.get_by_role("button", name="Submit for review").click()
    expect(freelancer_page.get_by_text("Submission 2 sent.")).to_be_visible()

    client_page.goto(contract.get_absolute_url())
    client_page.get_by_role("link", name="Approve work").click()
    client_page.get_by_role("button", name="Approve and release $800.00").click()
    expect(client_page.get_by_text("Approved. $720.00 was released to Felix Freelancer.")).to_be_visible()
    screenshot(client_page, "milestone-history")

    freelancer_page.get_by_role("link", name="Wallet").click()
    expect(freelancer_page.locator("[data-balance=available]")).to_contain_text("$720.00")
    assert_ledger_consistent()


def test_silence_releases_the_milestone_automatically(new_page, screenshot, password, people):
    client, freelancer = people
    contract = make_contract(client=client, freelancer=freelancer, count=1, amount="300.00")
    milestone = contract.milestones.get()
    fund_milestones(contract, milestone)
    services.milestone_submit(milestone_id=milestone.pk, actor=freelancer, message="All done", links=[])
    Submission.objects.update(review_deadline=timezone.now() - timedelta(minutes=1))

    services.release_overdue()  # what the beat schedule runs every minute

    page = new_page(PHONE)
    log_in(page, freelancer.email, password)
    page.goto(f"/contracts/{contract.pk}/milestones/{milestone.pk}/")
    expect(page.locator("#released-note")).to_contain_text("Released automatically")
    expect(page.locator("#submission-1")).to_contain_text("Approved automatically")
    screenshot(page, "released-automatically-phone")
    assert_ledger_consistent()
