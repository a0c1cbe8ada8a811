"""Money through escrow: funding, approval with release (and a bonus), refunds and dispute decisions.

The state change and its ledger entry commit together or not at all: each action runs the transition and
the escrow service in one transaction, with the milestone row locked (lock order: contracts.services.record).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django_fsm import can_proceed

from contracts import policy
from contracts.events import EventKind
from contracts.models import Milestone
from escrow.errors import EscrowError
from escrow.models import PaymentIntent
from escrow.payments import payment_start_bonus, payment_start_funding
from escrow.selectors import entry_for, entry_split, hold_balance, payment_for_key
from escrow.services import HoldSpec, Released, hold_refund, holds_release
from marketplace.models import User
from marketplace.money import platform_fee, to_money

from .record import as_user, lock_contract, lock_milestone, record, run_transition

S = Milestone.State


def milestones_fund(
    *,
    contract_id: int,
    milestone_ids: list[int],
    actor: User,
    idempotency_key: str,
    use_credit: bool = False,
) -> PaymentIntent:
    """The client starts paying one or several draft milestones into escrow, with one payment.

    Returns escrow's payment intent: the client is sent to its `redirect_url` (the provider's hosted page,
    where the card is typed; never ours), or it already `succeeded` when credit paid for everything.
    Nothing is funded here: a milestone becomes funded only when the provider confirms the payment
    (`milestone_payment_confirmed`). The milestones are checked under lock, and the lock is released
    before escrow calls the provider; escrow admits one open payment per milestone, so a concurrent
    request continues the same payment (same key, or same milestones) or is refused.
    """
    with transaction.atomic():
        contract = lock_contract(contract_id)
        milestones = list(
            contract.milestones.select_for_update(of=("self",)).filter(pk__in=milestone_ids).order_by("position", "id")
        )
        if not milestones or len(milestones) != len(set(milestone_ids)):
            policy.contract_may_view(actor, contract).enforce()
            raise ValidationError("Choose at least one milestone of this contract to fund.")
        for milestone in milestones:
            milestone.contract = contract
            verdict = policy.milestone_may(actor, milestone, "fund")
            # The same form again (same key) is a replay: escrow answers with the first payment. Looked up
            # after the refusal, so a payment committed meanwhile by the first request is seen.
            if not verdict and (verdict.kind == "who" or not _replayed(actor, idempotency_key)):
                verdict.enforce()
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
    return payment_start_funding(
        payer=actor,
        holds=specs,
        idempotency_key=idempotency_key,
        use_credit=use_credit,
        next_url=contract.get_absolute_url(),
        actor=actor,
    )


def _replayed(actor: User, idempotency_key: str) -> bool:
    return payment_for_key(payer=actor, idempotency_key=idempotency_key) is not None


def milestone_payment_confirmed(reference: str, actor: User) -> None:
    """Escrow's callback (settings.ESCROW_PAYMENT_CALLBACKS["milestone:"]), run inside the transaction that
    confirms a payment: "milestone:<id>" was funded (the milestone becomes funded), "milestone:<id>:<key>"
    is a bonus that was paid (recorded in the contract)."""
    _, milestone_id, *bonus = reference.split(":", 2)
    milestone = lock_milestone(int(milestone_id))
    if bonus:
        split = entry_split(entry_for(f"bonus:{reference}"))
        received = split.get("user_available", 0)
        fee = split.get("platform_fees", 0)
        data = {"amount": received + fee, "fee": fee, "received": received}
        record(contract=milestone.contract, milestone=milestone, actor=actor, kind=EventKind.BONUS, data=data)
        return
    if milestone.state == S.DRAFT and can_proceed(milestone.fund):
        run_transition(milestone, actor=actor, name="fund", data={"amount": milestone.amount})
        return
    # Paid for a milestone that stopped being fundable meanwhile (e.g. staff cancelled it): the money
    # goes straight back to the client as credit, and the audit stays clean.
    hold_refund(reference=reference, amount=None, destination="credit", actor=actor)


def approve_and_release(milestone: Milestone, *, actor, note: str = "") -> Milestone:
    """Approve and pay out what escrow holds for the milestone (caller holds the lock, policy enforced)."""
    run_transition(milestone, actor=actor, name="approve", note=note)
    outcome = holds_release(references=[milestone.hold_reference], actor=as_user(actor))[milestone.hold_reference]
    if isinstance(outcome, EscrowError):
        raise outcome
    return run_transition(milestone, actor=actor, name="release", data=released_data(outcome))


def released_data(outcome: Released) -> dict:
    """The release event's data: out of escrow, the platform's fee, and what the freelancer received."""
    return {"released": outcome.released, "fee": outcome.fee, "received": outcome.received}


def milestone_approve(*, milestone_id: int, actor, note: str = "") -> Milestone:
    """Approve submitted work and release the payment, in one transaction: released exactly once.

    A bonus is a separate payment started afterwards (`milestone_bonus`): a declined bonus card never
    un-approves anything.
    """
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "approve").enforce()
        approve_and_release(milestone, actor=actor, note=(note or "").strip())
        return milestone


def milestone_bonus(*, milestone_id: int, actor: User, amount, idempotency_key: str) -> PaymentIntent:
    """Start a bonus on top of a released milestone: escrow's payment intent, paid on the provider's page.

    The bonus is recorded in the contract once the provider confirms it (`milestone_payment_confirmed`).
    """
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "bonus").enforce()
        contract = milestone.contract
        quote = bonus_quote(amount, contract.fee_percent)
        if quote["amount"] <= 0:
            raise ValidationError("Enter a bonus greater than zero.")
    return payment_start_bonus(
        payer=actor,
        payee=contract.freelancer,
        amount=quote["amount"],
        fee=quote["fee"],
        reference=f"{milestone.hold_reference}:{idempotency_key}",
        label=f"Bonus: {contract.title} — {milestone.title}",
        idempotency_key=idempotency_key,
        next_url=milestone.get_absolute_url(),
    )


def bonus_quote(amount, fee_percent) -> dict:
    """What a bonus of `amount` costs the client and pays the freelancer (fee at the contract's rate)."""
    amount = to_money(amount)
    fee = platform_fee(amount, fee_percent)
    return {"amount": amount, "fee": fee, "received": amount - fee}


def milestone_refund(*, milestone_id: int, actor: User, amount=None) -> Milestone:
    """The freelancer gives the client back all (amount None) or part of a funded milestone's escrow."""
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "refund").enforce()
        return refund_held(milestone, actor=actor, amount=amount)


def refund_held(milestone: Milestone, *, actor: User, amount=None) -> Milestone:
    """Refund all or part of what escrow holds (caller holds the lock and enforced "refund" for the actor).

    The money goes where the client chose in their settings (credit or card). A whole refund ends
    the milestone (refunded); a partial one leaves it funded with less in escrow.
    """
    remaining = hold_balance(milestone.hold_reference)
    whole = amount is None or to_money(amount) >= remaining
    value = remaining if whole else to_money(amount)
    hold_refund(
        reference=milestone.hold_reference,
        amount=None if whole else value,
        destination=milestone.contract.client.refund_to,
        actor=actor,
    )
    if whole:
        return run_transition(milestone, actor=actor, name="refund", data={"refunded": value})
    record(
        contract=milestone.contract,
        milestone=milestone,
        actor=actor,
        kind=EventKind.PARTIAL_REFUND,
        data={"refunded": value, "remaining": remaining - value},
    )
    return milestone
