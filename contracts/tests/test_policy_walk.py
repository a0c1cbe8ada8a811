"""Every milestone action × every milestone state × {client, freelancer, outsider, staff, system}.

For each, the policy's verdict, the buttons the page shows, the GET of the action's page and the POST all
agree: allowed -> the button is there, the page answers 200 and the POST changes something; refused -> no
button, the same refusal (status and reason) on GET and POST, nothing changed, never a 500.
"""

from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from contracts import policy, services
from contracts.models import ContractEvent, Milestone, MilestoneChange
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.models import PaymentIntent
from escrow.selectors import hold_balance
from escrow.tests.factories import new_key
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
S = Milestone.State

# Every state a milestone can rest in (approved is passed through inside one transaction, never at rest).
STATES = [S.DRAFT, S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED, S.RELEASED, S.REFUNDED, S.CANCELLED, S.DISPUTED]
ROLES = ["client", "freelancer", "outsider", "staff", "system"]
STATUS = {"who": 403, "when": 409, "input": 400}


def milestone_in(state):
    """A one-milestone contract whose milestone reached `state` through the real actions."""
    contract = make_contract(count=1, amount="100.00")
    milestone = contract.milestones.get()
    client, freelancer = contract.client, contract.freelancer
    if state == S.CANCELLED:
        act(milestone_id=milestone.pk, actor=UserFactory(is_staff=True), name="cancel")
    if state not in (S.DRAFT, S.CANCELLED):
        fund_milestones(contract, milestone)
    if state in (S.SUBMITTED, S.CHANGES_REQUESTED, S.RELEASED, S.DISPUTED):
        act(milestone_id=milestone.pk, actor=freelancer, name="submit")
    if state == S.CHANGES_REQUESTED:
        act(milestone_id=milestone.pk, actor=client, name="request_changes", note="More contrast")
    if state == S.RELEASED:
        act(milestone_id=milestone.pk, actor=client, name="approve")
    if state == S.REFUNDED:
        act(milestone_id=milestone.pk, actor=freelancer, name="refund")
    if state == S.DISPUTED:
        act(milestone_id=milestone.pk, actor=client, name="dispute", note="Not what we agreed")
    milestone = Milestone.objects.select_related("contract").get(pk=milestone.pk)
    assert milestone.state == state
    return contract, milestone


def page_and_post(contract, milestone, name):
    """(URL of the action's page or None when it is POST-only, URL to POST to, POST data)."""
    args = [contract.pk, milestone.pk]
    held = hold_balance(milestone.hold_reference)
    if name == "fund":
        url = reverse("contracts:milestones_fund", args=[contract.pk])
        data = {"milestones": [milestone.pk], "idempotency_key": new_key()}
        return f"{url}?milestone={milestone.pk}", url, data  # the card goes to the provider's page
    if name == "submit":
        url = reverse("contracts:milestone_submit", args=args)
        return url, url, {"message": "Here is the work", "links": ""}
    if name == "approve":
        url = reverse("contracts:milestone_approve", args=args)
        return url, url, {"idempotency_key": new_key(), "note": ""}
    if name == "refund":
        url = reverse("contracts:milestone_refund", args=args)
        return url, url, {"amount": str(held or Decimal("1.00"))}
    if name == "request_refund":
        return None, reverse("contracts:milestone_refund_request", args=args), {}
    if name == "propose_edit":
        url = reverse("contracts:milestone_edit", args=args)
        due = (timezone.localdate() + timezone.timedelta(days=30)).isoformat()
        return url, url, {"title": "Renamed", "deliverable": "Same", "due_date": due, "amount": "120.00"}
    if name == "propose_remove":
        return None, reverse("contracts:milestone_remove", args=args), {}
    url = reverse("contracts:milestone_action", args=[*args, name])
    return url, url, {"note": "Because of the walk"}


PAGE_ACTIONS = [
    "fund",
    "submit",
    "approve",
    "request_changes",
    "withdraw_submission",
    "refund",
    "request_refund",
    "dispute",
    "propose_edit",
    "propose_remove",
]


def footprint():
    # A funding leaves a started payment (the milestone is funded when the provider confirms).
    return (ContractEvent.objects.count(), MilestoneChange.objects.count(), PaymentIntent.objects.count())


def actor_for(role, contract):
    return {
        "client": contract.client,
        "freelancer": contract.freelancer,
        "outsider": UserFactory(),
        "staff": UserFactory(is_staff=True, is_superuser=True),
        "system": policy.SYSTEM,
    }[role]


@pytest.mark.parametrize("state", STATES)
def test_policy_buttons_pages_and_actions_agree(client, state):
    contract, milestone = milestone_in(state)
    actors = {role: actor_for(role, contract) for role in ROLES}

    for role, actor in actors.items():
        if role == "system":
            allowed = [n for n in policy.MILESTONE_ACTIONS if policy.milestone_may(actor, milestone, n)]
            assert allowed == (["approve"] if state == S.SUBMITTED else []), state
            continue
        client.force_login(actor)
        contract_page = client.get(contract.get_absolute_url())
        if role in ("outsider", "staff"):
            assert contract_page.status_code == 404
        else:
            assert contract_page.status_code == 200
        body = contract_page.content.decode()

        for name in PAGE_ACTIONS:
            verdict = policy.milestone_may(actor, milestone, name)
            where = f"{name} by {role} on {state}"
            page_url, post_url, data = page_and_post(contract, milestone, name)
            if role in ("client", "freelancer"):
                assert (f'data-action="{name}"' in body) == bool(verdict), where
            else:
                assert not verdict, where  # outsiders and staff take no party action ...
            expected = 200 if verdict else 404 if role in ("outsider", "staff") else STATUS[verdict.kind]
            if page_url is not None:
                response = client.get(page_url)
                assert response.status_code == expected, where
                if not verdict and expected != 404:
                    assert escape(str(verdict.reason)) in response.content.decode(), where
            before = footprint()
            savepoint = transaction.savepoint()
            response = client.post(post_url, data)
            after = footprint()
            transaction.savepoint_rollback(savepoint)
            if verdict:
                assert response.status_code == 302, (where, response.status_code)
                assert after != before, where
            else:
                assert response.status_code == (404 if role in ("outsider", "staff") else STATUS[verdict.kind]), where
                assert after == before, where
                if expected != 404:
                    assert escape(str(verdict.reason)) in response.content.decode(), where
            assert Milestone.objects.get(pk=milestone.pk).state == state  # rolled back (or refused)


@pytest.mark.parametrize("state", STATES)
def test_staff_actions_in_admin_follow_the_policy(client, state):
    contract, milestone = milestone_in(state)
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    change_page = client.get(reverse("admin:contracts_milestone_change", args=[milestone.pk])).content.decode()

    for name in policy.STAFF_ACTIONS:
        verdict = policy.milestone_may(staff, milestone, name)
        for party in (contract.client, contract.freelancer):
            assert not policy.milestone_may(party, milestone, name)
        url = reverse("admin:contracts_milestone_action", args=[milestone.pk, name])
        assert (f'data-action="{name}"' in change_page) == bool(verdict), name
        page = client.get(url)
        assert page.status_code == (200 if verdict else 302), name
        before = footprint()
        savepoint = transaction.savepoint()
        client.post(url, {"note": "Decided after reading the record."})
        after = footprint()
        moved = Milestone.objects.get(pk=milestone.pk).state != state
        transaction.savepoint_rollback(savepoint)
        assert moved == bool(verdict), name
        assert (after != before) == bool(verdict), name


def test_the_system_approves_only_through_the_sweep_when_the_period_ends():
    contract, milestone = milestone_in(S.SUBMITTED)

    assert services.release_overdue() == (0, False)  # not overdue yet: the sweep leaves it alone
    milestone.submissions.update(review_deadline=timezone.now() - timezone.timedelta(seconds=1))
    assert services.release_overdue() == (1, False)
    assert ContractEvent.objects.filter(kind="release", actor=None).count() == 1
