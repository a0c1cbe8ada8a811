"""Dates for people, in the active language and the viewer's timezone (marketplace/formats.py):

{{ milestone.due_date|local_date }}            Nov 26, 2026 · 26. Nov. 2026
{{ event.created_at|local_datetime }}          Nov 26, 2026, 16:40 · 26. Nov. 2026, 16:40
{{ deadline|local_datetime:"zone" }}           … 16:40 CET
{{ deadline|local_datetime:"weekday zone" }}   Thu, Nov 26, 2026, 16:40 CET · Do., 26. Nov. 2026, 16:40 CET
{{ user.date_joined|local_month }}             March 2026 · März 2026
<time datetime="{{ value|iso_datetime }}">     2026-11-26T16:40:12+01:00 (to the second)
{{ offer.get_status_display|in_sentence }}      a status inside a sentence: "accepted" (en), "Angenommen" (de)
"""

from django import template

from marketplace import formats
from marketplace.i18n import in_sentence as _in_sentence

register = template.Library()


@register.filter
def local_date(value):
    return formats.format_date(value)


@register.filter
def local_datetime(value, arg=""):
    options = arg.split()
    return formats.format_datetime(value, zone="zone" in options, weekday="weekday" in options)


@register.filter
def local_month(value):
    return formats.format_month(value)


@register.filter
def iso_datetime(value):
    return formats.iso_datetime(value)


@register.filter
def in_sentence(value):
    return _in_sentence(value)
