"""The contract list (a cached page) filtered and paged as a client does, and a long contract's milestones a page at a
time in the admin."""

from datetime import date

import pytest
from playwright.sync_api import expect

from contracts.models import Contract, Milestone
from contracts.tests.factories import ContractFactory, make_contract
from marketplace.tests.factories import UserFactory
from tests.browser.helpers import log_in, staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_client_filters_and_pages_their_contracts(page, password, screenshot):
    clara = UserFactory(name="Clara Client")
    ContractFactory.create_batch(21, client=clara)
    ContractFactory(client=clara, status=Contract.Status.ENDED, title="Old job")
    log_in(page, clara.email, password)

    page.goto("/contracts/")
    expect(page.get_by_role("heading", name="Your contracts")).to_be_visible()
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Ended", exact=True).click()
    expect(page.get_by_role("link", name="Old job")).to_be_visible()
    expect(page.get_by_text("Page 1 of 2")).to_have_count(0)
    screenshot(page, "contract-list-ended")

    page.get_by_role("link", name="All", exact=True).click()
    page.get_by_role("navigation", name="Pages of contracts").get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    page.goto("/contracts/?status=made-up")  # an unknown filter: the whole list, at its own address
    expect(page).to_have_url(f"{page.url.split('/contracts/')[0]}/contracts/")


def test_staff_page_through_a_long_contracts_milestones(page, password, screenshot):
    contract = make_contract(count=3)
    Milestone.objects.bulk_create(
        Milestone(contract=contract, position=n, title=f"Part {n}", amount=10, fee=1, due_date=date(2027, 1, 1))
        for n in range(4, 31)
    )
    staff_log_in(page, UserFactory(is_staff=True, is_superuser=True), password)

    page.goto(f"/admin/contracts/contract/{contract.pk}/change/")
    expect(page.get_by_text("Part 25", exact=True)).to_be_visible()
    expect(page.get_by_text("Part 26", exact=True)).to_have_count(0)
    page.get_by_role("link", name="next page").first.click()
    expect(page.get_by_text("Part 30", exact=True)).to_be_visible()
    expect(page.get_by_text("Part 25", exact=True)).to_have_count(0)
    screenshot(page, "admin-contract-milestones-page-2")
