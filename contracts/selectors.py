"""Reads for offers, contracts and the dashboard. Every list is a fixed number of queries.

`*_for_party` functions fetch and authorise in one call: anyone who is not one of the two
parties gets a 404, so a stranger cannot even learn that the object exists.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Prefetch, Q, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext

from escrow.selectors import card_refund_limit, hold_summaries, open_payments, release_quote
from marketplace.models import User
from marketplace.money import format_money, platform_fee

from . import events, policy
from .diff import revision_diff
from .models import (
    Contract,
    Dispute,
    Milestone,
    MilestoneChange,
    Offer,
    OfferMilestone,
    OfferRevision,
    Submission,
)
from .rules import MilestoneTerms, fee_breakdown


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


# --- money: what a page shows for a milestone is what escrow actually holds ---


@dataclass(frozen=True)
class MilestoneMoney:
    """A milestone's money, read from the ledger. Every amount a page or message shows comes from here."""

    agreed: Decimal  # the milestone's amount in the terms
    agreed_fee: Decimal
    funded: Decimal
    refunded: Decimal
    held: Decimal  # in escrow now
    released: Decimal  # left escrow for the freelancer (before the fee)
    fee: Decimal  # the platform fee taken on release
    received: Decimal  # what the freelancer received
    release_fee: Decimal  # releasing now would take this fee ...
    release_pays: Decimal  # ... and pay the freelancer this
    payment_id: int | None = None  # a payment started that the provider has not confirmed yet

    @property
    def payment_processing(self) -> bool:
        return self.payment_id is not None

    @property
    def receives(self) -> Decimal:
        """What the freelancer receives: received once paid, what a release pays while held, or the
        agreed amount less its fee before funding. After a refund of everything, nothing."""
        if self.released:
            return self.received
        if self.funded:
            return self.release_pays
        return self.agreed - self.agreed_fee

    @property
    def partially_refunded(self) -> bool:
        return bool(self.refunded) and self.refunded < self.funded


def milestones_money(milestones) -> dict[int, MilestoneMoney]:
    """Each milestone's money (one query for all of them); also set as `milestone.money`."""
    milestones = list(milestones)
    summaries = hold_summaries([m.hold_reference for m in milestones])
    processing = open_payments([m.hold_reference for m in milestones])
    result = {}
    for m in milestones:
        summary = summaries[m.hold_reference]
        fee_now, pays_now = release_quote(amount=m.amount, fee=m.fee, held=summary.held)
        m.money = result[m.pk] = MilestoneMoney(
            agreed=m.amount,
            agreed_fee=m.fee,
            funded=summary.funded,
            refunded=summary.refunded,
            held=summary.held,
            released=summary.released,
            fee=summary.release_fee,
            received=summary.paid_to_payee,
            release_fee=fee_now,
            release_pays=pays_now,
            payment_id=processing[m.hold_reference].pk if m.hold_reference in processing else None,
        )
    return result


def refund_card_limit(milestone: Milestone) -> Decimal | None:
    """When the client takes refunds to their card: at most how much of this milestone's escrow can go back to
    the card (what the card paid; the rest came from credit and goes back as credit). None for refunds to credit."""
    if milestone.contract.client.refund_to != "card":
        return None
    return card_refund_limit(milestone.hold_reference)


def milestone_money(milestone: Milestone) -> MilestoneMoney:
    return milestones_money([milestone])[milestone.pk]


# --- contracts ---


def contract_for_party(*, user: User, contract_id: int) -> Contract:
    return get_object_or_404(Contract.objects.filter(_party(user)).select_related("offer__thread"), pk=contract_id)


def milestone_of_contract(*, contract: Contract, milestone_id: int) -> Milestone:
    """The milestone's own row, without its money (a page's title); Http404 if it is not one of the contract's."""
    return get_object_or_404(contract.milestones.all(), pk=milestone_id)


def milestone_for_party(*, contract: Contract, milestone_id: int) -> Milestone:
    """A milestone of a contract the user is a party to (fetched with contract_for_party), with its money."""
    milestone = get_object_or_404(contract.milestones.all(), pk=milestone_id)
    milestone.contract = contract
    milestone_money(milestone)
    return milestone


def contract_totals(milestones) -> dict:
    """Totals for the contract page, from the ledger (partial refunds and partial releases count)."""
    zero = Decimal("0.00")
    return {
        "in_escrow": sum((m.money.held for m in milestones), zero),
        "released": sum((m.money.released for m in milestones), zero),
        "remaining": sum((m.amount for m in milestones if m.state == Milestone.State.DRAFT), zero),
    }


DRAFT_ACTIONS = ("propose_edit", "propose_remove", "propose_move")
ACTIVITY_LIMIT = 50  # the contract page's activity list: the latest events (the thread keeps them all)


def _milestone_buttons(milestones, user: User, *, pending_changes, finished_as_rows: bool = False) -> None:
    """Set on each milestone what its card shows: its money (one query for all), open dispute (one), pending
    submission (one) and the buttons this user may use (the policy, from what is loaded: no query).
    `finished_as_rows`: finished milestones are table rows without buttons (the contract page); the policy
    is not asked about them (a bonus is offered on the milestone's own page)."""
    milestones_money(milestones)
    milestone_open_disputes(milestones)
    pending = {
        s.milestone_id: s
        for s in Submission.objects.filter(milestone__in=[m.pk for m in milestones], status=Submission.Status.PENDING)
    }
    refund_requested = {c.milestone_id for c in pending_changes if c.kind == MilestoneChange.Kind.REFUND}
    names = policy.PARTY_BUTTONS + policy.PARTY_DANGER_BUTTONS + DRAFT_ACTIONS
    for milestone in milestones:
        milestone.in_escrow = milestone.money.held
        milestone.pending_submission = pending.get(milestone.pk)
        asked = milestone.pk in refund_requested
        if finished_as_rows and milestone.state in Milestone.FINISHED_STATES:
            milestone.buttons = milestone.danger_actions = milestone.draft_actions = []
            continue
        buttons = policy.milestone_buttons(user, milestone, names, pending_refund_request=asked)
        milestone.buttons = [b for b in buttons if b.name in policy.PARTY_BUTTONS]
        milestone.danger_actions = [b for b in buttons if b.name in policy.PARTY_DANGER_BUTTONS]
        milestone.draft_actions = [b for b in buttons if b.name in DRAFT_ACTIONS]


def _pending_changes(contract: Contract, user: User) -> list[MilestoneChange]:
    return list(
        contract.changes.filter(status=MilestoneChange.Status.PENDING).select_related("milestone", "proposed_by")
    )


def contract_page(*, contract: Contract, user: User) -> dict:
    """Everything the contract page shows, in a constant number of queries."""
    milestones = list(contract.milestones.all())  # each milestone's .contract is this object: no extra query
    pending_changes = _pending_changes(contract, user)
    _milestone_buttons(milestones, user, pending_changes=pending_changes, finished_as_rows=True)
    money = {m.pk: m.money for m in milestones}
    drafts = [m for m in milestones if m.state == Milestone.State.DRAFT]
    for milestone in drafts:
        milestone.can_move = len(drafts) > 1
    active_milestones = [m for m in milestones if m.state != Milestone.State.CANCELLED]
    titles = {m.pk: m.title for m in milestones}
    for change in pending_changes:
        change.summary = _change_summary(change, titles, money)
        change.can_answer = bool(policy.change_may_answer(user, change))
        change.accept_verdict = policy.change_may_accept(user, change)
        change.can_withdraw = bool(policy.change_may_withdraw(user, change))
    open_money = sum(1 for m in milestones if m.state in Milestone.OPEN_MONEY_STATES)
    events = list(contract.events.select_related("actor", "milestone")[: ACTIVITY_LIMIT + 1])
    return {
        "contract": contract,
        "role": policy.contract_role(contract, user),
        # Cards for the milestones still under way; one table row for each finished one (a long contract is
        # mostly finished milestones, which have nothing left to do: their page has the details).
        "milestones": [m for m in active_milestones if m.state not in Milestone.FINISHED_STATES],
        "finished_milestones": [m for m in active_milestones if m.state in Milestone.FINISHED_STATES],
        "cancelled_milestones": [m for m in milestones if m.state == Milestone.State.CANCELLED],
        "drafts": drafts,
        "totals": contract_totals(milestones),
        "fees": fee_breakdown(active_milestones, contract.fee_percent),
        "can_end": bool(policy.contract_may_end(user, contract, open_money=open_money)),
        "can_add_milestone": bool(policy.contract_may_add_milestone(user, contract, milestone_count=len(milestones))),
        "pending_changes": pending_changes,
        "events": events[:ACTIVITY_LIMIT],
        "more_events": len(events) > ACTIVITY_LIMIT,
        "timeline": contract_timeline(contract=contract, milestones=active_milestones),
    }


def milestone_page(*, contract: Contract, milestone_id: int, user: User) -> dict:
    """One milestone with its submissions (files and hashes), its own record and timeline, in fixed queries
    that do not grow with the contract's other milestones."""
    milestone = get_object_or_404(contract.milestones.all(), pk=milestone_id)
    milestone.contract = contract
    _milestone_buttons([milestone], user, pending_changes=_pending_changes(contract, user))
    submissions = list(milestone.submissions.select_related("submitted_by").prefetch_related("files"))
    events = list(milestone.events.select_related("actor").order_by("created_at", "id"))
    if any(b.name == "propose_move" for b in milestone.draft_actions):
        # A draft moves up or down only among other drafts: whether there are any (one query).
        milestone.can_move = contract.milestones.filter(state=Milestone.State.DRAFT).exclude(pk=milestone.pk).exists()
    for event in events:
        event.contract, event.milestone = contract, milestone
    return {
        "contract": contract,
        "role": policy.contract_role(contract, user),
        "milestone": milestone,
        "submissions": submissions,
        "events": events,
        "timeline": [_milestone_steps(milestone, [(e.kind, e.created_at) for e in events])],
    }


# --- the timeline: each milestone's life as ordered steps ---


@dataclass(frozen=True)
class Step:
    kind: str  # the event kind, "created", or "review_ends" (a step still to come)
    label: str
    at: object  # a datetime
    to_come: bool = False


@dataclass(frozen=True)
class MilestoneLife:
    milestone: Milestone
    steps: list[Step]


def _milestone_steps(milestone: Milestone, happened) -> MilestoneLife:
    """`happened`: (kind, time) of the milestone's events, oldest first."""
    steps = [Step("created", gettext("Created"), milestone.created_at)]
    for kind, at in happened:
        found = events.spec(kind)
        if found is not None and found.step:
            steps.append(Step(kind, str(found.step), at))
    submission = getattr(milestone, "pending_submission", None)
    if milestone.state == Milestone.State.SUBMITTED and submission is not None and submission.review_deadline:
        steps.append(Step("review_ends", gettext("Review ends"), submission.review_deadline, True))
    return MilestoneLife(milestone, steps)


def contract_timeline(*, contract: Contract, milestones) -> list[MilestoneLife]:
    """Every milestone's life, from the contract's events in one query (only the columns it needs)."""
    kinds = [kind for kind, found in events.SPECS.items() if found.step]
    rows = (
        contract.events.filter(milestone__isnull=False, kind__in=kinds)
        .order_by("created_at", "id")
        .values_list("milestone_id", "kind", "created_at")
    )
    by_milestone: dict[int, list] = {m.pk: [] for m in milestones}
    for milestone_id, kind, at in rows:
        if milestone_id in by_milestone:
            by_milestone[milestone_id].append((kind, at))
    return [_milestone_steps(m, by_milestone[m.pk]) for m in milestones]


def _change_summary(change: MilestoneChange, titles: dict[int, str], money: dict[int, MilestoneMoney]) -> str:
    if change.kind == MilestoneChange.Kind.REORDER:
        return "New order: " + " → ".join(titles.get(pk, "?") for pk in change.payload["order"])
    if change.kind == MilestoneChange.Kind.DELETE:
        return f"Remove “{change.milestone.title}”"
    if change.kind == MilestoneChange.Kind.REFUND:
        held = money[change.milestone_id].held if change.milestone_id in money else None
        return f"Refund “{change.milestone.title}” to the client" + (f" ({format_money(held)})" if held else "")
    terms = MilestoneTerms.from_payload(change.payload)
    what = f"“{terms.title}”, {format_money(terms.amount)}, delivery {terms.due_date:%b %-d, %Y}"
    if change.kind == MilestoneChange.Kind.EDIT:
        return f"Change “{change.milestone.title}” to {what}"
    return f"Add {what}"


def contract_list(*, user: User, status: str | None = None):
    """The user's contracts, newest first (lazy: paginate it, then call `contracts_money` on the page)."""
    contracts = Contract.objects.filter(_party(user))
    if status:
        contracts = contracts.filter(status=status)
    return contracts.order_by("-created_at", "-id")


def contracts_money(contracts) -> list[Contract]:
    """Set `in_escrow`, `released` and `remaining` on each contract, from the ledger, in two queries."""
    contracts = list(contracts)
    milestones = list(Milestone.objects.filter(contract__in=contracts).order_by())
    milestones_money(milestones)
    by_contract: dict[int, list[Milestone]] = {c.pk: [] for c in contracts}
    for milestone in milestones:
        by_contract[milestone.contract_id].append(milestone)
    for contract in contracts:
        totals = contract_totals(by_contract[contract.pk])
        contract.in_escrow, contract.released, contract.remaining = (
            totals["in_escrow"],
            totals["released"],
            totals["remaining"],
        )
    return contracts


# --- dashboard ---

DASHBOARD_LIMIT = 20
DASHBOARD_CONTRACTS = 10  # active contracts with their money
DASHBOARD_ENDED = 5


def _latest_revision_author():
    return Subquery(OfferRevision.objects.filter(offer=OuterRef("pk")).order_by("-number").values("author")[:1])


def _latest_revision_title():
    return Subquery(OfferRevision.objects.filter(offer=OuterRef("pk")).order_by("-number").values("title")[:1])


def _pending_review_deadline():
    pending = Submission.objects.filter(milestone=OuterRef("pk"), status=Submission.Status.PENDING).order_by()
    return Subquery(pending.values("review_deadline")[:1])  # at most one pending (a unique index): no ordering


def _awaiting_client(milestone: Milestone, user: User) -> bool:
    return milestone.state == Milestone.State.SUBMITTED and milestone.contract.freelancer_id == user.pk


def dashboard(*, user: User) -> dict:
    """The user's contracts by status and everything waiting for them, in both roles."""
    pending_offers = (
        Offer.objects.filter(_party(user), status=Offer.Status.PENDING)
        .annotate(latest_author=_latest_revision_author(), latest_title=_latest_revision_title())
        .select_related("client", "freelancer")
        .order_by("-updated_at")
    )
    pending_offers = list(pending_offers[:DASHBOARD_LIMIT])
    active = Contract.objects.filter(_party(user), status=Contract.Status.ACTIVE)
    milestones = list(
        # From the user's active contracts (their indexes), not a scan of every milestone in those states.
        Milestone.objects.filter(contract__in=active.values("pk"))
        .filter(
            Q(contract__client=user, state__in=[Milestone.State.DRAFT, Milestone.State.SUBMITTED])
            | Q(
                contract__freelancer=user,
                state__in=[Milestone.State.FUNDED, Milestone.State.CHANGES_REQUESTED, Milestone.State.SUBMITTED],
            )
        )
        .select_related("contract")
        .annotate(review_deadline=_pending_review_deadline())
        .order_by("due_date", "contract_id", "position")[:DASHBOARD_LIMIT]
    )
    milestones_money(milestones)  # one query: what is held, not the agreed amount
    changes = list(
        MilestoneChange.objects.filter(status=MilestoneChange.Status.PENDING)
        .filter(Q(contract__client=user) | Q(contract__freelancer=user))
        .exclude(proposed_by=user)
        .select_related("contract", "milestone", "proposed_by")[:DASHBOARD_LIMIT]
    )
    # What the page shows, newest first: the money of a few active contracts, the names of a few ended ones (the
    # contract list has them all). The names are the contract's own columns: no user rows to join.
    newest_active = list(active.order_by("-created_at", "-id")[: DASHBOARD_CONTRACTS + 1])  # one more: are there?
    active_contracts = contracts_money(newest_active[:DASHBOARD_CONTRACTS])
    ended = contract_list(user=user, status=Contract.Status.ENDED)[:DASHBOARD_ENDED]
    return {
        "offers_to_answer": [o for o in pending_offers if policy.is_turn_of(user, latest_author_id=o.latest_author)],
        "offers_waiting": [o for o in pending_offers if not policy.is_turn_of(user, latest_author_id=o.latest_author)],
        # The freelancer's submitted work waits for the client: paid automatically at its review deadline.
        "milestones_to_act": [m for m in milestones if not _awaiting_client(m, user)],
        "payments_coming": sorted(
            (m for m in milestones if _awaiting_client(m, user)),
            key=lambda m: (m.review_deadline is None, m.review_deadline),
        ),
        "changes_to_answer": changes,
        "active_contracts": active_contracts,
        "more_active_contracts": len(newest_active) > DASHBOARD_CONTRACTS,
        "ended_contracts": list(ended),
    }


# --- disputes ---


def dispute_for_party(*, contract: Contract, dispute_id: int):
    """A dispute on a contract the user is a party to (fetched with contract_for_party); 404 otherwise."""
    dispute = get_object_or_404(
        Dispute.objects.select_related("milestone", "opened_by", "assigned_to"),
        pk=dispute_id,
        milestone__contract=contract,
    )
    dispute.milestone.contract = contract
    return dispute


def dispute_page(*, dispute, user: User) -> dict:
    """Everything the parties' dispute page shows, in a constant number of queries."""
    milestone = dispute.milestone
    contract = milestone.contract
    money = milestone_money(milestone)
    proposals = list(dispute.proposals.select_related("proposed_by").order_by("-created_at", "-id"))
    for proposal in proposals:
        proposal.dispute = dispute
        proposal.can_answer = bool(policy.dispute_proposal_may_answer(user, proposal))
    events = list(
        contract.events.filter(milestone=milestone, created_at__gte=dispute.created_at)
        .select_related("actor", "milestone", "contract")
        .order_by("created_at", "id")
    )
    return {
        "contract": contract,
        "milestone": milestone,
        "dispute": dispute,
        "money": money,
        "role": policy.contract_role(contract, user),
        "evidence": list(dispute.evidence.select_related("author").prefetch_related("files")),
        "proposals": proposals,
        "pending_proposal": next((p for p in proposals if p.status == "pending"), None),
        "events": events,
        "can_add_evidence": bool(policy.dispute_may(user, dispute, "add_evidence")),
        "can_propose": bool(policy.dispute_may(user, dispute, "propose")),
        "can_withdraw": bool(policy.dispute_may(user, dispute, "withdraw")),
    }


def milestone_open_disputes(milestones) -> None:
    """Set `open_dispute` on each milestone (one query)."""
    by_milestone = {
        d.milestone_id: d for d in Dispute.objects.filter(milestone__in=list(milestones), state__in=Dispute.OPEN_STATES)
    }
    for milestone in milestones:
        milestone.open_dispute = by_milestone.get(milestone.pk)


def dispute_staff_page(*, dispute) -> dict:
    """Everything staff need to decide a dispute, on one page: terms, submissions with their files and
    SHA-256, the thread, both parties' evidence, proposals and the milestone's record (fixed queries)."""
    from messaging.models import Message

    milestone = dispute.milestone
    contract = milestone.contract
    thread = contract.offer.thread
    messages = []
    if thread is not None:
        messages = list(
            Message.objects.filter(thread=thread)
            .select_related("sender")
            .prefetch_related("attachments")
            .order_by("id")
        )
    return {
        "dispute": dispute,
        "milestone": milestone,
        "contract": contract,
        "money": milestone_money(milestone),
        "submissions": list(milestone.submissions.select_related("submitted_by").prefetch_related("files")),
        "evidence": list(dispute.evidence.select_related("author").prefetch_related("files")),
        "proposals": list(dispute.proposals.select_related("proposed_by")),
        "events": list(contract.events.filter(milestone=milestone).select_related("actor", "milestone", "contract")),
        "thread_messages": messages,
    }


# --- the wallet ---


def wallet_reference_links(references: list[str], *, user: User) -> dict:
    """Escrow's describer for "milestone:" references (settings.ESCROW_REFERENCE_LINKS): the contract and
    milestone each one pays for, linked, for the user's own contracts only (others are left out). One query.

    "milestone:<id>" is a milestone's escrow; "milestone:<id>:<key>" a bonus on it."""
    from escrow.selectors import ReferenceLink

    ids = {}
    for reference in references:
        _prefix, number, *_bonus = reference.split(":", 2)
        if number.isdigit():
            ids[reference] = int(number)
    milestones = Milestone.objects.filter(pk__in=set(ids.values())).filter(
        Q(contract__client=user) | Q(contract__freelancer=user)
    )
    found = {m.pk: m for m in milestones.select_related("contract")}
    links = {}
    for reference, pk in ids.items():
        milestone = found.get(pk)
        if milestone is not None:
            contract = milestone.contract
            links[reference] = ReferenceLink(
                group=contract.title,
                group_url=contract.get_absolute_url(),
                item=milestone.title,
                item_url=milestone.get_absolute_url(),
            )
    return links
