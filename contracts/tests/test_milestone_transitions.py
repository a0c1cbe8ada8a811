"""Every transition × every role: allowed ones change the state and write an audit row;
refused ones raise and change nothing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_fsm import TransitionNotAllowed

from contracts import services
from contracts.models import ContractEvent, Milestone
from contracts.tests.factories import make_contract, set_state
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
S = Milestone.State

# transition -> (a source state, the target, the only roles allowed, note required)
TRANSITIONS = {
    "fund": (S.DRAFT, S.FUNDED, {"client"}),
    "submit": (S.FUNDED, S.SUBMITTED, {"freelancer"}),
    "withdraw_submission": (S.SUBMITTED, S.FUNDED, {"freelancer"}),
    "request_changes": (S.SUBMITTED, S.CHANGES_REQUESTED, {"client"}),
    "approve": (S.SUBMITTED, S.APPROVED, {"client"}),
    "release": (S.APPROVED, S.RELEASED, {"client"}),
    "refund": (S.FUNDED, S.REFUNDED, {"freelancer"}),
    "cancel": (S.DRAFT, S.CANCELLED, {"staff"}),
    "dispute": (S.SUBMITTED, S.DISPUTED, {"client", "freelancer"}),
    "resolve_release": (S.DISPUTED, S.RELEASED, {"staff"}),
    "resolve_refund": (S.DISPUTED, S.REFUNDED, {"staff"}),
}
ROLES = ["client", "freelancer", "staff", "stranger"]


@pytest.fixture
def contract():
    return make_contract(count=1)


def actor_for(role, contract):
    return {
        "client": contract.client,
        "freelancer": contract.freelancer,
        "staff": UserFactory(is_staff=True),
        "stranger": UserFactory(),
    }[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", TRANSITIONS)
def test_transition_by_role(contract, name, role):
    source, target, allowed = TRANSITIONS[name]
    milestone = set_state(contract.milestones.get(), source)
    actor = actor_for(role, contract)
    events_before = ContractEvent.objects.count()

    if role in allowed:
        result = services.milestone_transition(
            milestone_id=milestone.pk, actor=actor, name=name, note="Because.", moves_money=True
        )
        assert result.state == target
        event = ContractEvent.objects.latest("id")
        assert (event.actor, event.kind, event.from_state, event.to_state) == (actor, name, source, target)
        assert event.note == "Because."
    else:
        with pytest.raises(PermissionDenied):
            services.milestone_transition(
                milestone_id=milestone.pk, actor=actor, name=name, note="Because.", moves_money=True
            )
        milestone.refresh_from_db()
        assert milestone.state == source
        assert ContractEvent.objects.count() == events_before


@pytest.mark.parametrize("name", TRANSITIONS)
def test_transition_from_a_wrong_state_is_refused_and_changes_nothing(contract, name):
    source, _target, allowed = TRANSITIONS[name]
    wrong = S.RELEASED if source != S.RELEASED else S.DRAFT
    milestone = set_state(contract.milestones.get(), wrong)
    role = sorted(allowed)[0]

    with pytest.raises(TransitionNotAllowed, match="can't"):
        services.milestone_transition(
            milestone_id=milestone.pk, actor=actor_for(role, contract), name=name, note="x", moves_money=True
        )
    milestone.refresh_from_db()
    assert milestone.state == wrong


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
    milestone = set_state(milestone, S.SUBMITTED)
    for _ in range(2):
        services.milestone_transition(milestone_id=milestone.pk, actor=client, name="request_changes", note="Fix it")
        services.milestone_transition(milestone_id=milestone.pk, actor=freelancer, name="submit")

    with pytest.raises(TransitionNotAllowed, match="All 2 revision round"):
        services.milestone_transition(milestone_id=milestone.pk, actor=client, name="request_changes", note="Again")
    # approving stays available
    approved = services.milestone_transition(milestone_id=milestone.pk, actor=client, name="approve", moves_money=True)
    assert approved.state == S.APPROVED


@pytest.mark.parametrize("name", ["request_changes", "dispute"])
def test_transitions_that_need_a_note_refuse_a_blank_one(contract, name):
    milestone = set_state(contract.milestones.get(), S.SUBMITTED)

    with pytest.raises(ValidationError, match="note"):
        services.milestone_transition(milestone_id=milestone.pk, actor=contract.client, name=name, note="   ")
    milestone.refresh_from_db()
    assert milestone.state == S.SUBMITTED


def test_no_work_is_submitted_on_an_ended_contract(contract):
    milestone = set_state(contract.milestones.get(), S.FUNDED)
    contract.status = contract.Status.ENDED
    contract.save()

    with pytest.raises(TransitionNotAllowed, match="ended"):
        services.milestone_transition(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")


@pytest.mark.parametrize("name", sorted(Milestone.MONEY_TRANSITIONS))
def test_money_transitions_run_only_through_the_escrow_services(contract, name):
    source, _target, allowed = TRANSITIONS[name]
    milestone = set_state(contract.milestones.get(), source)

    with pytest.raises(TransitionNotAllowed, match="payment pages"):
        services.milestone_transition(
            milestone_id=milestone.pk, actor=actor_for(sorted(allowed)[0], contract), name=name
        )
    milestone.refresh_from_db()
    assert milestone.state == source


def test_unknown_action_is_refused(contract):
    milestone = contract.milestones.get()

    with pytest.raises(TransitionNotAllowed):
        services.milestone_transition(milestone_id=milestone.pk, actor=contract.client, name="delete")
    with pytest.raises(TransitionNotAllowed):
        services.milestone_transition(milestone_id=milestone.pk, actor=contract.client, name="save")


def test_available_actions_are_exactly_what_the_user_may_take(contract):
    milestone = set_state(contract.milestones.get(), S.SUBMITTED)

    def names(user):
        return sorted(t.name for t in milestone.get_available_user_state_transitions(user))

    assert names(contract.client) == ["approve", "dispute", "request_changes"]
    assert names(contract.freelancer) == ["dispute", "refund", "withdraw_submission"]
    assert names(UserFactory()) == []
