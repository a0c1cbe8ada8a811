import pytest
from playwright.sync_api import expect

from contracts.tests.factories import fund_milestones, make_contract
from marketplace.tests.factories import UserFactory
from tests.browser.helpers import staff_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_ask_for_the_ledger_audit_and_read_its_result(page, password, screenshot):
    contract = make_contract(count=2)
    fund_milestones(contract, *contract.milestones.all())
    staff = UserFactory(name="Sam Staff", is_staff=True, is_superuser=True)
    staff_log_in(page, staff, password)

    page.goto("/admin/escrow/entry/")
    page.get_by_role("link", name="Ledger audit").click()
    expect(page.get_by_text("No audit has been run from this page yet.")).to_be_visible()

    page.get_by_role("button", name="Run the audit now").click()  # a worker runs it (eager here, after commit)

    expect(page.get_by_text("The audit is queued; a worker runs it.")).to_be_visible()
    expect(page.get_by_text("The ledger is consistent: no violations.")).to_be_visible()
    expect(page.get_by_text("asked for by Sam Staff")).to_be_visible()
    screenshot(page, "admin-ledger-audit")
