from django import template
from django.urls import reverse

register = template.Library()

# Transitions that move money have their own confirmation pages; the rest share one action page.
MONEY_PAGES = {
    "fund": "contracts:milestones_fund",
    "approve": "contracts:milestone_approve",
    "refund": "contracts:milestone_refund",
}


@register.simple_tag
def milestone_action_url(contract, milestone, name: str) -> str:
    if name == "fund":
        return f"{reverse(MONEY_PAGES['fund'], args=[contract.pk])}?milestone={milestone.pk}"
    if name in MONEY_PAGES:
        return reverse(MONEY_PAGES[name], args=[contract.pk, milestone.pk])
    return reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, name])


STATE_CLASSES = {
    "draft": "text-bg-secondary",
    "funded": "text-bg-success",
    "submitted": "text-bg-primary",
    "changes_requested": "text-bg-warning",
    "approved": "text-bg-info",
    "released": "text-bg-dark",
    "refunded": "text-bg-light border",
    "cancelled": "text-bg-light border",
    "disputed": "text-bg-danger",
    # offers and contracts
    "pending": "text-bg-warning",
    "accepted": "text-bg-success",
    "declined": "text-bg-light border",
    "withdrawn": "text-bg-light border",
    "active": "text-bg-success",
    "ended": "text-bg-secondary",
}

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


@register.filter
def state_class(state: str) -> str:
    """Bootstrap badge classes for a milestone, offer or contract state."""
    return STATE_CLASSES.get(state, "text-bg-secondary")


@register.filter
def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, kind.replace("_", " "))
