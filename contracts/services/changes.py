"""Changes to future milestones by consent, a client's refund request, and ending a contract."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from contracts import policy
from contracts.events import EventKind
from contracts.models import Contract, Milestone, MilestoneChange
from contracts.rules import MilestoneTerms, check_milestone_terms
from escrow.selectors import hold_balance
from marketplace.models import User
from marketplace.money import platform_fee

from .money import refund_held
from .quiet import quiet_facts
from .record import as_user, lock_contract, lock_milestone, next_position, record, run_transition

S = Milestone.State
PROPOSED = {
    MilestoneChange.Kind.ADD: EventKind.CHANGE_PROPOSED_ADD,
    MilestoneChange.Kind.EDIT: EventKind.CHANGE_PROPOSED_EDIT,
    MilestoneChange.Kind.DELETE: EventKind.CHANGE_PROPOSED_DELETE,
    MilestoneChange.Kind.REORDER: EventKind.CHANGE_PROPOSED_REORDER,
    MilestoneChange.Kind.REFUND: EventKind.CHANGE_PROPOSED_REFUND,
}


def _create_milestone(*, contract: Contract, terms: MilestoneTerms, actor) -> Milestone:
    check_milestone_terms(terms)
    milestone = Milestone.objects.create(
        contract=contract,
        position=next_position(contract),
        title=terms.title,
        deliverable=terms.deliverable,
        due_date=terms.due_date,
        amount=terms.amount,
        fee=platform_fee(terms.amount, contract.fee_percent),
    )
    record(
        contract=contract,
        milestone=milestone,
        actor=actor,
        kind=EventKind.MILESTONE_ADDED,
        to_state=milestone.state,
        data={"amount": milestone.amount},
    )
    return milestone


@transaction.atomic
def milestone_add(*, contract_id: int, actor: User, terms: MilestoneTerms) -> Milestone | MilestoneChange:
    """The client adds a milestone directly; a freelancer's addition is a proposal the client accepts."""
    contract = lock_contract(contract_id)
    policy.contract_may_add_milestone(actor, contract, milestone_count=contract.milestones.count()).enforce()
    check_milestone_terms(terms)
    if policy.contract_role(contract, actor) == "freelancer":
        return _propose(contract=contract, actor=actor, kind=MilestoneChange.Kind.ADD, payload=terms.as_payload())
    return _create_milestone(contract=contract, terms=terms, actor=actor)


def _propose(*, contract, actor, kind, payload, milestone=None, data=None) -> MilestoneChange:
    change = MilestoneChange.objects.create(
        contract=contract, kind=kind, milestone=milestone, payload=payload, proposed_by=actor
    )
    data = data or ({"amount": payload["amount"]} if "amount" in payload else {})
    record(contract=contract, milestone=milestone, actor=actor, kind=PROPOSED[kind], data=data)
    return change


def _draft_milestone(contract: Contract, milestone_id: int | None, actor, action: str) -> Milestone:
    """A future milestone of this contract, locked, that `actor` may propose `action` on."""
    milestone = contract.milestones.select_for_update(of=("self",)).filter(pk=milestone_id).first()
    if milestone is None:
        raise ValidationError("That milestone is not part of this contract.")
    milestone.contract = contract
    policy.milestone_may(actor, milestone, action).enforce()
    return milestone


def _check_order(contract: Contract, order: list[int]) -> list[int]:
    drafts = list(contract.milestones.filter(state=S.DRAFT).values_list("pk", flat=True))
    if sorted(order or []) != sorted(drafts):
        raise ValidationError("The new order must list every future milestone exactly once.")
    return list(order)


@transaction.atomic
def milestone_change_propose(
    *,
    contract_id: int,
    actor: User,
    kind: str,
    milestone_id: int | None = None,
    terms: MilestoneTerms | None = None,
    order: list[int] | None = None,
) -> MilestoneChange:
    """Propose editing, removing or reordering future milestones; applied when the other party accepts."""
    contract = lock_contract(contract_id)
    policy.contract_may_change(actor, contract).enforce()
    if kind == MilestoneChange.Kind.EDIT:
        milestone = _draft_milestone(contract, milestone_id, actor, "propose_edit")
        check_milestone_terms(terms)
        return _propose(contract=contract, actor=actor, kind=kind, payload=terms.as_payload(), milestone=milestone)
    if kind == MilestoneChange.Kind.DELETE:
        milestone = _draft_milestone(contract, milestone_id, actor, "propose_remove")
        return _propose(contract=contract, actor=actor, kind=kind, payload={}, milestone=milestone)
    if kind == MilestoneChange.Kind.REORDER:
        payload = {"order": _check_order(contract, order)}
        return _propose(contract=contract, actor=actor, kind=kind, payload=payload)
    if kind == MilestoneChange.Kind.ADD:
        return milestone_add(contract_id=contract.pk, actor=actor, terms=terms)
    raise ValidationError(f"Unknown kind of change {kind!r}.")


@transaction.atomic
def milestone_refund_request(*, milestone_id: int, actor: User) -> MilestoneChange:
    """The client asks for a funded milestone's money back (e.g. to end the contract); the freelancer agrees."""
    contract = lock_contract(Milestone.objects.values_list("contract_id", flat=True).get(pk=milestone_id))
    milestone = lock_milestone(milestone_id)  # contract first, then the milestone: the one lock order
    milestone.contract = contract
    policy.milestone_may(actor, milestone, "request_refund").enforce()
    held = hold_balance(milestone.hold_reference)
    return _propose(
        contract=contract,
        actor=actor,
        kind=MilestoneChange.Kind.REFUND,
        payload={"amount": str(held)},
        milestone=milestone,
    )


def _apply_change(change: MilestoneChange, actor: User) -> None:
    contract = change.contract
    if change.kind == MilestoneChange.Kind.ADD:
        _create_milestone(contract=contract, terms=MilestoneTerms.from_payload(change.payload), actor=actor)
    elif change.kind == MilestoneChange.Kind.EDIT:
        milestone = _draft_milestone(contract, change.milestone_id, actor, "propose_edit")
        terms = MilestoneTerms.from_payload(change.payload)
        check_milestone_terms(terms)
        milestone.title, milestone.deliverable = terms.title, terms.deliverable
        milestone.due_date, milestone.amount = terms.due_date, terms.amount
        milestone.fee = platform_fee(terms.amount, contract.fee_percent)
        milestone.save(update_fields=["title", "deliverable", "due_date", "amount", "fee"])
        record(
            contract=contract,
            milestone=milestone,
            actor=actor,
            kind=EventKind.MILESTONE_EDITED,
            data={"amount": milestone.amount},
        )
    elif change.kind == MilestoneChange.Kind.DELETE:
        milestone = _draft_milestone(contract, change.milestone_id, actor, "propose_remove")
        run_transition(milestone, actor=actor, name="cancel", note="Removed by agreement.")
    elif change.kind == MilestoneChange.Kind.REFUND:
        # The freelancer agreeing is the freelancer refunding: the same rule as refunding directly.
        milestone = lock_milestone(change.milestone_id)
        policy.milestone_may(actor, milestone, "refund").enforce()
        refund_held(milestone, actor=actor)
    elif change.kind == MilestoneChange.Kind.REORDER:
        drafts = {
            m.pk: m for m in contract.milestones.select_for_update(of=("self",)).filter(state=S.DRAFT).order_by("id")
        }
        order = change.payload["order"]
        if sorted(order) != sorted(drafts):
            raise ValidationError("The milestones changed since this order was proposed.")
        # Draft milestones take the positions after every milestone that is already under way.
        first = (contract.milestones.exclude(state=S.DRAFT).aggregate(last=Max("position"))["last"] or 0) + 1
        for offset, pk in enumerate(order):
            drafts[pk].position = first + offset
        Milestone.objects.bulk_update(drafts.values(), ["position"])
        record(contract=contract, actor=actor, kind=EventKind.MILESTONES_REORDERED)


def _lock_change(change_id: int) -> MilestoneChange:
    change = MilestoneChange.objects.select_related("contract").get(pk=change_id)
    change.contract = lock_contract(change.contract_id)  # contract first: the one lock order
    locked = MilestoneChange.objects.select_for_update(of=("self",)).get(pk=change_id)
    locked.contract = change.contract
    return locked


def _close_change(change: MilestoneChange, actor: User, status: str, kind: EventKind) -> MilestoneChange:
    change.status = status
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.save(update_fields=["status", "decided_by", "decided_at"])
    record(
        contract=change.contract,
        milestone=change.milestone,
        actor=actor,
        kind=kind,
        data={"change": change.get_kind_display()},
    )
    return change


@transaction.atomic
def milestone_change_decide(*, change_id: int, actor: User, accept: bool) -> MilestoneChange:
    """The other party accepts (the change is applied) or declines a proposed change."""
    change = _lock_change(change_id)
    (policy.change_may_accept if accept else policy.change_may_answer)(actor, change).enforce()
    if accept:
        _apply_change(change, actor)
        return _close_change(change, actor, MilestoneChange.Status.ACCEPTED, EventKind.CHANGE_ACCEPTED)
    return _close_change(change, actor, MilestoneChange.Status.REJECTED, EventKind.CHANGE_DECLINED)


@transaction.atomic
def milestone_change_withdraw(*, change_id: int, actor: User) -> MilestoneChange:
    change = _lock_change(change_id)
    policy.change_may_withdraw(actor, change).enforce()
    return _close_change(change, actor, MilestoneChange.Status.WITHDRAWN, EventKind.CHANGE_WITHDRAWN)


# --- contracts ---


@transaction.atomic
def contract_end(*, contract_id: int, actor) -> Contract:
    """Either party ends a contract when no money is in escrow; future milestones are cancelled. The
    platform (SYSTEM) ends one that stayed quiet after both parties were asked (contracts.services.quiet)."""
    contract = lock_contract(contract_id)
    open_money = contract.milestones.filter(state__in=Milestone.OPEN_MONEY_STATES).count()
    quiet = quiet_facts(contract) if actor is policy.SYSTEM else None
    policy.contract_may_end(actor, contract, open_money=open_money, quiet=quiet).enforce()
    for milestone in contract.milestones.select_for_update(of=("self",)).filter(state=S.DRAFT).order_by("position"):
        milestone.contract = contract
        run_transition(milestone, actor=actor, name="cancel", note="The contract ended.")
    contract.changes.filter(status=MilestoneChange.Status.PENDING).update(status=MilestoneChange.Status.OBSOLETE)
    contract.status = Contract.Status.ENDED
    contract.ended_at = timezone.now()
    contract.ended_by = as_user(actor)
    contract.save(update_fields=["status", "ended_at", "ended_by"])
    record(contract=contract, actor=actor, kind=EventKind.CONTRACT_ENDED)
    return contract
