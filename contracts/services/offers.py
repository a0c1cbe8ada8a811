"""Offers and their revisions: propose, counter, accept (creating the contract), decline, withdraw."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contracts.models import Contract, Milestone, Offer, OfferMilestone, OfferRevision
from contracts.rules import MilestoneTerms, OfferTerms, check_milestones
from marketplace.models import User
from marketplace.money import format_money, platform_fee
from messaging.services import thread_create, thread_set_link

from .record import _offer_event, _record

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
