from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

from contracts import events, policy
from marketplace import formats

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
        return gettext("any moment now")
    days, seconds = left.days, left.seconds
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    day_text = ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    hour_text = ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    if days:
        return f"{day_text} {hour_text}"
    minutes = max(minutes, 1)
    minute_text = ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return f"{hour_text} {minute_text}" if hours else minute_text


@register.filter
def live_countdown(deadline):
    """The countdown's text in a span that static/js/countdown.js keeps ticking (the text stays without JS)."""
    if deadline is None:
        return ""
    return format_html(
        '<span class="countdown" data-deadline="{}" data-passed="{}">{}</span>',
        formats.iso_datetime(deadline),
        gettext("any moment now"),
        countdown(deadline),
    )


# --- times: shown in the viewer's timezone (activated per request) and language, with the zone's name ---
# Through marketplace.formats, which resolves each language's patterns once: a contract page shows hundreds of
# times, and parsing a format each time was a sizeable part of its rendering.


@register.filter
def when(value, style: str = "datetime"):
    """A `<time>` element: the machine-readable moment, and the time as people read it in their timezone and
    language ("Nov 26, 2026, 14:05 CET" / "26. Nov. 2026, 14:05 CET", marketplace.formats); `|when:"date"` shows only
    the (local) day."""
    if not value:
        return ""
    if not isinstance(value, datetime):  # a day (a delivery date): no time, no zone
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), formats.format_date(value))
    iso = formats.iso_datetime(value)
    if style == "date":
        return format_html('<time datetime="{}">{}</time>', iso, formats.format_date(value))
    return format_html('<time datetime="{}">{}</time>', iso, formats.format_datetime(value, zone=True))


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


@register.simple_tag
def error_summary(form, formset=None) -> list[dict]:
    """Every error of an offer form and its milestone rows, in page order, for the summary at the top:
    [{"text": "Title: This field is required.", "field": "id_title"}, …] ("field" "" for a form-wide error)."""
    found = [{"text": str(e), "field": ""} for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__":
            found += [{"text": f"{form[name].label}: {e}", "field": form[name].id_for_label} for e in errors]
    if formset is None:
        return found
    found += [{"text": str(e), "field": "milestone-rows"} for e in formset.non_form_errors()]
    for number, row in enumerate(formset.forms, start=1):
        for name, errors in row.errors.items():
            if name == "__all__":
                label, field = gettext("Milestone %(number)d") % {"number": number}, row["title"].id_for_label
            else:
                label = gettext("Milestone %(number)d, %(field)s") % {
                    "number": number,
                    "field": str(row[name].label).lower(),
                }
                field = row[name].id_for_label
            found += [{"text": f"{label}: {e}", "field": field} for e in errors]
    return found
