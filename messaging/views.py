"""Thin views for the inbox, threads, files and notifications.

Threads update live by htmx polling (see README, "Messaging"): the page asks every few seconds for
messages newer than the last one it shows. Sending with htmx appends the message in place; without
JavaScript the same form is a plain POST followed by a redirect.
"""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from marketplace.caching import user_page, user_page_keeping
from marketplace.uploads import serve_upload

from . import emails, selectors, services
from .categories import notification_category_get
from .forms import EmailPreferenceForm, MessageForm

INBOX_PAGE_SIZE = 30
NOTIFICATIONS_PAGE_SIZE = 20


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


# --- inbox and threads ---


@login_required
def inbox(request):
    main = user_page(request, "messaging/_inbox.html", lambda: _inbox(request))
    return render(request, "messaging/inbox.html", {"main": main})


def _inbox(request) -> dict:
    page = Paginator(selectors.inbox(user=request.user), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.inbox_attach_latest(page.object_list)
    return {"page": page}


@login_required
@require_GET
def thread_detail(request, thread_id):
    thread = selectors.thread_for_participant(user=request.user, thread_id=thread_id)
    before = _int(request.GET.get("before")) or None

    def context() -> dict:
        panel = selectors.thread_panel(thread=thread, user=request.user, before=before, form=MessageForm())
        return {"thread": thread, "thread_panel_data": panel, "last_id": panel.last_id}

    main, last_id = user_page_keeping(request, "messaging/_thread_detail.html", context, keep="last_id")
    if before is None:  # read up to what the page shows (a new message drops the cached copy: it shows it)
        services.thread_mark_read(thread=thread, user=request.user, through_message_id=last_id)
    return render(request, "messaging/thread_detail.html", {"thread": thread, "main": main})


def _new_messages_response(request, thread, *, after: int, form=None):
    """What an htmx poll or send gets: the new messages (appended to the list) and, out of band,
    the updated "last shown" marker, the notice and (after a send) a fresh or re-filled composer.
    Whatever the page now shows counts as read; the header badges are told to refresh if that changed."""
    new = selectors.thread_messages_after(thread=thread, after=after)
    shown = new[-1].pk if new else min(after, thread.last_message_id)
    changed = services.thread_mark_read(thread=thread, user=request.user, through_message_id=shown)
    if new or form is not None:
        context = {
            "thread": thread,
            "messages": new,
            "viewer": request.user,
            "last_id": max(after, shown),
            "form": form,
            "composer_next": _safe_next(request, thread.get_absolute_url()),
        }
        response = HttpResponse(render_to_string("messaging/_new_messages.html", context, request=request))
    else:
        response = HttpResponse(status=204)  # nothing new: htmx swaps nothing
    if changed:
        response["HX-Trigger"] = "messaging:read"
    return response


def _fresh_composer() -> MessageForm:
    form = MessageForm()
    form.fields["body"].widget.attrs["autofocus"] = True  # keep typing after sending
    return form


@login_required
@require_POST
def message_send(request, thread_id):
    thread = selectors.thread_for_participant(user=request.user, thread_id=thread_id)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message = services.message_post(
                thread=thread,
                sender=request.user,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["files"],
            )
        except PermissionDenied as error:  # e.g. a deactivated account
            form.add_error(None, str(error))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if request.htmx:
                after = _int(request.POST.get("after")) or 0
                return _new_messages_response(request, thread, after=after, form=_fresh_composer())
            flash.success(request, "Message sent.")
            return redirect(_safe_next(request, f"{thread.get_absolute_url()}#message-{message.pk}"))
    if request.htmx:
        # Errors go back into the composer, with what was typed; nothing is appended.
        return _new_messages_response(request, thread, after=_int(request.POST.get("after")) or 0, form=form)
    panel = selectors.thread_panel(thread=thread, user=request.user, form=form)
    context = {
        "thread": thread,
        "thread_panel_data": panel,
        "composer_next": _safe_next(request, thread.get_absolute_url()),
    }
    main = render_to_string("messaging/_thread_detail.html", context, request)
    return render(request, "messaging/thread_detail.html", {"thread": thread, "main": main}, status=400)


@login_required
@require_GET
@never_cache
def thread_poll(request, thread_id):
    thread = selectors.thread_for_participant(user=request.user, thread_id=thread_id)
    after = _int(request.GET.get("after"))
    if after is None:
        return HttpResponse("Missing ?after=<message id>.", status=400, content_type="text/plain")
    return _new_messages_response(request, thread, after=after)


@login_required
@require_GET
def thread_earlier(request, thread_id):
    thread = selectors.thread_for_participant(user=request.user, thread_id=thread_id)
    before = _int(request.GET.get("before"))
    if not request.htmx or not before:
        return redirect(f"{thread.get_absolute_url()}?before={before or ''}")
    earlier, has_earlier = selectors.thread_messages(thread=thread, before=before)
    context = {"thread": thread, "messages": earlier, "has_earlier": has_earlier, "viewer": request.user}
    return render(request, "messaging/_earlier.html", context)


@login_required
@require_GET
def attachment_download(request, attachment_id):
    attachment = selectors.attachment_for_user(user=request.user, attachment_id=attachment_id)
    return serve_upload(attachment.file, attachment.original_name)


@require_GET
@never_cache
def unread_badges(request):
    """The header badges, for the header's own poll (out-of-band swaps)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    return render(request, "messaging/_nav_badges_oob.html")


# --- notifications ---


@login_required
def notification_list(request):
    page = Paginator(selectors.notification_list(user=request.user), NOTIFICATIONS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "messaging/notifications.html", {"page": page})


@login_required
@require_GET
def notification_open(request, notification_id):
    notification = selectors.notification_for_user(user=request.user, notification_id=notification_id)
    services.notification_mark_read(user=request.user, notification=notification)
    target = notification.url
    if not (target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())):
        target = reverse("notifications:list")
    return redirect(target)


@login_required
@require_POST
def notifications_read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    flash.success(request, "All notifications are marked as read." if count else "Nothing was unread.")
    return redirect("notifications:list")


@login_required
def email_preferences(request):
    preference = selectors.email_preferences_get(user=request.user)
    form = EmailPreferenceForm(request.POST or None)
    form.initial = {key: preference.allows(key) for key in form.fields}
    if request.method == "POST" and form.is_valid():
        services.email_preferences_update(user=request.user, emails_on=form.cleaned_data)
        flash.success(request, "Your email preferences were saved.")
        return redirect("notifications:preferences")
    return render(request, "messaging/email_preferences.html", {"form": form})


@csrf_exempt  # the signed token is the credential; mail clients POST it without a session (RFC 8058)
@never_cache
def unsubscribe(request, token):
    """GET: a page with one button. POST (that button, or a mail client's one-click
    `List-Unsubscribe=One-Click`): switch off the categories the signed link names. No login needed."""
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    try:
        user, keys = emails.unsubscribe_read(token)
        labels = [notification_category_get(key).label for key in keys]
    except (signing.BadSignature, ValueError):
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "GET":
        return render(request, "messaging/unsubscribe.html", {"labels": labels, "token": token})
    try:
        services.email_unsubscribe(token=token)
    except ValidationError:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    return render(request, "messaging/unsubscribe.html", {"labels": labels, "done": True})
