from django import template
from django.urls import reverse
from django.utils import timezone

from contracts import events, policy

register = template.Library()


@register.simple_tag
def milestone_action_url(contract, milestone, name: str) -> str:
    """Where an action's button leads: its own page (money confirmations, submitting files) or the shared one."""
    action = policy.MILESTONE_ACTIONS[name]
    if name == "fund":  # one page funds one or several milestones
        return f"{reverse(action.page, args=[contract.pk])}?milestone={milestone.pk}"
    if action.page:
        return reverse(action.page, args=[contract.pk, milestone.pk])
    return reverse("contracts:milestone_action", args=[contract.pk, milestone.pk, name])


@register.filter
def countdown(deadline) -> str:
    """'3 days 4 hours', '25 minutes'; 'any moment now' once the deadline has passed."""
    if deadline is None:
        return ""
    left = deadline - timezone.now()
    if left.total_seconds() <= 0:
        return "any moment now"
    days, seconds = left.days, left.seconds
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} hour{'s' if hours != 1 else ''}"
    if hours:
        return f"{hours} hour{'s' if hours != 1 else ''} {minutes} minute{'s' if minutes != 1 else ''}"
    return f"{max(minutes, 1)} minute{'s' if minutes > 1 else ''}"


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


@register.filter
def state_class(state: str) -> str:
    """Bootstrap badge classes for a milestone, offer or contract state."""
    return STATE_CLASSES.get(state, "text-bg-secondary")


@register.filter
def event_text(event) -> str:
    """The event's full line: actor, what, which milestone, its amounts and note."""
    return events.event_text(event)
