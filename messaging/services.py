"""Writes for threads, messages, notifications and email preferences.

Messaging knows nothing about contracts: callers create a thread for whoever takes part, post
messages on behalf of a participant and post events (a system line such as "Clara funded “Designs”").
Messages are append-only. Every email goes through the outbox (messaging/outbox.py): written in the
action's transaction, sent after commit by a retrying task. Notifications of one action make one email
per recipient; a periodic sweep sends one email per burst of new messages.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Greatest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from marketplace.bulk import insert_rows
from marketplace.caching import forget_on_commit, user_pages_stale
from marketplace.hygiene import clean_text
from marketplace.i18n import recipient_locale
from marketplace.models import User
from marketplace.uploads import files_removed_on_failure, validate_uploads

from . import emails, outbox
from .categories import MESSAGE, notification_category_get
from .models import Attachment, EmailPreference, Message, Notification, OutboundEmail, Thread, ThreadParticipant
from .selectors import badge_cache_key

logger = logging.getLogger(__name__)

RATE_LIMIT_MESSAGE = _("You are sending messages too fast. Wait a moment and try again.")
EMPTY_MESSAGE = _("Write a message or attach a file.")
DIGEST_BATCH_SIZE = 200  # participants per sweep run; the task re-queues itself while more remain
DIGEST_MAX_LISTED = 20  # messages quoted in one email; the rest are counted


def check_link(url: str) -> str:
    """A link shown to users: empty, a site path ("/contracts/3/") or an http(s) URL. Never
    `javascript:` or a protocol-relative URL, which would turn an href into an attack."""
    url = (url or "").strip()
    if not url:
        return ""
    if url.startswith("/") and not url.startswith(("//", "/\\")) and not _SPACE.search(url):
        return url
    try:
        _absolute_link(url)
    except ValidationError:
        raise ValidationError(f"“{url}” is not a link this site can show.") from None
    return url


_absolute_link = URLValidator(schemes=["http", "https"])
_SPACE = re.compile(r"\s")  # the characters str.isspace() finds


def absolute_url(url: str) -> str:
    return f"{settings.SITE_URL}{url}" if url.startswith("/") else url


# --- threads ---


@transaction.atomic
def thread_create(*, participants: list[User], subject: str, link_url: str = "") -> Thread:
    """A thread for the given users (at least two different people)."""
    subject = " ".join(clean_text(subject or "").split())
    if not subject:
        raise ValidationError("A thread needs a subject.")
    if len(subject) > Thread._meta.get_field("subject").max_length:
        raise ValidationError("The subject is too long (at most 200 characters).")
    unique = list({user.pk: user for user in participants}.values())
    if len(unique) < 2:
        raise ValidationError("A thread needs at least two different participants.")
    thread = Thread.objects.create(subject=subject, link_url=check_link(link_url))
    ThreadParticipant.objects.bulk_create(ThreadParticipant(thread=thread, user=user) for user in unique)
    return thread


def thread_set_notice(*, thread: Thread, text: str) -> None:
    """Show a short notice next to the message box; "" clears it."""
    text = " ".join((text or "").split())
    if len(text) > Thread._meta.get_field("notice").max_length:
        raise ValidationError("The notice is too long (at most 300 characters).")
    Thread.objects.filter(pk=thread.pk).update(notice=text)
    thread.notice = text


def thread_mark_read(*, thread: Thread, user: User, through_message_id: int | None = None) -> bool:
    """Record that `user` has seen the thread up to a message (by default, all of it). Only ever
    moves forward, so an old page or a late poll cannot mark messages unread again. True if it moved."""
    through = through_message_id if through_message_id is not None else thread.last_message_id
    if not through:
        return False
    moved = bool(
        ThreadParticipant.objects.filter(thread=thread, user=user, last_read_message_id__lt=through).update(
            last_read_message_id=through
        )
    )
    if moved:
        _forget_badges(user.pk)
    return moved


def _forget_badges(*user_ids: int) -> None:
    """The users' cached header counts are out of date (see selectors.unread_counts_cached), and so are their cached
    pages (marketplace.caching): a message, an event on one of their contracts, a notification or a read mark."""
    forget_on_commit([badge_cache_key(pk) for pk in user_ids], user_ids=user_ids)
    user_pages_stale(*user_ids)


def _lock_thread(thread: Thread) -> None:
    """Serialise writes to one thread, so message ids commit in increasing order: a poll that asks
    for "newer than id N" can then never miss a message that committed late with a lower id.
    (It also makes the sender's rate-limit count exact within a thread.)"""
    Thread.objects.select_for_update(of=("self",)).filter(pk=thread.pk).values_list("pk", flat=True).first()


def _touch_thread(thread: Thread, message: Message) -> None:
    """Caller holds the thread lock (`_lock_thread`)."""
    _threads_touch({thread.pk: (message.pk, message.created_at)})
    thread.last_message_at = message.created_at
    thread.last_message_id = max(thread.last_message_id, message.pk)
    _forget_thread_badges([thread.pk])


def _threads_touch(newest: dict[int, tuple[int, datetime]]) -> None:
    """Each thread's newest message (thread id -> (its id, its time)), in one UPDATE for all. Caller holds the locks.

    An UPDATE … FROM (VALUES …) joined on the id: a sweep's batch touches hundreds of threads, and the same
    UPDATE through the ORM (a CASE with a WHEN per thread, per column) cost more Python than the rest of
    the batch's writes. The VALUES columns are column1… in PostgreSQL and SQLite alike."""
    if not newest:
        return
    table = connection.ops.quote_name(Thread._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    params = [value for pk, (message_id, at) in newest.items() for value in (pk, adapt(at), message_id)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET last_message_at = v.column2,
                   last_message_id = CASE WHEN last_message_id > v.column3 THEN last_message_id ELSE v.column3 END
            FROM (VALUES {", ".join(["(%s, %s, %s)"] * len(newest))}) AS v
            WHERE {table}.id = v.column1
            """,  # noqa: S608 (the table name from the model, every value a parameter)
            params,
        )


def _forget_thread_badges(thread_ids) -> None:
    """Something new in these threads: their participants' cached header counts are out of date."""
    _forget_badges(*ThreadParticipant.objects.filter(thread_id__any=list(thread_ids)).values_list("user_id", flat=True))


# --- messages ---


def _check_body(body: str, *, has_files: bool) -> str:
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body and not has_files:
        raise ValidationError(EMPTY_MESSAGE, code="empty")
    if len(body) > settings.MESSAGE_MAX_LENGTH:
        raise ValidationError(
            _(
                "A message can be at most %(max)s characters long (this one has %(length)s). "
                "Split it into several messages or attach it as a file."
            ),
            code="too_long",
            params={"max": intcomma(settings.MESSAGE_MAX_LENGTH), "length": intcomma(len(body))},
        )
    return body


def _check_rate(sender: User) -> None:
    """Counted in the database, so the limit holds across every web process."""
    since = timezone.now() - timedelta(minutes=1)
    recent = Message.objects.filter(sender=sender, kind=Message.Kind.MESSAGE, created_at__gte=since).count()
    if recent >= settings.MESSAGE_RATE_LIMIT_PER_MINUTE:
        raise ValidationError(RATE_LIMIT_MESSAGE, code="rate_limited")


def message_post(*, thread: Thread, sender: User, body: str, files: list[UploadedFile] = ()) -> Message:
    """Post a message as a participant. Files are validated (type, content, size) before anything
    is written; a refused message stores nothing, and a failed one leaves no file behind."""
    with files_removed_on_failure() as saved, transaction.atomic():
        return _message_post(thread=thread, sender=sender, body=body, files=files, saved=saved)


def _message_post(*, thread: Thread, sender: User, body: str, files, saved: list[str]) -> Message:
    _lock_thread(thread)
    membership = ThreadParticipant.objects.filter(thread=thread, user=sender).first()
    if membership is None or not sender.is_active:
        raise PermissionDenied(_("Only the people in this conversation can write in it."))
    files = [f for f in files if f]
    body = _check_body(body, has_files=bool(files))
    _check_rate(sender)
    uploads = validate_uploads(files)
    message = Message.objects.create(thread=thread, sender=sender, kind=Message.Kind.MESSAGE, body=body)
    for upload in uploads:
        attachment = Attachment(
            message=message,
            original_name=upload.name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
        )
        attachment.file.save(upload.name, upload.file, save=False)
        saved.append(attachment.file.name)
        attachment.save()
    _touch_thread(thread, message)
    # The sender has seen everything up to their own message.
    ThreadParticipant.objects.filter(pk=membership.pk).update(
        last_read_message_id=Greatest(F("last_read_message_id"), message.pk)
    )
    return message


def _event_text(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise ValidationError("An event needs a text.")
    if len(text) > settings.MESSAGE_MAX_LENGTH:
        raise ValidationError("The event text is too long.")
    return text


@transaction.atomic
def event_post(*, thread: Thread, text: str, actor: User | None = None, link_url: str = "") -> Message:
    """A system line in the thread ("Clara Client funded “Designs” ($300.00)"). Counts as unread
    for the other participants; never emailed as a message (callers use `notify` for that)."""
    text = _event_text(text)
    _lock_thread(thread)
    message = Message.objects.create(
        thread=thread, sender=actor, kind=Message.Kind.EVENT, body=text, link_url=check_link(link_url)
    )
    _touch_thread(thread, message)
    return message


def threads_lock_available(*, thread_ids) -> set[int]:
    """Lock those of the threads no one else holds right now (in id order, SKIP LOCKED); their ids.

    For a batch that will post into many threads: taking them first, and only the free ones, keeps its
    lock order the same as a single action's (thread before escrow) without ever waiting on anyone."""
    rows = Thread.objects.select_for_update(skip_locked=True, of=("self",)).filter(pk__any=list(set(thread_ids)))
    return set(rows.order_by("pk").values_list("pk", flat=True))


@dataclass(frozen=True)
class EventLine:
    thread_id: int
    text: str
    actor: User | None = None
    link_url: str = ""


@transaction.atomic
def events_post(*, lines: list[EventLine]) -> list[int]:
    """Many event lines at once (a sweep's batch), in order: the threads locked in id order (as one
    `event_post` would lock each), one INSERT for every line (plain rows: marketplace.bulk), one UPDATE for
    every thread's newest. Returns the messages' ids."""
    if not lines:
        return []
    now = timezone.now()
    rows = [
        (
            line.thread_id,
            line.actor.pk if line.actor else None,
            Message.Kind.EVENT,
            _event_text(line.text),
            check_link(line.link_url),
            now,
        )
        for line in lines
    ]
    thread_ids = sorted({line.thread_id for line in lines})
    list(Thread.objects.select_for_update(of=("self",)).filter(pk__any=thread_ids).order_by("pk").values_list("pk"))
    inserted = insert_rows(
        Message,
        ("thread_id", "sender_id", "kind", "body", "link_url", "created_at"),
        rows,
        returning=("id", "thread_id"),
    )
    newest = {}
    for pk, thread_id in inserted:
        newest[thread_id] = max(pk, newest.get(thread_id, pk))
    _threads_touch({thread_id: (pk, now) for thread_id, pk in newest.items()})
    _forget_thread_badges(list(newest))
    return [pk for pk, _thread_id in inserted]


# --- notifications ---

NOTIFICATION_EMAIL_TEMPLATE = "messaging/email/notifications"  # marks the outbox rows notifications join
NOTIFICATION_EMAIL_MAX_LISTED = 20


def _preferences_allow(preference: EmailPreference | None, kind: str) -> bool:
    if not notification_category_get(kind).email_preference:
        return True  # a category users cannot switch off
    return preference is None or preference.allows(kind)


def _notification_new(*, user: User, kind: str, text: str, url: str) -> Notification:
    notification_category_get(kind)  # refuses a kind nobody registered
    text = " ".join(clean_text(text or "").split())[: Notification._meta.get_field("text").max_length]
    return Notification(user=user, kind=kind, text=text, url=check_link(url))


@dataclass(frozen=True)
class NotificationItem:
    user: User
    kind: str
    text: str
    url: str = ""
    mail: emails.Section | None = None  # how the email tells it; without it the email says `text`


def notify(
    *,
    user: User,
    kind: str,
    text: str | Callable[[], str],
    url: str = "",
    email: bool = True,
    mail: emails.Section | None = None,
) -> Notification:
    """An in-app notification of a registered category (messaging.categories); emailed too when
    `email` is set and the user's preferences allow it. `mail` is how the email tells it (a short
    subject, paragraphs, a button; see messaging/emails.py); without it the email says `text`. `text` may be a
    function (or a lazy translation): it is then rendered in the recipient's language and timezone
    (marketplace.i18n.recipient_locale).

    Emails go through the outbox, after commit, and at most one per recipient per action: every
    notification for the same user while their notification email is still waiting to be sent (all
    those of one transaction, and any created before that email went out) joins that one email."""
    with recipient_locale(user):  # the text as this recipient reads it
        text = text() if callable(text) else str(text or "")
    item = NotificationItem(user=user, kind=kind, text=text, url=url, mail=mail)
    return notify_many(items=[item], email=email)[0]


@transaction.atomic  # the notifications and their emails together, also when called outside a transaction
def notify_many(*, items: list[NotificationItem], email: bool = True) -> list[Notification]:
    """`notify` for many notifications at once, in a constant number of queries (a sweep's batch): each
    recipient's notifications join their one waiting notification email, or start one, in order. A
    waiting email that a worker is sending right now is locked: skipped (a new one starts) rather than
    waited for."""
    notifications = Notification.objects.bulk_create(
        _notification_new(user=item.user, kind=item.kind, text=item.text, url=item.url) for item in items
    )
    if not notifications:
        return []
    _forget_badges(*{n.user_id for n in notifications})
    if not email:
        return notifications
    users = {n.user_id: n.user for n in notifications if n.user.is_active and n.user.email}
    preferences = {p.user_id: p for p in EmailPreference.objects.filter(user_id__in=users)}
    by_user: dict[int, list[tuple[Notification, emails.Section | None]]] = {}
    for n, item in zip(notifications, items, strict=True):
        if n.user_id in users and _preferences_allow(preferences.get(n.user_id), n.kind):
            by_user.setdefault(n.user_id, []).append((n, item.mail))
    waiting: dict[int, OutboundEmail] = {}
    # Each user's oldest waiting email.
    for outgoing in (
        OutboundEmail.objects.select_for_update(skip_locked=True)
        .filter(
            user_id__in=by_user, template=NOTIFICATION_EMAIL_TEMPLATE, status=OutboundEmail.Status.QUEUED, attempts=0
        )
        .order_by("pk")
    ):
        waiting.setdefault(outgoing.user_id, outgoing)
    joined, started = [], []
    for user_id, own in by_user.items():
        user = users[user_id]
        outgoing = waiting.get(user_id)
        items_before = outgoing.context.get("items", []) if outgoing else []
        listed = [*items_before, *(_section(n, mail).as_dict() for n, mail in own)]
        rendered = _notification_email_render(user=user, items=listed)
        if outgoing is None:
            outgoing = outbox.email_new(
                to=user.email, user=user, subject="", body="", template=NOTIFICATION_EMAIL_TEMPLATE
            )
            started.append(outgoing)
        else:
            joined.append(outgoing)
        outgoing.subject, outgoing.body = outbox.one_line(rendered.subject), rendered.text
        outgoing.html_body, outgoing.headers, outgoing.context = rendered.html, rendered.headers, {"items": listed}
        for n, _mail in own:
            n.email = outgoing
    if started:
        outbox.emails_queue(started)
    if joined:
        OutboundEmail.objects.bulk_update(joined, ["subject", "body", "html_body", "headers", "context"])
    Notification.objects.bulk_update([n for own in by_user.values() for n, _mail in own], ["email"])
    return notifications


def _section(notification: Notification, mail: emails.Section | None) -> emails.Section:
    url = absolute_url(notification.url) if notification.url else ""
    if mail is None:
        mail = emails.Section(subject=emails.short(notification.text, 60), paragraphs=(notification.text,))
    return emails.Section(
        **{
            **mail.as_dict(),
            "subject": emails.subject_line(mail.subject),
            "url": mail.url or url,
            "action_label": mail.action_label or gettext("Open it"),
            "category": notification.kind,
        }
    )


def _notification_email_render(*, user: User, items: list[dict]) -> emails.Rendered:
    sections = [emails.Section.from_dict(item) for item in items]
    listed = sections[-NOTIFICATION_EMAIL_MAX_LISTED:]
    more = len(sections) - 1
    with translation.override(emails.user_language(user)):
        subject = sections[0].subject
        if more:
            subject = ngettext(
                "%(subject)s (and %(count)s more update)", "%(subject)s (and %(count)s more updates)", more
            ) % {"subject": emails.short(subject, 50), "count": more}
        hidden = len(sections) - len(listed)
        more_note = (
            ngettext(
                "… and %(count)s earlier update: see your notifications on the site.",
                "… and %(count)s earlier updates: see your notifications on the site.",
                hidden,
            )
            % {"count": hidden}
            if hidden
            else ""
        )
        return emails.render(user=user, sections=listed, subject=subject, more_note=more_note)


def notification_mark_read(*, user: User, notification: Notification) -> None:
    if notification.user_id != user.pk:
        raise PermissionDenied("This notification is not yours.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
        _forget_badges(user.pk)


def notifications_mark_all_read(*, user: User) -> int:
    marked = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    _forget_badges(user.pk)
    return marked


def email_preferences_update(*, user: User, emails_on: dict[str, bool]) -> EmailPreference:
    """Save which categories' emails the user wants (`{"message": True, "contract": False, ...}`).
    Only categories users may switch off are kept; unknown keys are refused."""
    email_off = []
    for key, on in emails_on.items():
        if notification_category_get(key).email_preference and not on:
            email_off.append(key)
    preference, _ = EmailPreference.objects.update_or_create(user=user, defaults={"email_off": sorted(email_off)})
    return preference


def email_unsubscribe(*, token: str) -> tuple[User, list[str]]:
    """Switch off the categories a signed unsubscribe link names, for the user it names (no login: the
    signature is the proof, RFC 8058). Raises ValidationError for a token this site did not sign."""
    try:
        user_id, keys = emails.unsubscribe_read(token)
    except signing.BadSignature:
        raise ValidationError(gettext("This unsubscribe link is not valid.")) from None
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ValidationError(gettext("This unsubscribe link is not valid."))
    keys = [key for key in keys if _switchable(key)]
    with transaction.atomic():
        preference, _ = EmailPreference.objects.select_for_update().get_or_create(user=user)
        preference.email_off = sorted(set(preference.email_off) | set(keys))
        preference.save(update_fields=["email_off", "updated_at"])
    return user, keys


def _switchable(key: str) -> bool:
    try:
        return notification_category_get(key).email_preference
    except ValueError:
        return False


# --- the message email batch ---


def _pending_messages(*, thread_id: int, user_id: int, after_id: int):
    """Messages from others, newer than `after_id`. Events are not emailed as messages."""
    return Message.objects.filter(thread_id=thread_id, kind=Message.Kind.MESSAGE, pk__gt=after_id).exclude(
        sender_id=user_id
    )


def message_digest_candidates(*, now=None, limit: int | None = None) -> list[int]:
    """Participants with messages from others that they have neither read nor been emailed about,
    the newest of which is older than the quiet period (so a burst is over)."""
    now = now or timezone.now()
    limit = limit or DIGEST_BATCH_SIZE
    cutoff = now - timedelta(seconds=settings.MESSAGE_EMAIL_QUIET_SECONDS)
    seen = Greatest(OuterRef("last_read_message_id"), OuterRef("emailed_through_message_id"))
    newest_pending = (
        Message.objects.filter(thread_id=OuterRef("thread_id"), kind=Message.Kind.MESSAGE, pk__gt=seen)
        .filter(~Q(sender_id=OuterRef("user_id")))
        .order_by("-pk")
        .values("created_at")[:1]
    )
    return list(
        ThreadParticipant.objects.filter(
            thread__last_message_id__gt=Greatest(F("last_read_message_id"), F("emailed_through_message_id"))
        )
        .annotate(newest_pending_at=Subquery(newest_pending))
        .filter(newest_pending_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def message_digest_send(*, participant_id: int, now=None) -> bool:
    """Email one participant about the messages they missed in one thread, then record how far the
    email went. Idempotent: the participant row is locked and the range is recomputed under the lock."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MESSAGE_EMAIL_QUIET_SECONDS)
    participant = (
        ThreadParticipant.objects.select_for_update(of=("self",))
        .select_related("user", "thread")
        .filter(pk=participant_id)
        .first()
    )
    if participant is None:
        return False
    after = max(participant.last_read_message_id, participant.emailed_through_message_id)
    pending = list(
        _pending_messages(thread_id=participant.thread_id, user_id=participant.user_id, after_id=after)
        .select_related("sender")
        .prefetch_related("attachments")
        .order_by("pk")
    )
    if not pending or pending[-1].created_at > cutoff:
        return False  # nothing new, or the burst is still going on
    participant.emailed_through_message_id = pending[-1].pk
    participant.save(update_fields=["emailed_through_message_id"])
    user, thread = participant.user, participant.thread
    if not (
        user.is_active and user.email and _preferences_allow(EmailPreference.objects.filter(user=user).first(), MESSAGE)
    ):
        return False  # recorded as covered all the same: turning emails on later does not send old news
    senders = sorted({m.sender.name for m in pending})
    listed = pending[-DIGEST_MAX_LISTED:]
    with translation.override(emails.user_language(user)):
        count = len(pending)
        subject = ngettext(
            "%(count)s new message from %(names)s: %(thread)s",
            "%(count)s new messages from %(names)s: %(thread)s",
            count,
        ) % {"count": count, "names": emails.short(", ".join(senders), 30), "thread": emails.short(thread.subject, 36)}
        intro = ngettext(
            "%(names)s wrote to you in “%(thread)s”.",
            "%(names)s wrote %(count)s messages to you in “%(thread)s”.",
            count,
        ) % {"names": ", ".join(senders), "count": count, "thread": thread.subject}
        quotes = []
        for m in listed:
            files = "".join(f"\n[file] {a.original_name} ({filesizeformat(a.size)})" for a in m.attachments.all())
            quotes.append((f"{m.sender.name}, {emails.when(m.created_at, user)}", (m.body[:500] + files).strip()))
        section = emails.Section(
            subject=subject,
            paragraphs=(intro,),
            quotes=tuple(quotes),
            action_label=gettext("Read and reply"),
            url=absolute_url(thread.get_absolute_url()),
            category=MESSAGE,
        )
        hidden = count - len(listed)
        more_note = (
            ngettext("… and %(count)s earlier message.", "… and %(count)s earlier messages.", hidden)
            % {"count": hidden}
            if hidden
            else ""
        )
        reason = gettext(
            "%(site)s sends one email for a burst of messages you have not read yet. Turn these emails off in your "
            "preferences."
        ) % {"site": settings.SITE_NAME}
        rendered = emails.render(user=user, sections=[section], subject=subject, reason=reason, more_note=more_note)
    outbox.email_queue(
        to=user.email,
        user=user,
        subject=rendered.subject,
        body=rendered.text,
        html_body=rendered.html,
        headers=rendered.headers,
        template="messaging/email/message_digest",
        context={"thread_id": thread.pk, "through_message_id": pending[-1].pk, "count": len(pending)},
    )
    return True


def message_digests_send(*, now=None, limit: int | None = None) -> tuple[int, bool]:
    """One sweep: email every participant whose burst of new messages is over. Returns how many
    emails were sent and whether the batch was full (more may be waiting)."""
    limit = limit or DIGEST_BATCH_SIZE
    candidates = message_digest_candidates(now=now, limit=limit)
    sent = 0
    for participant_id in candidates:
        try:
            sent += message_digest_send(participant_id=participant_id, now=now)
        except Exception:
            # One bad address must not stop everyone else's email; the next sweep retries this one.
            logger.exception("Could not send the message email for participant %s", participant_id)
    return sent, len(candidates) >= limit


def thread_set_link(*, thread: Thread, link_url: str) -> None:
    """Point the thread's subject at another page (e.g. from an offer to the contract it became)."""
    link_url = check_link(link_url)
    Thread.objects.filter(pk=thread.pk).update(link_url=link_url)
    thread.link_url = link_url
