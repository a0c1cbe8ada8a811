"""The whole loop in the browser: fund → submit with a file → request changes → resubmit → approve →
the freelancer's wallet shows the payment; and a milestone whose review period ends is released
automatically."""

import re
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


def test_contract_page_counts_down_live_and_puts_milestones_first_on_a_phone(new_page, screenshot, password, people):
    client, freelancer = people
    contract = make_contract(client=client, freelancer=freelancer, count=3, amount="400.00")
    first, second, _third = contract.milestones.order_by("position")
    fund_milestones(contract, first, second)
    services.milestone_submit(milestone_id=first.pk, actor=freelancer, message="Three concepts", links=[])
    services.milestone_submit(milestone_id=second.pk, actor=freelancer, message="Style guide", links=[])
    # The second's review ends in ten minutes: close enough for the countdown to show its seconds.
    Submission.objects.filter(milestone=second).update(review_deadline=timezone.now() + timedelta(minutes=10))

    page = new_page()
    log_in(page, client.email, password)
    page.goto(contract.get_absolute_url())
    countdown = page.locator(f"#milestone-{second.pk} [data-deadline]")
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=2_500)  # it ticks
    expect(countdown).to_contain_text("second")
    expect(page.locator(f"#milestone-{first.pk} [data-action=approve]")).to_have_class(re.compile(r"\bbtn-success\b"))
    # Tabs: one section at a time, the activity first.
    expect(page.locator("#activity")).to_be_visible()
    expect(page.locator("#timeline")).to_be_hidden()
    page.get_by_role("tab", name="Timeline").click()
    expect(page.locator("#timeline")).to_be_visible()
    expect(page.locator(f"[data-timeline-milestone='{first.pk}'] [data-step]")).to_have_count(4)
    screenshot(page, "contract-1280")

    phone = new_page(PHONE)
    log_in(phone, freelancer.email, password)
    phone.goto(contract.get_absolute_url())
    milestones_top = phone.locator("#milestones").bounding_box()["y"]
    activity_top = phone.locator("#activity").bounding_box()["y"]
    assert milestones_top < activity_top
    expect(phone.locator(f"#milestone-{first.pk} [data-next-step]")).to_contain_text("the client has until")
    expect(phone.locator(f"#milestone-{first.pk} [data-action=withdraw_submission]")).to_have_class(
        re.compile(r"\bbtn-outline-secondary\b")
    )
    screenshot(phone, "contract-390")
    phone.goto(f"{contract.get_absolute_url()}#messages")  # a link to the messages opens their tab
    expect(phone.locator("#messages")).to_be_visible()
    expect(phone.locator("#activity")).to_be_hidden()

    for viewport, name in ((PHONE, "milestone-under-review-390"), (None, "milestone-under-review-1280")):
        view = new_page(viewport) if viewport else page
        if viewport:
            log_in(view, freelancer.email, password)
        view.goto(f"/contracts/{contract.pk}/milestones/{first.pk}/")
        expect(view.get_by_role("heading", level=1)).to_have_text(f"Milestone 1: {first.title}")
        expect(view.locator("[data-record]")).to_contain_text(f"submitted work on “{first.title}” (submission 1).")
        screenshot(view, name)


def test_offer_form_errors_are_summed_up_and_focused(new_page, screenshot, password, people):
    client, freelancer = people
    page = new_page(PHONE)
    log_in(page, client.email, password)
    page.goto(f"/offers/new/?freelancer={freelancer.pk}")
    page.get_by_role("button", name="Send offer").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name=re.compile("^Title:"))).to_be_visible()
    date_input = page.locator("#id_milestones-0-due_date")
    box = date_input.bounding_box()
    assert box["width"] >= 300  # full width on a phone, not clipped
    screenshot(page, "offer-form-errors-390")
