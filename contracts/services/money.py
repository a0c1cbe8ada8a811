"""Money through escrow: funding, approval with release (and a bonus), refunds and dispute decisions.

The state change and its ledger entry commit together or not at all: each action runs the transition and
the escrow service in one transaction, with the milestone row locked (lock order: contracts.services.record).
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from contracts import policy
from contracts.events import EventKind
from contracts.models import Milestone
from escrow.gateways import PaymentError
from escrow.selectors import entry_split, hold_balance
from escrow.services import HoldSpec, bonus_pay, hold_refund, hold_release, holds_fund
from marketplace.models import User
from marketplace.money import platform_fee, to_money

from .record import as_user, lock_contract, lock_milestone, record, run_transition

S = Milestone.State


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
            # A milestone already held is left to escrow: the same form again (same key) is a replay that
            # returns the first result; any other funding of it is refused there as "already funded".
            if not verdict and (verdict.kind == "who" or milestone.state not in Milestone.HELD_STATES):
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
        try:
            result = holds_fund(
                payer=actor, holds=specs, card=card, idempotency_key=idempotency_key, use_credit=use_credit, actor=actor
            )
        except PaymentError as error:
            failure = error  # let the failed charge commit, so a replay of this form shows the same error
        else:
            for milestone in milestones:
                if milestone.state == S.DRAFT:  # a replay finds them funded already
                    run_transition(milestone, actor=actor, name="fund", data={"amount": milestone.amount})
            return result
    raise failure


def approve_and_release(milestone: Milestone, *, actor, note: str = "") -> Milestone:
    """Approve and pay out what escrow holds for the milestone (caller holds the lock, policy enforced)."""
    run_transition(milestone, actor=actor, name="approve", note=note)
    entry = hold_release(reference=milestone.hold_reference, actor=as_user(actor))
    return run_transition(milestone, actor=actor, name="release", data=_released(entry))


def _released(entry) -> dict:
    """What a release entry moved: out of escrow, the platform's fee, and what the freelancer received."""
    split = entry_split(entry)
    return {
        "released": -split["escrow_hold"],
        "fee": split.get("platform_fees", 0),
        "received": split["user_available"],
    }


def milestone_approve(
    *, milestone_id: int, actor, note: str = "", bonus=None, card=None, idempotency_key: str = ""
) -> Milestone:
    """Approve submitted work and release the payment, in one transaction: released exactly once.

    With a `bonus`, the bonus is charged in the same transaction: if the card is declined, nothing is
    approved and the PaymentError reaches the caller (the client fixes the card or drops the bonus).
    """
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "approve").enforce()
        approve_and_release(milestone, actor=actor, note=(note or "").strip())
        if bonus:
            _pay_bonus(milestone, actor=actor, amount=bonus, card=card, idempotency_key=idempotency_key)
        return milestone


def milestone_bonus(*, milestone_id: int, actor: User, amount, card, idempotency_key: str):
    """An optional bonus on top of a released milestone, charged to the client's card."""
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "bonus").enforce()
        return _pay_bonus(milestone, actor=actor, amount=amount, card=card, idempotency_key=idempotency_key)


def bonus_quote(amount, fee_percent) -> dict:
    """What a bonus of `amount` costs the client and pays the freelancer (fee at the contract's rate)."""
    amount = to_money(amount)
    fee = platform_fee(amount, fee_percent)
    return {"amount": amount, "fee": fee, "received": amount - fee}


def _pay_bonus(milestone: Milestone, *, actor: User, amount, card, idempotency_key: str):
    contract = milestone.contract
    quote = bonus_quote(amount, contract.fee_percent)
    if quote["amount"] <= 0:
        raise ValidationError("Enter a bonus greater than zero.")
    entry = bonus_pay(
        payer=actor,
        payee=contract.freelancer,
        amount=quote["amount"],
        card=card,
        idempotency_key=idempotency_key,
        reference=f"{milestone.hold_reference}:{idempotency_key}",
        fee=quote["fee"],
        actor=actor,
    )
    record(contract=contract, milestone=milestone, actor=actor, kind=EventKind.BONUS, data=quote)
    return entry


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
