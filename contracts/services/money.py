"""Money through escrow: funding, approval with release, bonuses, refunds and dispute decisions."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_fsm import TransitionNotAllowed

from contracts.models import Contract, Milestone
from escrow.gateways import PaymentError
from escrow.selectors import hold_balance
from escrow.services import HoldSpec, bonus_pay, hold_refund, hold_release, holds_fund
from marketplace.models import User
from marketplace.money import format_money, platform_fee

from .milestones import _lock_contract, _lock_milestone, milestone_transition
from .record import _record

# --- money: funding, approval and release, refunds (through escrow) ---


def _lock_milestones_for_funding(contract_id: int, milestone_ids: list[int], actor: User) -> tuple[Contract, list]:
    contract = _lock_contract(contract_id, actor)
    if contract.role_of(actor) != "client":
        raise PermissionDenied("Only the client funds milestones.")
    milestones = list(contract.milestones.select_for_update().filter(pk__in=milestone_ids).order_by("position", "id"))
    if not milestones or len(milestones) != len(set(milestone_ids)):
        raise ValidationError("Choose at least one milestone of this contract to fund.")
    for milestone in milestones:
        milestone.contract = contract
        if milestone.state not in (Milestone.State.DRAFT, Milestone.State.FUNDED):
            raise TransitionNotAllowed(f"“{milestone.title}” is {milestone.get_state_display().lower()}.")
    return contract, milestones


def milestones_fund(
    *,
    contract_id: int,
    milestone_ids: list[int],
    actor: User,
    card,
    idempotency_key: str,
    use_credit: bool = False,
):
    """The client pays one or several draft milestones into escrow with one charge.

    The milestones stay locked while escrow charges the card, so a concurrent funding waits and is
    then refused; a replay of the same form (same idempotency key) charges nothing and returns the
    first result. A failed payment changes nothing but the recorded failed charge.
    """
    failure = None
    with transaction.atomic():
        contract, milestones = _lock_milestones_for_funding(contract_id, milestone_ids, actor)
        specs = [
            HoldSpec(
                reference=m.hold_reference,
                payee=contract.freelancer,
                amount=m.amount,
                fee=m.fee,
                label=f"{contract.title} — {m.title}",
                link_url=m.get_absolute_url(),
            )
            for m in milestones
        ]
        try:
            result = holds_fund(
                payer=actor, holds=specs, card=card, idempotency_key=idempotency_key, use_credit=use_credit, actor=actor
            )
        except PaymentError as error:
            failure = error  # let the failed charge commit, so a replay of this form shows the same error
        else:
            for milestone in milestones:
                if milestone.state == Milestone.State.DRAFT:  # a replay finds them funded already
                    milestone_transition(milestone_id=milestone.pk, actor=actor, name="fund", moves_money=True)
            return result
    raise failure


def milestone_approve(*, milestone_id: int, actor: User | None, note: str = "") -> Milestone:
    """Approve submitted work and release the payment, in one transaction: released exactly once.

    `actor=None` is the automatic approval when the review period ends.
    """
    with transaction.atomic():
        milestone_transition(milestone_id=milestone_id, actor=actor, name="approve", note=note, moves_money=True)
        milestone = milestone_transition(
            milestone_id=milestone_id, actor=actor, name="release", authorised=True, moves_money=True
        )
        hold_release(reference=milestone.hold_reference, actor=actor)
        return milestone


def milestone_bonus(*, milestone_id: int, actor: User, amount, card, idempotency_key: str):
    """An optional bonus on top of a released milestone, charged to the client's card."""
    milestone = Milestone.objects.select_related("contract").get(pk=milestone_id)
    contract = milestone.contract
    if actor.pk != contract.client_id:
        raise PermissionDenied("Only the client can pay a bonus.")
    if milestone.state != Milestone.State.RELEASED:
        raise ValidationError("A bonus can be paid once the milestone is approved.")
    entry = bonus_pay(
        payer=actor,
        payee=contract.freelancer,
        amount=amount,
        card=card,
        idempotency_key=idempotency_key,
        reference=f"bonus:{milestone.hold_reference}:{idempotency_key}",
        fee=platform_fee(amount, contract.fee_percent),
        actor=actor,
    )
    _record(contract=contract, milestone=milestone, actor=actor, kind="bonus", note=f"Bonus {format_money(amount)}")
    return entry


def milestone_refund(*, milestone_id: int, actor: User, amount=None, authorised: bool = False) -> Milestone:
    """Give the client back all (amount None) or part of a funded milestone's escrow.

    The money goes where the client chose in their settings (credit or card). A whole refund ends
    the milestone (refunded); a partial one leaves it funded with less in escrow.
    """
    with transaction.atomic():
        milestone = _lock_milestone(milestone_id)
        contract = milestone.contract
        reference = milestone.hold_reference
        remaining = hold_balance(reference)
        whole = amount is None or amount >= remaining
        if whole:
            milestone_transition(
                milestone_id=milestone.pk, actor=actor, name="refund", authorised=authorised, moves_money=True
            )
        else:
            meta = Milestone.refund._django_fsm.get_transition(milestone.state)
            if meta is None:
                raise TransitionNotAllowed(f"This milestone is {milestone.get_state_display().lower()}.")
            if not (authorised or meta.has_perm(milestone, actor)):
                raise PermissionDenied("Only the freelancer can refund a milestone.")
        hold_refund(
            reference=reference,
            amount=None if whole else amount,
            destination=contract.client.refund_to,
            actor=actor,
        )
        if not whole:
            _record(
                contract=contract,
                milestone=milestone,
                actor=actor,
                kind="partial_refund",
                note=f"{format_money(amount)} refunded; {format_money(remaining - amount)} stays in escrow.",
            )
        milestone.refresh_from_db()
        return milestone


def milestone_resolve_dispute(*, milestone_id: int, actor: User, outcome: str, note: str) -> Milestone:
    """Staff decide a dispute: release the escrow to the freelancer or refund it to the client."""
    if outcome not in ("release", "refund"):
        raise ValueError(f"Unknown outcome {outcome!r}.")
    with transaction.atomic():
        milestone = milestone_transition(
            milestone_id=milestone_id, actor=actor, name=f"resolve_{outcome}", note=note, moves_money=True
        )
        if outcome == "release":
            hold_release(reference=milestone.hold_reference, actor=actor)
        else:
            hold_refund(
                reference=milestone.hold_reference,
                amount=None,
                destination=milestone.contract.client.refund_to,
                actor=actor,
            )
        return milestone
