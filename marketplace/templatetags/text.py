"""Text people wrote, on a page: `{{ message.body|user_text }}` is Django's `urlize|linebreaksbr` (escaped, links
made clickable, line breaks kept), without urlize's word-by-word work on text that cannot hold a link."""

import re

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe

register = template.Library()

# What urlize can turn into a link (django.utils.html.Urlizer): a URL with a scheme ("https://"), one starting with
# "www.", a bare domain in one of the top-level domains it knows, or an email address. Text with none of these is
# only escaped, which is what urlize would return for it (about a fifth of a message's rendering on a thread).
MAY_LINK = re.compile(r"://|www\.|@|\.(?:com|edu|gov|int|mil|net|org)\b", re.IGNORECASE)


@register.filter(is_safe=True)
def user_text(value) -> str:
    text = str(value)
    html = urlize(text, nofollow=True, autoescape=True) if MAY_LINK.search(text) else escape(text)
    return mark_safe(linebreaksbr(html, autoescape=False))  # noqa: S308 (escaped above)
