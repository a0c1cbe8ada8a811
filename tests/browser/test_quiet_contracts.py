"""A quiet contract: the notification opens a page with one-click "End the contract" / "Keep it open";
ending it opens the feedback window."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from contracts import services
from contracts.models import Contract
from contracts.tests.factories import make_contract
from marketplace.tests.factories import FreelancerFactory, UserFactory
from tests.browser.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quiet_contract():
    client = UserFactory(name="Clara Client", email="clara@example.com", timezone="Europe/Berlin")
    freelancer = FreelancerFactory(name="Felix Freelancer", email="felix@example.com")
    with time_machine.travel(timezone.now() - timedelta(days=31), tick=False):
        contract = make_contract(client=client, freelancer=freelancer, count=2)
    services.quiet_contracts_sweep()  # 31 quiet days, nothing in escrow: both parties are asked
    return contract


def test_the_quiet_question_ends_the_contract_in_one_click(new_page, screenshot, password, quiet_contract):
    contract = quiet_contract
    client_page, freelancer_page = new_page(), new_page()

    log_in(client_page, contract.client.email, password)
    client_page.goto("/notifications/")
    client_page.get_by_role("link", name="Nothing has happened on").first.click()
    expect(client_page.get_by_role("heading", level=1)).to_contain_text("or keep it open?")
    screenshot(client_page, "quiet-contract-question")
    client_page.get_by_role("button", name="End the contract").click()
    expect(client_page.get_by_text("The contract has ended.")).to_be_visible()
    expect(client_page.get_by_role("link", name="Leave or read feedback")).to_be_visible()
    screenshot(client_page, "quiet-contract-ended")
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.ENDED

    # the freelancer's copy of the question now says there is nothing to answer
    log_in(freelancer_page, contract.freelancer.email, password)
    freelancer_page.goto(f"/contracts/{contract.pk}/quiet/")
    expect(freelancer_page.get_by_text("Nothing to answer")).to_be_visible()
    expect(freelancer_page.get_by_role("button", name="Keep it open")).to_have_count(0)
