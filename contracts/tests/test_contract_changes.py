"""Changes to future milestones during a contract, with the other party's consent, and ending a contract."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from contracts import policy, services
from contracts.models import Contract, ContractEvent, Milestone, MilestoneChange
from contracts.rules import MilestoneTerms
from contracts.tests.factories import make_contract, set_state

pytestmark = pytest.mark.django_db
S = Milestone.State


def new_terms(title="Extra page", amount="80.00"):
    return MilestoneTerms(
        title=title,
        deliverable="One more page",
        due_date=timezone.localdate() + timedelta(days=30),
        amount=Decimal(amount),
    )


@pytest.fixture
def contract():
    return make_contract(count=3)


def test_client_adds_a_milestone_directly(contract):
    milestone = services.milestone_add(contract_id=contract.pk, actor=contract.client, terms=new_terms())

    assert isinstance(milestone, Milestone)
    assert (milestone.position, milestone.state, milestone.fee) == (4, S.DRAFT, Decimal("8.00"))
    assert ContractEvent.objects.filter(kind="milestone_added", milestone=milestone, actor=contract.client).exists()


def test_freelancer_proposes_a_milestone_and_it_is_added_when_the_client_accepts(contract):
    change = services.milestone_add(contract_id=contract.pk, actor=contract.freelancer, terms=new_terms())
    assert isinstance(change, MilestoneChange)
    assert contract.milestones.count() == 3

    with pytest.raises(PermissionDenied):
        services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)
    services.milestone_change_decide(change_id=change.pk, actor=contract.client, accept=True)

    change.refresh_from_db()
    assert (change.status, change.decided_by) == (MilestoneChange.Status.ACCEPTED, contract.client)
    assert contract.milestones.get(position=4).title == "Extra page"


def test_a_proposal_left_unanswered_past_its_delivery_date_can_be_declined_not_accepted(contract, client):
    """Found by the property test: the client accepted a proposed milestone three weeks late, the policy allowed
    it and the service then refused the date as past (a 400 with a message about a date nobody had typed)."""
    change = services.milestone_add(contract_id=contract.pk, actor=contract.freelancer, terms=new_terms())
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        verdict = policy.change_may_accept(contract.client, change)
        assert (bool(verdict), verdict.kind, verdict.code) == (False, "when", "due_date_passed")
        with pytest.raises(TransitionNotAllowed, match="has passed"):
            services.milestone_change_decide(change_id=change.pk, actor=contract.client, accept=True)
        assert contract.milestones.count() == 3

        client.force_login(contract.client)
        page = client.get(contract.get_absolute_url()).content.decode()
        assert "has passed. Decline this proposal" in page
        assert f"/changes/{change.pk}/accept/" not in page
        assert f"/changes/{change.pk}/decline/" in page
        services.milestone_change_decide(change_id=change.pk, actor=contract.client, accept=False)
    assert MilestoneChange.objects.get().status == MilestoneChange.Status.REJECTED


def test_an_edit_applies_only_with_consent(contract):
    first = contract.milestones.get(position=1)
    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.client, kind="edit", milestone_id=first.pk, terms=new_terms("New", "55")
    )
    first.refresh_from_db()
    assert first.title == "Milestone 1"

    services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=False)
    first.refresh_from_db()
    assert first.title == "Milestone 1"
    assert MilestoneChange.objects.get().status == MilestoneChange.Status.REJECTED

    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.client, kind="edit", milestone_id=first.pk, terms=new_terms("New", "55")
    )
    services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)
    first.refresh_from_db()
    assert (first.title, first.amount, first.fee) == ("New", Decimal("55.00"), Decimal("5.50"))


def test_removal_cancels_the_milestone_with_the_deciders_name_on_record(contract):
    last = contract.milestones.get(position=3)
    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.freelancer, kind="delete", milestone_id=last.pk
    )

    services.milestone_change_decide(change_id=change.pk, actor=contract.client, accept=True)

    last.refresh_from_db()
    assert last.state == S.CANCELLED
    assert ContractEvent.objects.filter(kind="cancel", milestone=last, actor=contract.client).exists()


def test_reorder_swaps_future_milestones(contract):
    m1, m2, m3 = contract.milestones.order_by("position")
    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.client, kind="reorder", order=[m3.pk, m1.pk, m2.pk]
    )
    services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)

    assert list(contract.milestones.order_by("position").values_list("pk", flat=True)) == [m3.pk, m1.pk, m2.pk]


def test_reorder_must_list_every_future_milestone(contract):
    m1, m2, _m3 = contract.milestones.order_by("position")

    with pytest.raises(ValidationError, match="every future milestone"):
        services.milestone_change_propose(
            contract_id=contract.pk, actor=contract.client, kind="reorder", order=[m2.pk, m1.pk]
        )


@pytest.mark.parametrize("kind", ["edit", "delete"])
def test_funded_milestones_are_locked(contract, kind):
    first = set_state(contract.milestones.get(position=1), S.FUNDED)

    with pytest.raises(TransitionNotAllowed, match="is funded: you can.t propose"):
        services.milestone_change_propose(
            contract_id=contract.pk, actor=contract.client, kind=kind, milestone_id=first.pk, terms=new_terms()
        )


def test_a_change_proposed_before_funding_cannot_apply_after_it(contract):
    first = contract.milestones.get(position=1)
    change = services.milestone_change_propose(
        contract_id=contract.pk, actor=contract.client, kind="edit", milestone_id=first.pk, terms=new_terms()
    )
    set_state(first, S.FUNDED)

    with pytest.raises(TransitionNotAllowed, match="is funded: you can.t propose"):
        services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)
    first.refresh_from_db()
    assert first.title == "Milestone 1"


def test_only_the_proposer_withdraws_a_proposal(contract):
    change = services.milestone_add(contract_id=contract.pk, actor=contract.freelancer, terms=new_terms())

    with pytest.raises(PermissionDenied):
        services.milestone_change_withdraw(change_id=change.pk, actor=contract.client)
    services.milestone_change_withdraw(change_id=change.pk, actor=contract.freelancer)
    with pytest.raises(ValidationError, match="already been answered"):
        services.milestone_change_decide(change_id=change.pk, actor=contract.client, accept=True)


@pytest.mark.parametrize("state", [S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED, S.DISPUTED])
def test_contract_cannot_end_while_money_is_in_escrow(contract, state):
    set_state(contract.milestones.get(position=2), state)

    with pytest.raises(ValidationError, match="before the contract can end"):
        services.contract_end(contract_id=contract.pk, actor=contract.client)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.ACTIVE


@pytest.mark.parametrize("who", ["client", "freelancer"])
def test_either_party_ends_a_contract_and_future_milestones_are_cancelled(contract, who):
    set_state(contract.milestones.get(position=1), S.RELEASED)
    pending = services.milestone_add(contract_id=contract.pk, actor=contract.freelancer, terms=new_terms())
    actor = getattr(contract, who)

    services.contract_end(contract_id=contract.pk, actor=actor)

    contract.refresh_from_db()
    assert (contract.status, contract.ended_by) == (Contract.Status.ENDED, actor)
    assert sorted(contract.milestones.values_list("state", flat=True)) == ["cancelled", "cancelled", "released"]
    pending.refresh_from_db()
    assert pending.status == MilestoneChange.Status.OBSOLETE
    with pytest.raises(ValidationError, match="ended"):
        services.milestone_add(contract_id=contract.pk, actor=contract.client, terms=new_terms())
