"""Every transition × every role: allowed ones change the state and write an audit row;
refused ones raise and change nothing."""

import pytest
from django.core.exceptions import ValidationError
from django_fsm import TransitionNotAllowed

from contracts import policy
from contracts.models import Milestone
from contracts.tests.factories import act, fund_milestones, make_contract, set_state
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
S = Milestone.State

# Every action × state × role is walked through the policy, the pages and the actions in test_policy_walk.py.


@pytest.fixture
def contract():
    return make_contract(count=1)


def test_state_field_cannot_be_set_by_hand(contract):
    milestone = contract.milestones.get()

    with AttributeError_or_fsm():
        milestone.state = S.RELEASED


class AttributeError_or_fsm:  # noqa: N801 - a tiny context manager for the protected-field check
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        assert exc_type is AttributeError, "FSMField(protected=True) must refuse direct assignment"
        return True


def test_request_changes_is_capped_by_the_agreed_revision_rounds(contract):
    milestone = contract.milestones.get()  # the contract allows 2 rounds
    client, freelancer = contract.client, contract.freelancer
    fund_milestones(contract, milestone)
    act(milestone_id=milestone.pk, actor=freelancer, name="submit")
    for _ in range(2):
        act(milestone_id=milestone.pk, actor=client, name="request_changes", note="Fix it")
        act(milestone_id=milestone.pk, actor=freelancer, name="submit")

    with pytest.raises(TransitionNotAllowed, match="All 2 revision round"):
        act(milestone_id=milestone.pk, actor=client, name="request_changes", note="Again")
    # approving stays available
    approved = act(milestone_id=milestone.pk, actor=client, name="approve")
    assert approved.state == S.RELEASED


@pytest.mark.parametrize("name", ["request_changes", "dispute"])
def test_transitions_that_need_a_note_refuse_a_blank_one(contract, name):
    milestone = set_state(contract.milestones.get(), S.SUBMITTED)

    with pytest.raises(ValidationError, match="note"):
        act(milestone_id=milestone.pk, actor=contract.client, name=name, note="   ")
    milestone.refresh_from_db()
    assert milestone.state == S.SUBMITTED


def test_no_work_is_submitted_on_an_ended_contract(contract):
    milestone = set_state(contract.milestones.get(), S.FUNDED)
    contract.status = contract.Status.ENDED
    contract.save()

    with pytest.raises(TransitionNotAllowed, match="ended"):
        act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")


def test_unknown_action_is_refused(contract):
    milestone = contract.milestones.get()

    assert not policy.milestone_may(contract.client, milestone, "delete")
    with pytest.raises(ValueError):
        act(milestone_id=milestone.pk, actor=contract.client, name="save")


def test_available_actions_are_exactly_what_the_user_may_take(contract):
    milestone = set_state(contract.milestones.get(), S.SUBMITTED)

    def names(user):
        return sorted(a.name for a in policy.milestone_actions(user, milestone, policy.MILESTONE_ACTIONS))

    assert names(contract.client) == ["approve", "dispute", "release_part", "request_changes"]
    assert names(contract.freelancer) == ["dispute", "refund", "withdraw_submission"]
    assert names(UserFactory()) == []
    assert names(UserFactory(is_staff=True)) == []
    assert names(policy.SYSTEM) == ["approve"]
