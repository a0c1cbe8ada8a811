"""Offers and their revisions: propose, counter, accept (creating the contract), decline, withdraw."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import ngettext

from contracts import policy
from contracts.events import EventKind
from contracts.models import Contract, Milestone, Offer, OfferMilestone, OfferRevision
from contracts.rules import MilestoneTerms, OfferTerms, check_milestones, check_offer_terms
from marketplace.models import User
from marketplace.money import format_money, platform_fee
from messaging.models import Thread
from messaging.services import thread_create, thread_set_link

from .record import offer_event, record

# --- offers ---


def _lock_offer(offer_id: int) -> Offer:
    return Offer.objects.select_for_update(of=("self",)).get(pk=offer_id)


def _latest_revision(offer: Offer) -> OfferRevision:
    return offer.revisions.order_by("-number").first()


def _write_revision(*, offer, author, number, terms: OfferTerms, milestones: list[MilestoneTerms]) -> OfferRevision:
    check_offer_terms(terms)
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
def offer_create(
    *, client: User, freelancer: User, terms: OfferTerms, milestones: list[MilestoneTerms], thread: Thread | None = None
) -> Offer:
    """Send an offer. `thread`: an existing conversation of the two parties (e.g. about a job proposal) that
    the offer, and then the contract, carries on; by default a new thread is started."""
    if client.pk == freelancer.pk:
        raise ValidationError("You cannot send an offer to yourself.")
    if not (freelancer.is_active and freelancer.wants_to_work):
        raise ValidationError("This person is not available for freelance work.")
    offer = Offer.objects.create(client=client, freelancer=freelancer)
    _write_revision(offer=offer, author=client, number=1, terms=terms, milestones=milestones)
    if thread is None:
        thread = thread_create(
            participants=[client, freelancer], subject=terms.title, link_url=offer.get_absolute_url()
        )
    elif set(thread.participants.values_list("user_id", flat=True)) != {client.pk, freelancer.pk}:
        raise ValidationError("The offer's conversation must be between its two parties.")
    else:
        thread_set_link(thread=thread, link_url=offer.get_absolute_url())
    offer.thread = thread
    offer.save(update_fields=["thread"])
    total = format_money(sum((m.amount for m in milestones), 0))
    text = ngettext(
        "%(name)s sent a fixed-price offer: “%(title)s”, %(total)s in %(count)s milestone.",
        "%(name)s sent a fixed-price offer: “%(title)s”, %(total)s in %(count)s milestones.",
        len(milestones),
    ) % {"name": client.name, "title": terms.title, "total": total, "count": len(milestones)}
    offer_event(offer, client, text, step="sent", title=terms.title)
    return offer


def offer_check_turn(offer: Offer, actor: User, seen_revision: int | None = None) -> OfferRevision:
    """The latest revision, if it is `actor`'s turn to answer it (policy.offer_may_answer); else the refusal."""
    latest = _latest_revision(offer)
    policy.offer_may_answer(actor, offer, latest, seen_revision=seen_revision).enforce()
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
    offer_event(
        offer,
        actor,
        f"{actor.name} {verb}: revision {revision.number}.",
        reverse("contracts:offer_revision", args=[offer.pk, revision.number]),
        step="revised",
        title=terms.title,
        note=f"Note: {terms.message}" if terms.message else "",
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
    accepted = f"{actor.name} accepted revision {revision.number}."
    offer_event(offer, actor, accepted, step="accepted", title=revision.title)
    if offer.thread is not None:
        thread_set_link(thread=offer.thread, link_url=contract.get_absolute_url())
    record(contract=contract, actor=actor, kind=EventKind.CONTRACT_STARTED, data={"revision": revision.number})
    for hook in _accepted_hooks():
        hook(offer=offer, contract=contract, actor=actor)
    return contract


def _accepted_hooks():
    """Apps built on offers (jobs: the hired proposal closes its job) register a function called with
    `offer`, `contract` and `actor` inside the accepting transaction (setting CONTRACTS_OFFER_ACCEPTED_HOOKS),
    so contracts never imports them."""
    return [import_string(path) for path in getattr(settings, "CONTRACTS_OFFER_ACCEPTED_HOOKS", ())]


@transaction.atomic
def offer_decline(*, offer_id: int, actor: User, reason: str) -> Offer:
    offer = _lock_offer(offer_id)
    policy.offer_may_decline(actor, offer, _latest_revision(offer)).enforce()
    if not reason.strip():
        raise ValidationError("Please tell the client why you are declining.")
    offer.status = Offer.Status.DECLINED
    offer.decline_reason = reason.strip()
    offer.closed_at = timezone.now()
    offer.save(update_fields=["status", "decline_reason", "closed_at", "updated_at"])
    offer_event(
        offer,
        actor,
        f"{actor.name} declined the offer:",
        step="declined",
        title=_latest_revision(offer).title,
        note=offer.decline_reason,
    )
    return offer


@transaction.atomic
def offer_withdraw(*, offer_id: int, actor: User) -> Offer:
    offer = _lock_offer(offer_id)
    policy.offer_may_withdraw(actor, offer).enforce()
    offer.status = Offer.Status.WITHDRAWN
    offer.closed_at = timezone.now()
    offer.save(update_fields=["status", "closed_at", "updated_at"])
    title = _latest_revision(offer).title
    offer_event(offer, actor, f"{actor.name} withdrew the offer.", step="withdrawn", title=title)
    return offer
