"""Reads for offers, contracts and the dashboard. Every list is a fixed number of queries.

`*_for_party` functions fetch and authorise in one call: anyone who is not one of the two
parties gets a 404, so a stranger cannot even learn that the object exists.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404

from escrow.selectors import hold_balances
from marketplace.models import User
from marketplace.money import format_money, platform_fee

from .diff import revision_diff
from .models import Contract, Milestone, MilestoneChange, Offer, OfferMilestone, OfferRevision, Submission
from .rules import MilestoneTerms, fee_breakdown

ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))


def _party(user) -> Q:
    return Q(client=user) | Q(freelancer=user)


# --- offers ---


def freelancer_for_offer(*, client: User, freelancer_id) -> User:
    """The freelancer a client may send an offer to: active, working, not the client."""
    return get_object_or_404(User.objects.exclude(pk=client.pk), pk=freelancer_id, is_active=True, wants_to_work=True)


def offer_for_party(*, user: User, offer_id: int) -> Offer:
    return get_object_or_404(
        Offer.objects.filter(_party(user)).select_related("client", "freelancer", "thread"), pk=offer_id
    )


def offer_revisions(*, offer: Offer) -> list[OfferRevision]:
    """Every revision, oldest first, with its author and milestones."""
    return list(
        offer.revisions.select_related("author").prefetch_related(
            Prefetch("milestones", queryset=OfferMilestone.objects.order_by("position"))
        )
    )


@dataclass
class RevisionView:
    revision: OfferRevision
    previous: OfferRevision | None
    diff: object
    totals: dict
    latest: OfferRevision
    revisions: list[OfferRevision]


def offer_revision_view(*, offer: Offer, number: int | None = None) -> RevisionView:
    """One revision (default: the latest) with what changed against the one before it."""
    revisions = offer_revisions(offer=offer)
    latest = revisions[-1]
    by_number = {r.number: r for r in revisions}
    revision = latest if number is None else by_number.get(number)
    if revision is None:
        raise Http404("No such revision.")
    previous = by_number.get(revision.number - 1)
    for milestone in revision.milestones.all():  # the fee each milestone would carry, shown up front
        milestone.fee = platform_fee(milestone.amount, revision.fee_percent)
        milestone.receives = milestone.amount - milestone.fee
    return RevisionView(
        revision=revision,
        previous=previous,
        diff=revision_diff(previous, revision) if previous else None,
        totals=fee_breakdown(revision.milestones.all(), revision.fee_percent),
        latest=latest,
        revisions=revisions,
    )


# --- contracts ---


def contract_for_party(*, user: User, contract_id: int) -> Contract:
    return get_object_or_404(Contract.objects.filter(_party(user)).select_related("offer__thread"), pk=contract_id)


def contract_totals(milestones) -> dict:
    """Totals for the contract page; `in_escrow` is what the ledger holds (partial refunds count)."""
    held = sum((m.in_escrow for m in milestones), Decimal("0.00"))
    released = sum((m.amount for m in milestones if m.state == Milestone.State.RELEASED), Decimal("0.00"))
    remaining = sum((m.amount for m in milestones if m.state == Milestone.State.DRAFT), Decimal("0.00"))
    return {"in_escrow": held, "released": released, "remaining": remaining}


def contract_page(*, contract: Contract, user: User) -> dict:
    """Everything the contract page shows, in a constant number of queries."""
    milestones = list(contract.milestones.all())  # each milestone's .contract is this object: no extra query
    order = {name: index for index, name in enumerate(Milestone.ACTION_ORDER)}  # staff act in admin
    balances = hold_balances([m.hold_reference for m in milestones])  # one query
    pending = {
        s.milestone_id: s
        for s in Submission.objects.filter(milestone__contract=contract, status=Submission.Status.PENDING)
    }
    for milestone in milestones:
        milestone.in_escrow = balances.get(milestone.hold_reference, Decimal("0.00"))
        milestone.pending_submission = pending.get(milestone.pk)
    for milestone in milestones:
        available = [t for t in milestone.get_available_user_state_transitions(user) if t.name in order]
        milestone.actions = [
            {"name": t.name, "label": t.custom.get("label", t.name), "tone": t.custom.get("tone", "primary")}
            for t in sorted(available, key=lambda t: order[t.name])
        ]
    active_milestones = [m for m in milestones if m.state != Milestone.State.CANCELLED]
    pending_changes = list(
        contract.changes.filter(status=MilestoneChange.Status.PENDING).select_related("milestone", "proposed_by")
    )
    titles = {m.pk: m.title for m in milestones}
    for change in pending_changes:
        change.summary = _change_summary(change, titles)
    return {
        "contract": contract,
        "role": contract.role_of(user),
        "milestones": active_milestones,
        "cancelled_milestones": [m for m in milestones if m.state == Milestone.State.CANCELLED],
        "drafts": [m for m in milestones if m.state == Milestone.State.DRAFT],
        "totals": contract_totals(milestones),
        "fees": fee_breakdown(active_milestones, contract.fee_percent),
        "can_end": contract.is_active and not any(m.state in Milestone.OPEN_MONEY_STATES for m in milestones),
        "pending_changes": pending_changes,
        "events": list(contract.events.select_related("actor", "milestone")[:100]),
    }


def milestone_page(*, contract: Contract, milestone_id: int, user: User) -> dict:
    """One milestone with its submissions (files and hashes) and its own record, in fixed queries."""
    page = contract_page(contract=contract, user=user)
    milestone = next((m for m in page["milestones"] + page["cancelled_milestones"] if m.pk == milestone_id), None)
    if milestone is None:
        raise Http404("No such milestone.")
    submissions = list(milestone.submissions.select_related("submitted_by").prefetch_related("files"))
    return {
        **page,
        "milestone": milestone,
        "submissions": submissions,
        "events": [e for e in page["events"] if e.milestone_id == milestone.pk],
    }


def _change_summary(change: MilestoneChange, titles: dict[int, str]) -> str:
    if change.kind == MilestoneChange.Kind.REORDER:
        return "New order: " + " → ".join(titles.get(pk, "?") for pk in change.payload["order"])
    if change.kind == MilestoneChange.Kind.DELETE:
        return f"Remove “{change.milestone.title}”"
    terms = MilestoneTerms.from_payload(change.payload)
    what = f"“{terms.title}”, {format_money(terms.amount)}, delivery {terms.due_date:%b %-d, %Y}"
    if change.kind == MilestoneChange.Kind.EDIT:
        return f"Change “{change.milestone.title}” to {what}"
    return f"Add {what}"


def contract_list(*, user: User, status: str | None = None):
    contracts = Contract.objects.filter(_party(user)).annotate(
        in_escrow=Coalesce(Sum("milestones__amount", filter=Q(milestones__state__in=Milestone.HELD_STATES)), ZERO),
        released=Coalesce(Sum("milestones__amount", filter=Q(milestones__state=Milestone.State.RELEASED)), ZERO),
        remaining=Coalesce(Sum("milestones__amount", filter=Q(milestones__state=Milestone.State.DRAFT)), ZERO),
    )
    if status:
        contracts = contracts.filter(status=status)
    return contracts.order_by("-created_at", "-id")


# --- dashboard ---

DASHBOARD_LIMIT = 20


def _latest_revision_author():
    return Subquery(OfferRevision.objects.filter(offer=OuterRef("pk")).order_by("-number").values("author")[:1])


def _latest_revision_title():
    return Subquery(OfferRevision.objects.filter(offer=OuterRef("pk")).order_by("-number").values("title")[:1])


def _pending_review_deadline():
    pending = Submission.objects.filter(milestone=OuterRef("pk"), status=Submission.Status.PENDING)
    return Subquery(pending.values("review_deadline")[:1])


def dashboard(*, user: User) -> dict:
    """The user's contracts by status and everything waiting for them, in both roles."""
    pending_offers = (
        Offer.objects.filter(_party(user), status=Offer.Status.PENDING)
        .annotate(latest_author=_latest_revision_author(), latest_title=_latest_revision_title())
        .select_related("client", "freelancer")
        .order_by("-updated_at")
    )
    pending_offers = list(pending_offers[:DASHBOARD_LIMIT])
    milestones = list(
        Milestone.objects.filter(contract__status=Contract.Status.ACTIVE)
        .filter(
            Q(contract__client=user, state__in=[Milestone.State.DRAFT, Milestone.State.SUBMITTED])
            | Q(contract__freelancer=user, state__in=[Milestone.State.FUNDED, Milestone.State.CHANGES_REQUESTED])
        )
        .select_related("contract")
        .annotate(review_deadline=_pending_review_deadline())
        .order_by("due_date", "contract_id", "position")[:DASHBOARD_LIMIT]
    )
    changes = list(
        MilestoneChange.objects.filter(status=MilestoneChange.Status.PENDING)
        .filter(Q(contract__client=user) | Q(contract__freelancer=user))
        .exclude(proposed_by=user)
        .select_related("contract", "milestone", "proposed_by")[:DASHBOARD_LIMIT]
    )
    contracts = list(contract_list(user=user).select_related("client", "freelancer")[:50])
    return {
        "offers_to_answer": [o for o in pending_offers if o.latest_author != user.pk],
        "offers_waiting": [o for o in pending_offers if o.latest_author == user.pk],
        "milestones_to_act": milestones,
        "changes_to_answer": changes,
        "active_contracts": [c for c in contracts if c.status == Contract.Status.ACTIVE],
        "ended_contracts": [c for c in contracts if c.status == Contract.Status.ENDED],
    }
