"""Changes to future milestones by consent, and ending a contract."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from contracts.models import Contract, Milestone, MilestoneChange
from contracts.rules import MilestoneTerms, check_milestone_amount
from marketplace.models import User
from marketplace.money import platform_fee

from .milestones import _create_milestone, _lock_contract, milestone_transition
from .money import milestone_refund
from .record import _record


@transaction.atomic
def milestone_add(*, contract_id: int, actor: User, terms: MilestoneTerms) -> Milestone | MilestoneChange:
    """The client adds a milestone directly; a freelancer's addition is a proposal the client accepts."""
    contract = _lock_contract(contract_id, actor)
    if contract.role_of(actor) == "freelancer":
        return _propose(contract=contract, actor=actor, kind=MilestoneChange.Kind.ADD, payload=terms.as_payload())
    if contract.milestones.count() >= settings.OFFER_MAX_MILESTONES:
        raise ValidationError(f"A contract can have at most {settings.OFFER_MAX_MILESTONES} milestones.")
    milestone = _create_milestone(contract=contract, terms=terms)
    _record(contract=contract, milestone=milestone, actor=actor, kind="milestone_added", to_state=milestone.state)
    return milestone


def _propose(*, contract, actor, kind, payload, milestone=None) -> MilestoneChange:
    change = MilestoneChange.objects.create(
        contract=contract, kind=kind, milestone=milestone, payload=payload, proposed_by=actor
    )
    _record(contract=contract, milestone=milestone, actor=actor, kind=f"change_proposed_{kind}")
    return change


def _draft_milestone(contract: Contract, milestone_id: int) -> Milestone:
    milestone = contract.milestones.select_for_update().filter(pk=milestone_id).first()
    if milestone is None:
        raise ValidationError("That milestone is not part of this contract.")
    if milestone.state != Milestone.State.DRAFT:
        raise ValidationError("Only future (not yet funded) milestones can be changed.")
    return milestone


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
    """Propose editing, removing or reordering draft milestones; applied when the other party accepts."""
    contract = _lock_contract(contract_id, actor)
    milestone = None
    if kind in (MilestoneChange.Kind.EDIT, MilestoneChange.Kind.DELETE):
        milestone = _draft_milestone(contract, milestone_id)
    if kind == MilestoneChange.Kind.REFUND:
        # The client asks for funded money back (e.g. to end the contract); the freelancer agrees.
        if contract.role_of(actor) != "client":
            raise PermissionDenied("Only the client asks for a refund; the freelancer can refund directly.")
        milestone = contract.milestones.select_for_update().filter(pk=milestone_id).first()
        if milestone is None or Milestone.refund._django_fsm.get_transition(milestone.state) is None:
            raise ValidationError("Only a funded milestone that is not under review can be refunded.")
    if kind in (MilestoneChange.Kind.ADD, MilestoneChange.Kind.EDIT):
        check_milestone_amount(terms.amount)
        payload = terms.as_payload()
    elif kind == MilestoneChange.Kind.REORDER:
        drafts = list(contract.milestones.filter(state=Milestone.State.DRAFT).values_list("pk", flat=True))
        if sorted(order or []) != sorted(drafts):
            raise ValidationError("The new order must list every future milestone exactly once.")
        payload = {"order": list(order)}
    else:
        payload = {}
    return _propose(contract=contract, actor=actor, kind=kind, payload=payload, milestone=milestone)


def _apply_change(change: MilestoneChange, actor: User) -> None:
    contract = change.contract
    if change.kind == MilestoneChange.Kind.ADD:
        milestone = _create_milestone(contract=contract, terms=MilestoneTerms.from_payload(change.payload))
        _record(contract=contract, milestone=milestone, actor=actor, kind="milestone_added", to_state=milestone.state)
    elif change.kind == MilestoneChange.Kind.EDIT:
        milestone = _draft_milestone(contract, change.milestone_id)
        terms = MilestoneTerms.from_payload(change.payload)
        milestone.title, milestone.deliverable = terms.title, terms.deliverable
        milestone.due_date, milestone.amount = terms.due_date, terms.amount
        milestone.fee = platform_fee(terms.amount, contract.fee_percent)
        milestone.save(update_fields=["title", "deliverable", "due_date", "amount", "fee"])
        _record(contract=contract, milestone=milestone, actor=actor, kind="milestone_edited")
    elif change.kind == MilestoneChange.Kind.DELETE:
        milestone = _draft_milestone(contract, change.milestone_id)
        milestone_transition(
            milestone_id=milestone.pk, actor=actor, name="cancel", note="Removed by agreement.", authorised=True
        )
    elif change.kind == MilestoneChange.Kind.REFUND:
        milestone_refund(milestone_id=change.milestone_id, actor=actor, authorised=True)
    elif change.kind == MilestoneChange.Kind.REORDER:
        drafts = {m.pk: m for m in contract.milestones.select_for_update().filter(state=Milestone.State.DRAFT)}
        order = change.payload["order"]
        if sorted(order) != sorted(drafts):
            raise ValidationError("The milestones changed since this order was proposed.")
        # Draft milestones take the positions after every milestone that is already under way.
        first = (
            contract.milestones.exclude(state=Milestone.State.DRAFT).aggregate(last=Max("position"))["last"] or 0
        ) + 1
        for offset, pk in enumerate(order):
            drafts[pk].position = first + offset
        Milestone.objects.bulk_update(drafts.values(), ["position"])
        _record(contract=contract, actor=actor, kind="milestones_reordered")


@transaction.atomic
def milestone_change_decide(*, change_id: int, actor: User, accept: bool) -> MilestoneChange:
    """The other party accepts (the change is applied) or declines a proposed change."""
    change = MilestoneChange.objects.select_for_update().select_related("contract").get(pk=change_id)
    _lock_contract(change.contract_id, actor)
    if change.status != MilestoneChange.Status.PENDING:
        raise ValidationError("This proposal has already been answered.")
    if change.proposed_by_id == actor.pk:
        raise PermissionDenied("The other party has to answer your proposal.")
    if accept:
        _apply_change(change, actor)
    change.status = MilestoneChange.Status.ACCEPTED if accept else MilestoneChange.Status.REJECTED
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.save(update_fields=["status", "decided_by", "decided_at"])
    _record(
        contract=change.contract,
        milestone=change.milestone,
        actor=actor,
        kind="change_accepted" if accept else "change_declined",
        note=change.get_kind_display(),
    )
    return change


@transaction.atomic
def milestone_change_withdraw(*, change_id: int, actor: User) -> MilestoneChange:
    change = MilestoneChange.objects.select_for_update().get(pk=change_id)
    if change.proposed_by_id != actor.pk:
        raise PermissionDenied("Only the person who proposed a change can withdraw it.")
    if change.status != MilestoneChange.Status.PENDING:
        raise ValidationError("This proposal has already been answered.")
    change.status = MilestoneChange.Status.WITHDRAWN
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.save(update_fields=["status", "decided_by", "decided_at"])
    return change


# --- contracts ---


@transaction.atomic
def contract_end(*, contract_id: int, actor: User) -> Contract:
    """Either party ends a contract when no money is in escrow; future milestones are cancelled."""
    contract = _lock_contract(contract_id, actor)
    open_money = contract.milestones.filter(state__in=Milestone.OPEN_MONEY_STATES).count()
    if open_money:
        raise ValidationError(
            f"{open_money} milestone(s) are funded, under review or in dispute. "
            "They must be paid, refunded or resolved before the contract can end."
        )
    for milestone_id in contract.milestones.filter(state=Milestone.State.DRAFT).values_list("pk", flat=True):
        milestone_transition(
            milestone_id=milestone_id, actor=actor, name="cancel", note="The contract ended.", authorised=True
        )
    contract.changes.filter(status=MilestoneChange.Status.PENDING).update(status=MilestoneChange.Status.OBSOLETE)
    contract.status = Contract.Status.ENDED
    contract.ended_at = timezone.now()
    contract.ended_by = actor
    contract.save(update_fields=["status", "ended_at", "ended_by"])
    _record(contract=contract, actor=actor, kind="contract_ended")
    return contract
