"""The closed list of contract events: what each is called, who hears about it, and what data it carries.

Every change in the contracts domain writes one `ContractEvent` of one of these kinds (see
`contracts.services.record`). The thread line, the activity list, notifications, emails and the evidence
bundle are all rendered from the event and this table; amounts come from the event's structured `data`
(Decimal values stored as strings), never from prose in a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from marketplace.money import format_money


class EventKind(StrEnum):
    CONTRACT_STARTED = "contract_started"
    CONTRACT_ENDED = "contract_ended"
    MILESTONE_ADDED = "milestone_added"
    MILESTONE_EDITED = "milestone_edited"
    MILESTONES_REORDERED = "milestones_reordered"
    CHANGE_PROPOSED_ADD = "change_proposed_add"
    CHANGE_PROPOSED_EDIT = "change_proposed_edit"
    CHANGE_PROPOSED_DELETE = "change_proposed_delete"
    CHANGE_PROPOSED_REORDER = "change_proposed_reorder"
    CHANGE_PROPOSED_REFUND = "change_proposed_refund"
    CHANGE_ACCEPTED = "change_accepted"
    CHANGE_DECLINED = "change_declined"
    CHANGE_WITHDRAWN = "change_withdrawn"
    FUND = "fund"
    SUBMIT = "submit"
    WITHDRAW_SUBMISSION = "withdraw_submission"
    REQUEST_CHANGES = "request_changes"
    APPROVE = "approve"
    RELEASE = "release"
    BONUS = "bonus"
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    CANCEL = "cancel"
    DISPUTE = "dispute"
    RESOLVE_RELEASE = "resolve_release"
    RESOLVE_REFUND = "resolve_refund"
    REVIEW_REMINDER = "review_reminder"
    PARTIAL_RELEASE = "partial_release"
    DISPUTE_EVIDENCE = "dispute_evidence"
    DISPUTE_PROPOSAL = "dispute_proposal"
    DISPUTE_PROPOSAL_DECLINED = "dispute_proposal_declined"
    DISPUTE_UNDER_REVIEW = "dispute_under_review"
    DISPUTE_ASSIGNED = "dispute_assigned"
    SETTLE = "settle"
    END_DISPUTE = "end_dispute"
    RESOLVE_SPLIT = "resolve_split"
    # Quiet contracts and overdue milestones (contracts.services.quiet).
    CONTRACT_QUIET = "contract_quiet"
    CONTRACT_KEPT_OPEN = "contract_kept_open"
    OVERDUE_FREELANCER = "overdue_freelancer"
    OVERDUE_CLIENT = "overdue_client"


class Notify(StrEnum):
    """Who is notified of an event."""

    OTHER_PARTY = "other_party"  # the party who did not act (both, when the platform acted)
    BOTH = "both"
    CLIENT = "client"
    FREELANCER = "freelancer"
    NOBODY = "nobody"  # recorded and posted in the thread, but nobody is notified


@dataclass(frozen=True)
class EventSpec:
    label: str  # "funded": reads after the actor's name, before the milestone's title
    notify: Notify
    category: str = "contract"  # notification category (email preference), registered with messaging
    data: tuple[str, ...] = ()  # the structured fields the event carries
    in_thread: bool = True  # posted into the parties' thread (the documented record)
    extra: str = ""  # a sentence added to the notification


K = EventKind
SPECS: dict[EventKind, EventSpec] = {
    K.CONTRACT_STARTED: EventSpec("started the contract", Notify.NOBODY, data=("revision",)),
    K.CONTRACT_ENDED: EventSpec("ended the contract", Notify.OTHER_PARTY),
    K.MILESTONE_ADDED: EventSpec("added a milestone", Notify.OTHER_PARTY, data=("amount",)),
    K.MILESTONE_EDITED: EventSpec("changed a milestone", Notify.OTHER_PARTY, data=("amount",)),
    K.MILESTONES_REORDERED: EventSpec("reordered the milestones", Notify.OTHER_PARTY),
    K.CHANGE_PROPOSED_ADD: EventSpec("proposed a new milestone", Notify.OTHER_PARTY, data=("amount",)),
    K.CHANGE_PROPOSED_EDIT: EventSpec("proposed changing a milestone", Notify.OTHER_PARTY, data=("amount",)),
    K.CHANGE_PROPOSED_DELETE: EventSpec("proposed removing a milestone", Notify.OTHER_PARTY),
    K.CHANGE_PROPOSED_REORDER: EventSpec("proposed a new milestone order", Notify.OTHER_PARTY),
    K.CHANGE_PROPOSED_REFUND: EventSpec(
        "asked for a refund of", Notify.OTHER_PARTY, data=("amount",), extra="Open the contract to agree or decline."
    ),
    K.CHANGE_ACCEPTED: EventSpec("accepted a proposed change", Notify.OTHER_PARTY, data=("change",)),
    K.CHANGE_DECLINED: EventSpec("declined a proposed change", Notify.OTHER_PARTY, data=("change",)),
    K.CHANGE_WITHDRAWN: EventSpec("withdrew a proposed change", Notify.OTHER_PARTY, data=("change",)),
    K.FUND: EventSpec("funded", Notify.OTHER_PARTY, data=("amount",)),
    K.SUBMIT: EventSpec(
        "submitted work on",
        Notify.OTHER_PARTY,
        data=("submission", "review_deadline"),
        extra="Review it before the deadline, or it is approved and paid automatically.",
    ),
    K.WITHDRAW_SUBMISSION: EventSpec("withdrew the submission of", Notify.OTHER_PARTY),
    K.REQUEST_CHANGES: EventSpec("requested changes on", Notify.OTHER_PARTY),
    K.APPROVE: EventSpec("approved", Notify.NOBODY),  # the release that follows is the notification
    K.RELEASE: EventSpec("released payment for", Notify.OTHER_PARTY, data=("released", "fee", "received")),
    K.BONUS: EventSpec("paid a bonus on", Notify.OTHER_PARTY, data=("amount", "fee", "received")),
    K.REFUND: EventSpec("refunded", Notify.OTHER_PARTY, data=("refunded",)),
    K.PARTIAL_REFUND: EventSpec("refunded part of", Notify.OTHER_PARTY, data=("refunded", "remaining")),
    K.CANCEL: EventSpec("cancelled", Notify.NOBODY),
    K.DISPUTE: EventSpec(
        "opened a dispute on", Notify.OTHER_PARTY, extra="The money stays in escrow until staff decide."
    ),
    K.RESOLVE_RELEASE: EventSpec(
        "resolved the dispute (released) on", Notify.BOTH, data=("released", "fee", "received")
    ),
    K.RESOLVE_REFUND: EventSpec("resolved the dispute (refunded) on", Notify.BOTH, data=("refunded",)),
    K.PARTIAL_RELEASE: EventSpec(
        "released part of the payment for", Notify.OTHER_PARTY, data=("released", "fee", "received", "remaining")
    ),
    K.DISPUTE_EVIDENCE: EventSpec("added evidence to the dispute on", Notify.OTHER_PARTY, data=("dispute", "files")),
    K.DISPUTE_PROPOSAL: EventSpec(
        "proposed a settlement of the dispute on",
        Notify.OTHER_PARTY,
        data=("dispute", "to_freelancer", "to_client"),
        extra="Open the dispute to accept or decline it.",
    ),
    K.DISPUTE_PROPOSAL_DECLINED: EventSpec(
        "declined the proposed settlement of", Notify.OTHER_PARTY, data=("dispute",)
    ),
    K.DISPUTE_UNDER_REVIEW: EventSpec(
        "passed the dispute to staff for",
        Notify.BOTH,
        data=("dispute",),
        extra="Staff will read the record and decide.",
    ),
    K.DISPUTE_ASSIGNED: EventSpec("took on the dispute of", Notify.NOBODY, data=("dispute",), in_thread=False),
    K.SETTLE: EventSpec(
        "settled the dispute on", Notify.OTHER_PARTY, data=("to_freelancer", "to_client", "fee", "received")
    ),
    K.END_DISPUTE: EventSpec("withdrew the dispute on", Notify.OTHER_PARTY, data=("dispute", "review_deadline")),
    K.RESOLVE_SPLIT: EventSpec(
        "resolved the dispute (split) on", Notify.BOTH, data=("to_freelancer", "to_client", "fee", "received")
    ),
    K.REVIEW_REMINDER: EventSpec(
        "reminded the client about", Notify.CLIENT, category="reminder", data=("review_deadline",), in_thread=False
    ),
    K.CONTRACT_QUIET: EventSpec(
        "asked both parties whether to end this quiet contract", Notify.BOTH, data=("quiet_since", "ends_at")
    ),
    K.CONTRACT_KEPT_OPEN: EventSpec("chose to keep the contract open", Notify.OTHER_PARTY),
    K.OVERDUE_FREELANCER: EventSpec(
        "reminded the freelancer about the overdue", Notify.FREELANCER, category="reminder", data=("due_date",)
    ),
    K.OVERDUE_CLIENT: EventSpec(
        "reminded the client about the overdue",
        Notify.CLIENT,
        category="reminder",
        data=("due_date",),
        in_thread=False,
    ),
}
# Kinds the platform records about a contract's silence itself: they are not activity (contracts.services.quiet).
PROMPT_KINDS = (K.REVIEW_REMINDER, K.CONTRACT_QUIET, K.OVERDUE_FREELANCER, K.OVERDUE_CLIENT)


def spec(kind: str) -> EventSpec | None:
    try:
        return SPECS[EventKind(kind)]
    except ValueError:  # a kind from before this list existed
        return None


def event_label(kind: str) -> str:
    found = spec(kind)
    return found.label if found else kind.replace("_", " ")


def _money(event, name: str) -> str:
    value = (event.data or {}).get(name)
    return format_money(Decimal(value)) if value not in (None, "") else ""


def event_detail(event) -> str:
    """The amounts (and other data) of an event, in words: "$90.00 released to Felix after a $10.00 fee"."""
    kind = event.kind
    contract = event.contract
    if kind == K.FUND:
        return f"{_money(event, 'amount')} is now held in escrow"
    if kind in (K.SETTLE, K.RESOLVE_SPLIT):
        fee = _money(event, "fee")
        after = f" after a {fee} platform fee" if fee and Decimal(event.data["fee"]) else ""
        return (
            f"{_money(event, 'received')} to {contract.freelancer_name}{after}, "
            f"{_money(event, 'to_client')} back to {contract.client_name}"
        )
    if kind == K.DISPUTE_PROPOSAL:
        return f"{_money(event, 'to_freelancer')} to {contract.freelancer_name}, {_money(event, 'to_client')} back"
    if kind == K.PARTIAL_RELEASE:
        fee = _money(event, "fee")
        return (
            f"{_money(event, 'received')} to {contract.freelancer_name} after a {fee} platform fee; "
            f"{_money(event, 'remaining')} stays in escrow"
        )
    if kind in (K.RELEASE, K.RESOLVE_RELEASE):
        fee = _money(event, "fee")
        after = f" after a {fee} platform fee" if fee and Decimal(event.data["fee"]) else ""
        return f"{_money(event, 'received')} released to {contract.freelancer_name}{after}"
    if kind == K.BONUS:
        return f"{_money(event, 'amount')}; {contract.freelancer_name} receives {_money(event, 'received')}"
    if kind in (K.REFUND, K.RESOLVE_REFUND):
        return f"{_money(event, 'refunded')} returned to {contract.client_name}"
    if kind == K.PARTIAL_REFUND:
        returned = f"{_money(event, 'refunded')} returned to {contract.client_name}"
        return f"{returned}; {_money(event, 'remaining')} stays in escrow"
    if kind in (K.CHANGE_PROPOSED_REFUND, K.MILESTONE_ADDED, K.CHANGE_PROPOSED_ADD, K.CHANGE_PROPOSED_EDIT):
        return _money(event, "amount")
    if kind == K.SUBMIT:
        return f"submission {event.data.get('submission')}" if event.data.get("submission") else ""
    if kind in (K.CHANGE_ACCEPTED, K.CHANGE_DECLINED, K.CHANGE_WITHDRAWN):
        return event.data.get("change", "")
    return ""


def event_text(event) -> str:
    """One line for the thread, the activity list, notifications and the evidence bundle."""
    who = event.actor.name if event.actor else "Automatically:"
    text = f"{who} {event_label(event.kind)}"
    if event.milestone_id is not None:
        text += f" “{event.milestone.title}”"
    detail = event_detail(event)
    if detail:
        text += f" ({detail})"
    if event.note:
        text += f": {event.note}"
    return text


def event_link(event) -> str:
    if event.kind == K.CONTRACT_QUIET:
        return reverse("contracts:contract_quiet", args=[event.contract_id])
    if event.milestone_id:
        return reverse("contracts:milestone_detail", args=[event.contract_id, event.milestone_id])
    return reverse("contracts:contract_detail", args=[event.contract_id])


def event_recipients(event) -> list:
    """The users notified of `event`, by its kind's rule (the acting user is never notified)."""
    found = spec(event.kind)
    if found is None:
        return []
    contract = event.contract
    parties = {"client": contract.client, "freelancer": contract.freelancer}
    rule = found.notify
    if rule == Notify.NOBODY:
        return []
    if rule == Notify.CLIENT:
        chosen = [parties["client"]]
    elif rule == Notify.FREELANCER:
        chosen = [parties["freelancer"]]
    else:
        chosen = [parties["client"], parties["freelancer"]]
    if rule == Notify.OTHER_PARTY and event.actor_id is not None:
        chosen = [user for user in chosen if user.pk != event.actor_id]
    return chosen


def _local(value: str, event) -> datetime:
    """A stored ISO time in the timezone of the people told (the client's, as for review reminders)."""
    return timezone.localtime(datetime.fromisoformat(value), event.contract.client.timezone)


def notification_text(event) -> str:
    found = spec(event.kind)
    if event.kind == K.REVIEW_REMINDER:
        client = event.contract.client
        deadline = timezone.localtime(datetime.fromisoformat(event.data["review_deadline"]), client.timezone)
        return (
            f"Reminder: “{event.milestone.title}” is approved and paid automatically on "
            f"{deadline:%b %-d, %Y %H:%M %Z} unless you approve it or request changes before then."
        )
    if event.kind == K.CONTRACT_QUIET:
        ends = _local(event.data["ends_at"], event)
        return (
            f"Nothing has happened on “{event.contract.title}” for a while and nothing is in escrow. End it now, or "
            f"keep it open? If neither of you answers, it ends by itself on {ends:%b %-d, %Y}."
        )
    if event.kind in (K.OVERDUE_FREELANCER, K.OVERDUE_CLIENT):
        due = date.fromisoformat(event.data["due_date"])
        late = f"“{event.milestone.title}” was due on {due:%b %-d, %Y}, is funded, and no work has been submitted."
        if event.kind == K.OVERDUE_FREELANCER:
            return f"{late} Submit the work, or refund the milestone to the client if you can't deliver it."
        return f"{late} Message the freelancer, or open a dispute if the work won't come."
    text = event_text(event)
    if found and found.extra:
        text += f" {found.extra}"
    if event.kind == K.CONTRACT_ENDED and event.actor_id is None:
        text += f" Nothing had happened on it for {settings.QUIET_CONTRACT_END_AFTER.days} days after you were asked."
    if event.kind == K.RELEASE and event.actor_id is None:
        text += " The review period ended without an answer: it was approved and released automatically."
    if event.kind == K.SUBMIT and event.data.get("review_deadline"):
        text += f" Automatic approval in {settings.REVIEW_PERIOD.days} days."
    return text
