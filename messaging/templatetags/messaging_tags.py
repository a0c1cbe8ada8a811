from django import template

from messaging import selectors
from messaging.forms import MessageForm

register = template.Library()


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
