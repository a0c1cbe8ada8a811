"""The front door, end to end: a client posts a job; two freelancers find it by search with a skill filter
and propose with different milestone plans; the client compares, messages one and hires them; the freelancer
accepts; the contract has the proposal's milestones frozen; the other freelancer is told the job was filled."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contracts.models import Contract
from jobs.models import Proposal
from jobs.tests.factories import make_job
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


def find_and_propose(page, cover_letter, milestones, shot=None):
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Find work").click()
    page.get_by_label("Search jobs").fill("shop")
    page.get_by_label("Skills").fill("django")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#job-results")
    expect(results.get_by_role("link")).to_have_count(1)  # the decoy shop (no django skill) is filtered out
    if shot:
        shot(page)
    results.get_by_role("link", name="Online shop for ceramics").click()
    page.get_by_role("link", name="Send a proposal").click()
    page.get_by_label("Cover letter").fill(cover_letter)
    for index, (title, amount, days) in enumerate(milestones):
        if index:
            page.get_by_role("button", name="+ Add another milestone").click()
        fill_milestone(page, index, title, amount, days)


def test_a_job_is_posted_found_proposed_on_and_filled(new_page, screenshot, password):
    client = UserFactory(name="Clara Client", email="clara@example.com")
    felix = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    priya = FreelancerFactory(name="Priya Natarajan", email="priya@example.com")
    make_job(title="Online shop with Shopify", skills=["shopify"])  # matches "shop", not the skill filter
    clara_page, felix_page, priya_page = new_page(), new_page(), new_page(PHONE)

    # The client posts the job.
    log_in(clara_page, client.email, password)
    clara_page.goto("/jobs/new/")
    clara_page.get_by_label("Title").first.fill("Online shop for ceramics")
    clara_page.get_by_label("Description").fill("A Django shop for our ceramics: catalogue, cart and checkout.")
    clara_page.get_by_label("Skills").fill("django, python")
    clara_page.get_by_label("Budget (USD)").fill("1000")
    clara_page.get_by_label("Up to (USD, optional)").fill("2500")
    screenshot(clara_page, "jobs-post")
    clara_page.get_by_role("button", name="Publish job").click()
    expect(clara_page.get_by_text("Your job is live.")).to_be_visible()

    # Two freelancers find it with a search and a skill filter, and propose different plans.
    log_in(felix_page, felix.email, password)
    find_and_propose(
        felix_page,
        "I have built three Django shops; I would start with the catalogue.",
        [("Catalogue", "600.00", 10), ("Cart and checkout", "900.00", 24), ("Launch", "300.00", 30)],
    )
    expect(felix_page.locator("#offer-total")).to_have_text("$1,800.00")
    expect(felix_page.locator("#offer-fee")).to_have_text("$180.00")
    expect(felix_page.locator("#offer-receives")).to_have_text("$1,620.00")
    screenshot(felix_page, "jobs-proposal-form")
    felix_page.get_by_role("button", name="Send proposal").click()
    expect(felix_page.get_by_text("Your proposal was sent to Clara Client.")).to_be_visible()

    log_in(priya_page, priya.email, password)
    priya_page.get_by_role("button", name="Toggle navigation").click()
    find_and_propose(
        priya_page,
        "Design first: I would do it in two steps.",
        [("Everything", "1200.00", 20)],
        shot=lambda page: screenshot(page, "jobs-search-phone"),
    )
    screenshot(priya_page, "jobs-proposal-form-phone")
    priya_page.get_by_role("button", name="Send proposal").click()
    expect(priya_page.get_by_text("Your proposal was sent to Clara Client.")).to_be_visible()
    assert priya_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The client compares the two proposals, messages Felix and hires him.
    clara_page.goto("/dashboard/")
    expect(clara_page.locator("#client-jobs")).to_contain_text("2 new")
    clara_page.locator("#client-jobs").get_by_role("link", name="Online shop for ceramics").click()
    proposals = clara_page.locator("#proposals")
    expect(proposals.locator("[data-proposal]")).to_have_count(2)
    expect(proposals.locator("[data-proposal='Felix Freelancer']")).to_contain_text("$1,800.00")
    expect(proposals.locator("[data-proposal='Felix Freelancer']")).to_contain_text("3 milestones")
    expect(proposals.locator("[data-proposal='Priya Natarajan']")).to_contain_text("$1,200.00")
    screenshot(clara_page, "jobs-compare-proposals")
    proposals.locator("[data-proposal='Felix Freelancer']").get_by_role("button", name="Message").click()
    clara_page.get_by_label("Message").fill("Could you start on Monday?")
    clara_page.get_by_role("button", name="Send").click()
    expect(clara_page.locator("#messages, main").get_by_text("Could you start on Monday?").first).to_be_visible()

    clara_page.goto(Proposal.objects.get(freelancer=felix).get_absolute_url())
    screenshot(clara_page, "jobs-proposal-client")
    clara_page.get_by_role("link", name="Hire Felix").click()
    expect(clara_page.get_by_role("heading", name="Hire Felix Freelancer")).to_be_visible()
    expect(clara_page.locator("#offer-total")).to_have_text("$1,800.00")  # the proposal's plan, unchanged
    clara_page.get_by_role("button", name="Send offer").click()
    expect(clara_page.get_by_text("Your offer was sent to Felix Freelancer.")).to_be_visible()

    # Felix accepts the offer: the contract starts, in the conversation they already had.
    felix_page.goto("/dashboard/")
    felix_page.get_by_role("link", name="Answer").click()
    felix_page.get_by_role("button", name="Accept revision 1 and start the contract").click()
    expect(felix_page.get_by_text("Offer accepted. The contract has started")).to_be_visible()
    screenshot(felix_page, "jobs-contract")

    contract = Contract.objects.get()
    assert [(m.title, m.amount) for m in contract.milestones.order_by("position")] == [
        ("Catalogue", Decimal("600.00")),
        ("Cart and checkout", Decimal("900.00")),
        ("Launch", Decimal("300.00")),
    ]
    felix_proposal = Proposal.objects.get(freelancer=felix)
    assert contract.offer.thread_id == felix_proposal.thread_id
    felix_page.goto(f"/messages/{felix_proposal.thread_id}/")
    expect(felix_page.get_by_text("Could you start on Monday?")).to_be_visible()

    # Priya is told the job was filled.
    priya_page.goto("/notifications/")
    expect(priya_page.get_by_text(re.compile("The job “Online shop for ceramics” was filled"))).to_be_visible()
    priya_page.goto(Proposal.objects.get(freelancer=priya).get_absolute_url())
    expect(priya_page.locator("#job-filled")).to_be_visible()
    expect(priya_page.locator("#proposal-status")).to_have_text("Job filled")
    screenshot(priya_page, "jobs-filled-phone")
