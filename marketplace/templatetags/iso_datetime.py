from datetime import date, datetime

from django import template

register = template.Library()


@register.filter(expects_localtime=True)
def iso_datetime(value) -> str:
    """The machine-readable value of `<time datetime="…">`: ISO 8601 to the second, with the UTC offset of the
    current timezone (HTML allows at most three decimals of a second; Django's `date:'c'` writes six)."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return ""
