"""Writes for offers, contracts and milestones.

Every state change follows the same steps: lock the row (`select_for_update`), check that the
actor may act, run the django-fsm transition, save, write the audit event and schedule side
effects with `transaction.on_commit`. Callers pass the acting user; nothing here trusts a view.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from escrow.gateways import PaymentError
from escrow.selectors import hold_balance
from escrow.services import HoldSpec, bonus_pay, hold_refund, hold_release, holds_fund
from marketplace.models import User
from marketplace.money import format_money, platform_fee
from messaging.services import event_post, thread_create, thread_set_link, thread_set_notice

from .events import event_link, event_text
from .models import (
    Contract,
    ContractEvent,
    Milestone,
    MilestoneChange,
    Offer,
    OfferMilestone,
    OfferRevision,
    Submission,
)
from .rules import MilestoneTerms, OfferTerms, check_milestone_amount, check_milestones

# --- audit ---


def _record(*, contract, actor, kind, milestone=None, from_state="", to_state="", note="") -> ContractEvent:
    """Write the audit row, and post it into the parties' thread: the thread is the documented record."""
    event = ContractEvent.objects.create(
        contract=contract,
        milestone=milestone,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
    )
    thread = contract.offer.thread
    if thread is not None:
        event_post(thread=thread, text=event_text(event), actor=actor, link_url=event_link(event))
    return event


def _offer_event(offer: Offer, actor: User, text: str, link_url: str = "") -> None:
    if offer.thread is not None:
        event_post(thread=offer.thread, text=text, actor=actor, link_url=link_url or offer.get_absolute_url())


FUNDED_NOTICE = (
    "Delivering work through messages does not start the review period — use “Submit work” on the milestone."
)


def _refresh_notice(contract: Contract) -> None:
    """While a milestone is funded, the message box says that only Submit work starts a review."""
    thread = contract.offer.thread
    if thread is None:
        return
    funded = contract.milestones.filter(state__in=[Milestone.State.FUNDED, Milestone.State.CHANGES_REQUESTED])
    notice = FUNDED_NOTICE if funded.exists() else ""
    if thread.notice != notice:
        thread_set_notice(thread=thread, text=notice)


# --- offers ---


def _lock_offer(offer_id: int) -> Offer:
    return Offer.objects.select_for_update().get(pk=offer_id)


def _latest_revision(offer: Offer) -> OfferRevision:
    return offer.revisions.order_by("-number").first()


def _write_revision(*, offer, author, number, terms: OfferTerms, milestones: list[MilestoneTerms]) -> OfferRevision:
    check_milestones(milestones)
    revision = OfferRevision.objects.create(
        offer=offer,
        number=number,
        author=author,
        title=terms.title,
        scope=terms.scope,
        acceptance_criteria=terms.acceptance_criteria,
        revision_rounds=terms.revision_rounds,
        fee_percent=settings.PLATFORM_FEE_PERCENT,
        message=terms.message,
    )
    OfferMilestone.objects.bulk_create(
        OfferMilestone(
            revision=revision,
            key=m.key,
            position=position,
            title=m.title,
            deliverable=m.deliverable,
            due_date=m.due_date,
            amount=m.amount,
        )
        for position, m in enumerate(milestones, start=1)
    )
    return revision


@transaction.atomic
def offer_create(*, client: User, freelancer: User, terms: OfferTerms, milestones: list[MilestoneTerms]) -> Offer:
    if client.pk == freelancer.pk:
        raise ValidationError("You cannot send an offer to yourself.")
    if not (freelancer.is_active and freelancer.wants_to_work):
        raise ValidationError("This person is not available for freelance work.")
    offer = Offer.objects.create(client=client, freelancer=freelancer)
    _write_revision(offer=offer, author=client, number=1, terms=terms, milestones=milestones)
    offer.thread = thread_create(
        participants=[client, freelancer], subject=terms.title, link_url=offer.get_absolute_url()
    )
    offer.save(update_fields=["thread"])
    total = format_money(sum((m.amount for m in milestones), 0))
    _offer_event(
        offer,
        client,
        f"{client.name} sent a fixed-price offer: “{terms.title}”, {total} in {len(milestones)} milestone(s).",
    )
    return offer


def offer_check_turn(offer: Offer, actor: User, seen_revision: int | None = None) -> OfferRevision:
    """The party who did not write the latest revision answers it."""
    if actor.pk not in (offer.client_id, offer.freelancer_id):
        raise PermissionDenied("You are not a party to this offer.")
    if not offer.is_pending:
        raise ValidationError(f"This offer is {offer.get_status_display().lower()}; it can no longer change.")
    latest = _latest_revision(offer)
    if seen_revision is not None and latest.number != seen_revision:
        raise ValidationError("The offer changed while you were looking at it. Review the latest revision.")
    if latest.author_id == actor.pk:
        raise PermissionDenied("The other party has to answer your latest revision first.")
    return latest


@transaction.atomic
def offer_propose_revision(
    *, offer_id: int, actor: User, terms: OfferTerms, milestones: list[MilestoneTerms], seen_revision: int
) -> OfferRevision:
    """Propose changes (freelancer) or counter (client): a new revision; earlier ones are kept."""
    offer = _lock_offer(offer_id)
    latest = offer_check_turn(offer, actor, seen_revision)
    revision = _write_revision(offer=offer, author=actor, number=latest.number + 1, terms=terms, milestones=milestones)
    offer.save(update_fields=["updated_at"])
    verb = "proposed changes" if actor.pk == offer.freelancer_id else "countered"
    note = f" Note: {terms.message}" if terms.message else ""
    _offer_event(
        offer,
        actor,
        f"{actor.name} {verb}: revision {revision.number}.{note}",
        reverse("contracts:offer_revision", args=[offer.pk, revision.number]),
    )
    return revision


@transaction.atomic
def offer_accept(*, offer_id: int, actor: User, revision_number: int) -> Contract:
    """Accept the latest revision: creates the contract with a frozen copy of the agreed terms."""
    offer = _lock_offer(offer_id)
    revision = offer_check_turn(offer, actor, revision_number)
    offer.status = Offer.Status.ACCEPTED
    offer.closed_at = timezone.now()
    offer.save(update_fields=["status", "closed_at", "updated_at"])
    contract = Contract.objects.create(
        offer=offer,
        agreed_revision=revision,
        client=offer.client,
        freelancer=offer.freelancer,
        client_name=offer.client.name,
        freelancer_name=offer.freelancer.name,
        title=revision.title,
        scope=revision.scope,
        acceptance_criteria=revision.acceptance_criteria,
        revision_rounds=revision.revision_rounds,
        fee_percent=revision.fee_percent,
    )
    Milestone.objects.bulk_create(
        Milestone(
            contract=contract,
            position=m.position,
            title=m.title,
            deliverable=m.deliverable,
            due_date=m.due_date,
            amount=m.amount,
            fee=platform_fee(m.amount, revision.fee_percent),
        )
        for m in revision.milestones.all()
    )
    _offer_event(offer, actor, f"{actor.name} accepted revision {revision.number}.")
    if offer.thread is not None:
        thread_set_link(thread=offer.thread, link_url=contract.get_absolute_url())
    _record(contract=contract, actor=actor, kind="contract_started", note=f"Revision {revision.number} accepted.")
    return contract


@transaction.atomic
def offer_decline(*, offer_id: int, actor: User, reason: str) -> Offer:
    offer = _lock_offer(offer_id)
    if actor.pk != offer.freelancer_id:
        raise PermissionDenied("Only the freelancer can decline an offer.")
    offer_check_turn(offer, actor)
    if not reason.strip():
        raise ValidationError("Please tell the client why you are declining.")
    offer.status = Offer.Status.DECLINED
    offer.decline_reason = reason.strip()
    offer.closed_at = timezone.now()
    offer.save(update_fields=["status", "decline_reason", "closed_at", "updated_at"])
    _offer_event(offer, actor, f"{actor.name} declined the offer: {offer.decline_reason}")
    return offer


@transaction.atomic
def offer_withdraw(*, offer_id: int, actor: User) -> Offer:
    offer = _lock_offer(offer_id)
    if actor.pk != offer.client_id:
        raise PermissionDenied("Only the client can withdraw an offer.")
    if not offer.is_pending:
        raise ValidationError(f"This offer is {offer.get_status_display().lower()}; it can no longer be withdrawn.")
    offer.status = Offer.Status.WITHDRAWN
    offer.closed_at = timezone.now()
    offer.save(update_fields=["status", "closed_at", "updated_at"])
    _offer_event(offer, actor, f"{actor.name} withdrew the offer.")
    return offer


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
