"""How an audit event reads, on pages and in the contract's message thread."""

from django.urls import reverse

from marketplace.money import format_money

EVENT_LABELS = {
    "contract_started": "started the contract",
    "contract_ended": "ended the contract",
    "milestone_added": "added a milestone",
    "milestone_edited": "changed a milestone",
    "milestones_reordered": "reordered the milestones",
    "change_accepted": "accepted a proposed change",
    "change_declined": "declined a proposed change",
    "change_proposed_add": "proposed a new milestone",
    "change_proposed_edit": "proposed changing a milestone",
    "change_proposed_delete": "proposed removing a milestone",
    "change_proposed_reorder": "proposed a new milestone order",
    "fund": "funded",
    "bonus": "paid a bonus on",
    "partial_refund": "refunded part of",
    "submit": "submitted work on",
    "withdraw_submission": "withdrew the submission of",
    "request_changes": "requested changes on",
    "approve": "approved",
    "release": "released payment for",
    "refund": "refunded",
    "cancel": "cancelled",
    "dispute": "opened a dispute on",
    "resolve_release": "resolved the dispute (released) on",
    "resolve_refund": "resolved the dispute (refunded) on",
}


def event_text(event) -> str:
    """One line for the thread: who did what, to which milestone, with the amounts and the note."""
    who = event.actor.name if event.actor else "Automatically:"
    label = EVENT_LABELS.get(event.kind, event.kind.replace("_", " "))
    text = f"{who} {label}"
    milestone = event.milestone
    if milestone is not None:
        text += f" “{milestone.title}”"
        if event.kind == "fund":
            text += f" ({format_money(milestone.amount)} is now held in escrow)"
        elif event.kind in ("release", "resolve_release"):
            text += f" ({format_money(milestone.receives)} released to {event.contract.freelancer_name})"
        elif event.kind in ("refund", "resolve_refund"):
            text += f" (escrow returned to {event.contract.client_name})"
    if event.note:
        text += f": {event.note}"
    return text


def event_link(event) -> str:
    if event.milestone_id:
        return reverse("contracts:milestone_detail", args=[event.contract_id, event.milestone_id])
    return reverse("contracts:contract_detail", args=[event.contract_id])
