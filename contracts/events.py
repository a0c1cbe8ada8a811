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
from django.utils.translation import gettext, gettext_lazy

from marketplace.formats import format_date, format_datetime
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
    # The whole sentence, with {actor} (a name, or "The platform") and {milestone} (its title in quotes, or
    # "a milestone"): "{actor} submitted work on {milestone}". Amounts and the note are added after it.
    sentence: str
    notify: Notify
    category: str = "contract"  # notification category (email preference), registered with messaging
    data: tuple[str, ...] = ()  # the structured fields the event carries
    in_thread: bool = True  # posted into the parties' thread (the documented record)
    extra: str = ""  # a sentence added to the notification
    step: str = ""  # its name as a step of a milestone's life on the timeline ("" = not a step)


K = EventKind
_ = gettext_lazy
SPECS: dict[EventKind, EventSpec] = {
    K.CONTRACT_STARTED: EventSpec(_("{actor} started the contract"), Notify.NOBODY, data=("revision",)),
    K.CONTRACT_ENDED: EventSpec(_("{actor} ended the contract"), Notify.OTHER_PARTY),
    K.MILESTONE_ADDED: EventSpec(
        _("{actor} added the milestone {milestone}"), Notify.OTHER_PARTY, data=("amount",), step=_("Added")
    ),
    K.MILESTONE_EDITED: EventSpec(
        _("{actor} changed the milestone {milestone}"), Notify.OTHER_PARTY, data=("amount",), step=_("Changed")
    ),
    K.MILESTONES_REORDERED: EventSpec(_("{actor} reordered the milestones"), Notify.OTHER_PARTY),
    K.CHANGE_PROPOSED_ADD: EventSpec(_("{actor} proposed a new milestone"), Notify.OTHER_PARTY, data=("amount",)),
    K.CHANGE_PROPOSED_EDIT: EventSpec(
        _("{actor} proposed changing the milestone {milestone}"), Notify.OTHER_PARTY, data=("amount",)
    ),
    K.CHANGE_PROPOSED_DELETE: EventSpec(_("{actor} proposed removing the milestone {milestone}"), Notify.OTHER_PARTY),
    K.CHANGE_PROPOSED_REORDER: EventSpec(_("{actor} proposed a new milestone order"), Notify.OTHER_PARTY),
    K.CHANGE_PROPOSED_REFUND: EventSpec(
        _("{actor} asked for a refund of {milestone}"),
        Notify.OTHER_PARTY,
        data=("amount",),
        extra=_("Open the contract to agree or decline."),
        step=_("Refund asked"),
    ),
    K.CHANGE_ACCEPTED: EventSpec(_("{actor} accepted a proposed change"), Notify.OTHER_PARTY, data=("change",)),
    K.CHANGE_DECLINED: EventSpec(_("{actor} declined a proposed change"), Notify.OTHER_PARTY, data=("change",)),
    K.CHANGE_WITHDRAWN: EventSpec(_("{actor} withdrew a proposed change"), Notify.OTHER_PARTY, data=("change",)),
    K.FUND: EventSpec(_("{actor} funded {milestone}"), Notify.OTHER_PARTY, data=("amount",), step=_("Funded")),
    K.SUBMIT: EventSpec(
        _("{actor} submitted work on {milestone}"),
        Notify.OTHER_PARTY,
        data=("submission", "review_deadline"),
        extra=_("Review it before the deadline, or it is approved and paid automatically."),
        step=_("Submitted"),
    ),
    K.WITHDRAW_SUBMISSION: EventSpec(
        _("{actor} withdrew the submission of {milestone}"), Notify.OTHER_PARTY, step=_("Submission withdrawn")
    ),
    K.REQUEST_CHANGES: EventSpec(
        _("{actor} requested changes on {milestone}"), Notify.OTHER_PARTY, step=_("Changes requested")
    ),
    # The release that follows is the notification.
    K.APPROVE: EventSpec(_("{actor} approved {milestone}"), Notify.NOBODY, step=_("Approved")),
    K.RELEASE: EventSpec(
        _("{actor} released payment for {milestone}"),
        Notify.OTHER_PARTY,
        data=("released", "fee", "received"),
        step=_("Released"),
    ),
    K.BONUS: EventSpec(
        _("{actor} paid a bonus on {milestone}"),
        Notify.OTHER_PARTY,
        data=("amount", "fee", "received"),
        step=_("Bonus paid"),
    ),
    K.REFUND: EventSpec(_("{actor} refunded {milestone}"), Notify.OTHER_PARTY, data=("refunded",), step=_("Refunded")),
    K.PARTIAL_REFUND: EventSpec(
        _("{actor} refunded part of {milestone}"),
        Notify.OTHER_PARTY,
        data=("refunded", "remaining"),
        step=_("Part refunded"),
    ),
    K.CANCEL: EventSpec(_("{actor} cancelled {milestone}"), Notify.NOBODY, step=_("Cancelled")),
    K.DISPUTE: EventSpec(
        _("{actor} opened a dispute on {milestone}"),
        Notify.OTHER_PARTY,
        extra=_("The money stays in escrow until staff decide."),
        step=_("Disputed"),
    ),
    K.RESOLVE_RELEASE: EventSpec(
        _("{actor} decided the dispute on {milestone} for the freelancer"),
        Notify.BOTH,
        data=("released", "fee", "received"),
        step=_("Decided: released"),
    ),
    K.RESOLVE_REFUND: EventSpec(
        _("{actor} decided the dispute on {milestone} for the client"),
        Notify.BOTH,
        data=("refunded",),
        step=_("Decided: refunded"),
    ),
    K.PARTIAL_RELEASE: EventSpec(
        _("{actor} released part of the payment for {milestone}"),
        Notify.OTHER_PARTY,
        data=("released", "fee", "received", "remaining"),
        step=_("Part released"),
    ),
    K.DISPUTE_EVIDENCE: EventSpec(
        _("{actor} added evidence to the dispute on {milestone}"), Notify.OTHER_PARTY, data=("dispute", "files")
    ),
    K.DISPUTE_PROPOSAL: EventSpec(
        _("{actor} proposed a settlement of the dispute on {milestone}"),
        Notify.OTHER_PARTY,
        data=("dispute", "to_freelancer", "to_client"),
        extra=_("Open the dispute to accept or decline it."),
    ),
    K.DISPUTE_PROPOSAL_DECLINED: EventSpec(
        _("{actor} declined the proposed settlement of the dispute on {milestone}"),
        Notify.OTHER_PARTY,
        data=("dispute",),
    ),
    K.DISPUTE_UNDER_REVIEW: EventSpec(
        _("{actor} passed the dispute on {milestone} to staff"),
        Notify.BOTH,
        data=("dispute",),
        extra=_("Staff will read the record and decide."),
    ),
    K.DISPUTE_ASSIGNED: EventSpec(
        _("{actor} took on the dispute on {milestone}"), Notify.NOBODY, data=("dispute",), in_thread=False
    ),
    K.SETTLE: EventSpec(
        _("{actor} settled the dispute on {milestone}"),
        Notify.OTHER_PARTY,
        data=("to_freelancer", "to_client", "fee", "received"),
        step=_("Settled"),
    ),
    K.END_DISPUTE: EventSpec(
        _("{actor} withdrew the dispute on {milestone}"),
        Notify.OTHER_PARTY,
        data=("dispute", "review_deadline"),
        step=_("Dispute withdrawn"),
    ),
    K.RESOLVE_SPLIT: EventSpec(
        _("{actor} decided the dispute on {milestone} with a split"),
        Notify.BOTH,
        data=("to_freelancer", "to_client", "fee", "received"),
        step=_("Decided: split"),
    ),
    K.REVIEW_REMINDER: EventSpec(
        _("{actor} reminded the client to review {milestone}"),
        Notify.CLIENT,
        category="reminder",
        data=("review_deadline",),
        in_thread=False,
    ),
    K.CONTRACT_QUIET: EventSpec(
        _("{actor} asked both parties whether to end this quiet contract"),
        Notify.BOTH,
        data=("quiet_since", "ends_at"),
    ),
    K.CONTRACT_KEPT_OPEN: EventSpec(_("{actor} chose to keep the contract open"), Notify.OTHER_PARTY),
    K.OVERDUE_FREELANCER: EventSpec(
        _("{actor} reminded the freelancer that {milestone} is overdue"),
        Notify.FREELANCER,
        category="reminder",
        data=("due_date",),
    ),
    K.OVERDUE_CLIENT: EventSpec(
        _("{actor} reminded the client that {milestone} is overdue"),
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
    """What happened, without who and to which milestone: "submitted work on" (for compact lists)."""
    found = spec(kind)
    if found is None:
        return kind.replace("_", " ")
    return str(found.sentence).replace("{actor}", "").replace("{milestone}", "").strip()


def _money(event, name: str) -> str:
    value = (event.data or {}).get(name)
    return format_money(Decimal(value)) if value not in (None, "") else ""


def _after_fee(event) -> str:
    fee = _money(event, "fee")
    return gettext(" after a {fee} platform fee").format(fee=fee) if fee and Decimal(event.data["fee"]) else ""


class _Amounts(dict):
    """An event's amounts in words by name (and the parties' names), each formatted when a sentence asks for it: a
    sentence names one or two of them."""

    def __init__(self, event):
        super().__init__(freelancer=event.contract.freelancer_name, client=event.contract.client_name)
        self.event = event

    def __missing__(self, name: str) -> str:
        self[name] = value = _money(self.event, name)
        return value

    def with_fee(self) -> _Amounts:
        self["after"] = _after_fee(self.event)
        return self


def event_detail(event) -> str:
    """The amounts (and other data) of an event, in words: "$90.00 released to Felix after a $10.00 fee"."""
    kind = event.kind
    m = _Amounts(event)
    if kind == K.FUND:
        return gettext("{amount} is now held in escrow").format_map(m)
    if kind in (K.SETTLE, K.RESOLVE_SPLIT):
        return gettext("{received} to {freelancer}{after}, {to_client} back to {client}").format_map(m.with_fee())
    if kind == K.DISPUTE_PROPOSAL:
        return gettext("{to_freelancer} to {freelancer}, {to_client} back").format_map(m)
    if kind == K.PARTIAL_RELEASE:
        return gettext("{received} to {freelancer}{after}; {remaining} stays in escrow").format_map(m.with_fee())
    if kind in (K.RELEASE, K.RESOLVE_RELEASE):
        return gettext("{received} released to {freelancer}{after}").format_map(m.with_fee())
    if kind == K.BONUS:
        return gettext("{amount}; {freelancer} receives {received}").format_map(m)
    if kind in (K.REFUND, K.RESOLVE_REFUND):
        return gettext("{refunded} returned to {client}").format_map(m)
    if kind == K.PARTIAL_REFUND:
        return gettext("{refunded} returned to {client}; {remaining} stays in escrow").format_map(m)
    if kind in (K.CHANGE_PROPOSED_REFUND, K.MILESTONE_ADDED, K.CHANGE_PROPOSED_ADD, K.CHANGE_PROPOSED_EDIT):
        return m["amount"]
    if kind == K.SUBMIT:
        number = event.data.get("submission")
        return gettext("submission {number}").format(number=number) if number else ""
    if kind in (K.CHANGE_ACCEPTED, K.CHANGE_DECLINED, K.CHANGE_WITHDRAWN):
        return event.data.get("change", "")
    return ""


PLATFORM = gettext_lazy("The platform")  # the actor when nobody acted: the review-period sweep, quiet contracts


def event_sentence(kind: str, *, actor: str, milestone: str | None) -> str:
    """The kind's sentence for an actor's name and a milestone's title (None: the event names none)."""
    found = spec(kind)
    template = str(found.sentence) if found else "{actor}: " + kind.replace("_", " ")
    what = f"“{milestone}”" if milestone is not None else gettext("a milestone")
    return template.format(actor=actor, milestone=what)


def full_stop(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def event_text(event) -> str:
    """One whole sentence for the thread, the activity list, notifications and the evidence bundle:
    "Clara Client funded “Design” ($300.00 is now held in escrow)." """
    who = event.actor.name if event.actor else str(PLATFORM)
    title = event.milestone.title if event.milestone_id is not None else None
    text = event_sentence(event.kind, actor=who, milestone=title)
    detail = event_detail(event)
    if detail:
        text += f" ({detail})"
    if event.note:
        text += f": {event.note.strip()}"
    return full_stop(text)


def _link_target(event) -> tuple[str, tuple[int, ...]]:
    """The URL name and arguments of the page an event links to."""
    if event.kind == K.CONTRACT_QUIET:
        return "contracts:contract_quiet", (event.contract_id,)
    if event.milestone_id:
        return "contracts:milestone_detail", (event.contract_id, event.milestone_id)
    return "contracts:contract_detail", (event.contract_id,)


def event_link(event) -> str:
    name, args = _link_target(event)
    return reverse(name, args=args)


_STAND_INS = (918273645, 546372819)  # ids standing for the real ones in `event_links`' patterns


def event_links(events) -> list[str]:
    """`event_link` of each of many events (a sweep's batch), with one `reverse` for each URL name: Django's `reverse`
    costs ~30 µs a call here. Each name is reversed once with stand-in ids, which become the pattern's fields."""
    patterns, links = {}, []
    for event in events:
        name, args = _link_target(event)
        if name not in patterns:
            path = reverse(name, args=_STAND_INS[: len(args)])
            for position, stand_in in enumerate(_STAND_INS[: len(args)]):
                path = path.replace(str(stand_in), f"{{{position}}}")
            patterns[name] = path
        links.append(patterns[name].format(*args))
    return links


def event_recipient_ids(event) -> list[int]:
    """The ids of the users notified of `event`, by its kind's rule (the acting user is never notified)."""
    found = spec(event.kind)
    if found is None or found.notify == Notify.NOBODY:
        return []
    contract = event.contract
    if found.notify == Notify.CLIENT:
        chosen = [contract.client_id]
    elif found.notify == Notify.FREELANCER:
        chosen = [contract.freelancer_id]
    else:
        chosen = [contract.client_id, contract.freelancer_id]
    if found.notify == Notify.OTHER_PARTY and event.actor_id is not None:
        chosen = [pk for pk in chosen if pk != event.actor_id]
    return chosen


def event_recipients(event) -> list:
    """The users notified of `event` (`event_recipient_ids`)."""
    contract = event.contract
    return [contract.client if pk == contract.client_id else contract.freelancer for pk in event_recipient_ids(event)]


def _quoted(title: str) -> str:
    return gettext("“%(title)s”") % {"title": title}


def notification_text(event) -> str:
    """The in-app notification of `event`, in the active language and timezone: the recipient's (callers render
    it inside marketplace.i18n.recipient_locale, as messaging.services.notify does for a function)."""
    found = spec(event.kind)
    if event.kind == K.REVIEW_REMINDER:
        deadline = datetime.fromisoformat(event.data["review_deadline"])
        return gettext(
            "Reminder: %(milestone)s is approved and paid automatically on %(deadline)s unless you approve it or "
            "request changes before then."
        ) % {"milestone": _quoted(event.milestone.title), "deadline": format_datetime(deadline, zone=True)}
    if event.kind == K.CONTRACT_QUIET:
        ends = datetime.fromisoformat(event.data["ends_at"])
        return gettext(
            "Nothing has happened on %(contract)s for a while and nothing is in escrow. End it now, or keep it "
            "open? If neither of you answers, it ends by itself on %(date)s."
        ) % {"contract": _quoted(event.contract.title), "date": format_date(ends)}
    if event.kind in (K.OVERDUE_FREELANCER, K.OVERDUE_CLIENT):
        values = {
            "milestone": _quoted(event.milestone.title),
            "date": format_date(date.fromisoformat(event.data["due_date"])),
        }
        if event.kind == K.OVERDUE_FREELANCER:
            return (
                gettext(
                    "%(milestone)s was due on %(date)s, is funded, and no work has been submitted. Submit the work, "
                    "or refund the milestone to the client if you can't deliver it."
                )
                % values
            )
        return (
            gettext(
                "%(milestone)s was due on %(date)s, is funded, and no work has been submitted. Message the "
                "freelancer, or open a dispute if the work won't come."
            )
            % values
        )
    text = event_text(event)
    if found and found.extra:
        text += f" {found.extra}"
    if event.kind == K.CONTRACT_ENDED and event.actor_id is None:
        text += " " + gettext("Nothing had happened on it for %(days)d days after you were asked.") % {
            "days": settings.QUIET_CONTRACT_END_AFTER.days
        }
    if event.kind == K.RELEASE and event.actor_id is None:
        text += " " + gettext("The review period ended without an answer: it was approved and released automatically.")
    if event.kind == K.SUBMIT and event.data.get("review_deadline"):
        text += " " + gettext("Automatic approval in %(days)d days.") % {"days": settings.REVIEW_PERIOD.days}
    return text
