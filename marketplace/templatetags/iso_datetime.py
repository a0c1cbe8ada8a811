from datetime import date, datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def iso_datetime(value) -> str:
    """The machine-readable value of `<time datetime="…">`: ISO 8601 to the second, with the UTC offset of the
    current timezone, e.g. "2026-11-26T14:05:00+01:00" (HTML allows at most three decimals of a second; Django's
    `date:'c'` writes six). A day stays a day."""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return ""
