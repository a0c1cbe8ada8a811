"""The one way a milestone changes state: lock, check, transition, save, audit."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from contracts.models import Contract, Milestone, Submission
from contracts.rules import MilestoneTerms, check_milestone_amount
from marketplace.models import User
from marketplace.money import platform_fee

from .record import _record, _refresh_notice

# --- milestones ---


def _lock_milestone(milestone_id: int) -> Milestone:
    # Lock the milestone and read its contract in the same statement; `of=("self",)` keeps
    # the lock on the milestone row only (PostgreSQL refuses FOR UPDATE on nullable joins).
    return Milestone.objects.select_for_update(of=("self",)).select_related("contract").get(pk=milestone_id)


def milestone_transition(
    *,
    milestone_id: int,
    actor: User | None,
    name: str,
    note: str = "",
    authorised: bool = False,
    moves_money: bool = False,
) -> Milestone:
    """Run the named transition for `actor` (None: the system, e.g. the review-period sweep).

    `authorised=True` is for services that have already authorised the actor for a larger
    action (ending the contract, applying an agreed change); the actor is still recorded.
    `moves_money=True` is for the escrow-backed services below, which write the ledger entry in the
    same transaction; any other caller is refused a money transition.

    Raises PermissionDenied when the actor may not take it, TransitionNotAllowed when the
    milestone's state or a condition does not allow it, ValidationError for a missing note.
    Money-moving callers wrap this in their own transaction, so that the state change and
    the ledger entry commit together or not at all.
    """
    with transaction.atomic():
        milestone = _lock_milestone(milestone_id)
        method = getattr(milestone, name, None)
        if method is None or not hasattr(method, "_django_fsm"):
            raise TransitionNotAllowed(f"Unknown action {name!r}.")
        if name in Milestone.MONEY_TRANSITIONS and not moves_money:
            raise TransitionNotAllowed("Money moves only through the payment pages.")
        contract = milestone.contract
        check = actor is not None and not authorised
        if check and contract.role_of(actor) is None and not actor.is_staff:
            raise PermissionDenied("You are not a party to this contract.")
        meta = method._django_fsm.get_transition(milestone.state)
        label = Milestone.action_label(name).lower()
        if meta is None:
            state = milestone.get_state_display().lower()
            raise TransitionNotAllowed(f"This milestone is {state}: you can't {label} now.")
        if check and not meta.has_perm(milestone, actor):  # who may, checked before when (conditions)
            raise PermissionDenied(f"You are not the one who can {label} on this milestone.")
        if not can_proceed(method):
            raise TransitionNotAllowed(_refusal(milestone, name, label))
        if meta.custom.get("note_required") and not note.strip():
            raise ValidationError("Please add a note explaining this.")
        from_state = milestone.state
        method()
        milestone.state_changed_at = timezone.now()
        milestone.save()
        if from_state == Milestone.State.SUBMITTED:
            _close_submission(milestone, automatic=actor is None)
        _record(
            contract=contract,
            milestone=milestone,
            actor=actor,
            kind=name,
            from_state=from_state,
            to_state=milestone.state,
            note=note.strip(),
        )
        _refresh_notice(contract)
        return milestone


# What happens to the submission under review when the milestone leaves `submitted`.
SUBMISSION_OUTCOME = {
    Milestone.State.FUNDED: Submission.Status.WITHDRAWN,
    Milestone.State.CHANGES_REQUESTED: Submission.Status.CHANGES_REQUESTED,
    Milestone.State.APPROVED: Submission.Status.APPROVED,
    Milestone.State.REFUNDED: Submission.Status.CLOSED,
    Milestone.State.DISPUTED: Submission.Status.CLOSED,
}


def _close_submission(milestone: Milestone, *, automatic: bool) -> None:
    """Stop the review clock: the submission is answered, withdrawn or overtaken (caller holds the lock)."""
    status = SUBMISSION_OUTCOME[milestone.state]
    if status == Submission.Status.APPROVED and automatic:
        status = Submission.Status.AUTO_APPROVED
    changes = {"status": status, "closed_at": timezone.now()}
    if status == Submission.Status.WITHDRAWN:
        changes["review_deadline"] = None  # withdrawn: the deadline is cleared
    milestone.submissions.filter(status=Submission.Status.PENDING).update(**changes)


def _refusal(milestone: Milestone, name: str, label: str) -> str:
    """Why a condition stops a transition, in words the user can act on."""
    contract = milestone.contract
    if not contract.is_active:
        return "This contract has ended."
    if name == "request_changes":
        return (
            f"All {contract.revision_rounds} revision round(s) agreed in the contract have been used. "
            "You can approve the work or open a dispute."
        )
    return f"You can't {label} now."


def _lock_contract(contract_id: int, actor: User) -> Contract:
    contract = Contract.objects.select_for_update().get(pk=contract_id)
    if contract.role_of(actor) is None:
        raise PermissionDenied("You are not a party to this contract.")
    if not contract.is_active:
        raise ValidationError("This contract has ended; its milestones can no longer change.")
    return contract


def _next_position(contract: Contract) -> int:
    return (contract.milestones.aggregate(last=Max("position"))["last"] or 0) + 1


def _create_milestone(*, contract: Contract, terms: MilestoneTerms) -> Milestone:
    check_milestone_amount(terms.amount)
    return Milestone.objects.create(
        contract=contract,
        position=_next_position(contract),
        title=terms.title,
        deliverable=terms.deliverable,
        due_date=terms.due_date,
        amount=terms.amount,
        fee=platform_fee(terms.amount, contract.fee_percent),
    )
