import hashlib
from functools import cache as once

from django import template
from django.core.cache import caches
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from messaging import selectors
from messaging.forms import MessageForm

register = template.Library()

MESSAGE_TEMPLATE = "messaging/_message.html"
MESSAGE_CACHE_SECONDS = 7 * 24 * 3600


@once
def _template_version() -> str:
    """The message template's own source, hashed: a deploy that changes it renders every message anew."""
    return hashlib.sha256(get_template(MESSAGE_TEMPLATE).template.source.encode()).hexdigest()[:16]


def _message_key(message, viewer, language: str, zone: str) -> str:
    """What one rendered message depends on. Messages and their attachments are append-only (the database
    refuses edits; the id and time tell a message from any other, a restored database's included), so the
    rest is the reader's side: whether they sent it, their language and timezone, the sender's current name."""
    sender = message.sender.name if message.sender_id else ""
    mine = message.sender_id is not None and message.sender_id == getattr(viewer, "pk", None)
    parts = [_template_version(), message.pk, message.created_at.isoformat(), int(mine), language, zone, sender]
    return "message-html:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@register.simple_tag
def messages_html(messages, viewer, first_unread_id=None):
    """The thread's list items for `messages`, as `messaging/_message.html` renders each, from the fragments cache when
    this reader saw it before (one get_many for the page): rendering fifty messages was a third of a thread
    page. The "New" divider before the first unread one is not cached: it moves as the reader reads."""
    messages = list(messages)
    language, zone = translation.get_language() or "", timezone.get_current_timezone_name()
    keys = [_message_key(m, viewer, language, zone) for m in messages]
    fragments = caches["fragments"]
    found = fragments.get_many(keys)
    rendered, parts = {}, []
    message_template = get_template(MESSAGE_TEMPLATE)
    for message, key in zip(messages, keys, strict=True):
        if first_unread_id and message.pk == first_unread_id:
            parts.append(format_html('<li class="thread-divider"><span>{}</span></li>', gettext("New")))
        html = found.get(key)
        if html is None:
            html = rendered[key] = message_template.render({"m": message, "viewer": viewer})
        parts.append(html)
    if rendered:
        fragments.set_many(rendered, MESSAGE_CACHE_SECONDS)
    return mark_safe("".join(parts))  # noqa: S308 (each part rendered by the template, which escapes)


@register.simple_tag(takes_context=True)
def thread_panel(context, thread):
    """The viewer's panel for `messaging/_thread.html`. A view that already built it (the thread
    page) passes it as `thread_panel_data`; an include on another page (e.g. the contract page)
    gets it here, with fewer messages (the thread page has more). None when there is no thread
    or the viewer is not one of its participants."""
    if thread is None:
        return None
    prepared = context.get("thread_panel_data")
    if prepared is not None and prepared.thread.pk == thread.pk:
        return prepared
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated:
        return None
    return selectors.thread_panel(thread=thread, user=user, form=MessageForm(), limit=selectors.EMBEDDED_PAGE_SIZE)


@register.filter
def short_hash(value: str, length: int = 12) -> str:
    return (value or "")[:length]


@register.filter
def other_names(memberships, user) -> str:
    """The names of a thread's other participants, from its (prefetched) memberships."""
    return ", ".join(m.user.name for m in memberships if m.user_id != user.pk)


@register.inclusion_tag("messaging/_icon_paperclip.html")
def paperclip():
    return {}
