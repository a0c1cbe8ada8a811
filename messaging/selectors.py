"""Reads for threads, messages and notifications. Every list costs a fixed number of queries."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from marketplace.caching import changed_uncommitted
from marketplace.models import User

from .models import Attachment, EmailPreference, Message, Notification, Thread, ThreadParticipant

PAGE_SIZE = 50  # messages shown at once on a thread
EMBEDDED_PAGE_SIZE = 20  # the latest messages of a thread shown on another page (a contract's); earlier ones load
POLL_LIMIT = 200  # new messages one poll returns at most; the next poll fetches the rest


def thread_for_participant(*, user: User, thread_id: int) -> Thread:
    """The thread, if `user` takes part in it; 404 otherwise (no hint that it exists)."""
    if not user.is_authenticated:
        raise Http404("No such conversation.")
    thread = Thread.objects.filter(pk=thread_id, participants__user=user).first()
    if thread is None:
        raise Http404("No such conversation.")
    return thread


def is_participant(*, user: User, thread: Thread) -> bool:
    return user.is_authenticated and ThreadParticipant.objects.filter(thread=thread, user=user).exists()


def inbox(*, user: User) -> QuerySet[Thread]:
    """Every thread of the user, most recent first, with `unread` (count) and `members` (the
    participants, prefetched with their users). Paginate it, then `inbox_attach_latest` the page.

    The query starts from the user's own memberships and sorts only their threads: ordering with
    NULLS LAST keeps PostgreSQL from walking the platform-wide `last_message_at` index instead (which
    reads every thread on the platform for a user with few). The unread count is a range scan on
    (thread, id) above the user's read mark, so it costs what is unread, not the thread's length.
    """
    mine = ThreadParticipant.objects.filter(user=user, thread=OuterRef("pk"))
    unread = (
        Message.objects.filter(thread=OuterRef("pk"), pk__gt=OuterRef("last_read"))
        .filter(~Q(sender=user))  # ~Q keeps NULL senders: system events count as unread too
        .order_by()
        .values("thread")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return (
        Thread.objects.filter(pk__in=ThreadParticipant.objects.filter(user=user).values("thread_id"))
        .annotate(last_read=Subquery(mine.values("last_read_message_id")[:1]))
        .annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
        .prefetch_related(
            Prefetch("participants", queryset=ThreadParticipant.objects.select_related("user").order_by("pk")),
        )
        .order_by(F("last_message_at").desc(nulls_last=True), "-pk")
    )


def inbox_attach_latest(threads) -> list[Thread]:
    """Give each thread `latest`: a one-item list with its newest message (or an empty list), in one query.

    Found through `Thread.last_message_id` (kept up to date by every post), so the query reads one row
    per thread, however long the threads are; a sliced prefetch would sort every message of the page.
    """
    threads = list(threads)
    ids = [thread.last_message_id for thread in threads if thread.last_message_id]
    latest = {
        message.pk: message
        for message in Message.objects.filter(pk__in=ids)
        .select_related("sender")
        .annotate(file_count=Count("attachments"))
    }
    for thread in threads:
        message = latest.get(thread.last_message_id)
        thread.latest = [message] if message is not None and message.thread_id == thread.pk else []
    return threads


@dataclass
class UnreadCounts:
    threads: int = 0  # threads with something unread
    notifications: int = 0  # unread notifications

    @property
    def any(self) -> bool:
        return bool(self.threads or self.notifications)


def unread_counts(*, user: User) -> UnreadCounts:
    """Both header badges in one query."""
    memberships = (
        ThreadParticipant.objects.filter(user=user)
        .filter(
            # ~Q(sender=user) keeps NULL senders: system events count as unread too.
            Exists(
                Message.objects.filter(thread=OuterRef("thread"), pk__gt=OuterRef("last_read_message_id")).filter(
                    ~Q(sender=user)
                )
            )
        )
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    notifications = (
        Notification.objects.filter(user=user, read_at__isnull=True)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            unread_threads=Coalesce(Subquery(memberships, output_field=IntegerField()), Value(0)),
            unread_notifications=Coalesce(Subquery(notifications, output_field=IntegerField()), Value(0)),
        )
        .values_list("unread_threads", "unread_notifications")
        .first()
    )
    return UnreadCounts(*row) if row else UnreadCounts()


# The header badges are polled every 10 s on every open page: each user's counts are cached (per user,
# never shared) until something changes them. messaging.services clears them when a message or event is
# posted in one of the user's threads, when they get a notification, and when they read either; the
# timeout (MESSAGING_BADGE_CACHE_SECONDS; 0 turns the cache off, as the test settings do so that query
# counts do not depend on what an earlier request cached) only bounds what a change made outside those
# services could leave.


def badge_cache_key(user_id: int) -> str:
    return f"messaging:badges:{user_id}"


def unread_counts_cached(*, user: User) -> UnreadCounts:
    seconds = settings.MESSAGING_BADGE_CACHE_SECONDS
    if not seconds or changed_uncommitted(user.pk):  # counted afresh until this connection's change commits
        return unread_counts(user=user)
    key = badge_cache_key(user.pk)
    cached = cache.get(key)
    if cached is not None:
        return UnreadCounts(*cached)
    counts = unread_counts(user=user)
    cache.set(key, (counts.threads, counts.notifications), seconds)
    return counts


def _messages(thread: Thread) -> QuerySet[Message]:
    """The thread's messages, ordered (thread, id) so that only the (thread, id) index can serve the
    ORDER BY … LIMIT. The thread is matched as a one-value range: with `thread_id = X` PostgreSQL drops
    the constant from the ordering and may walk the primary key backwards through every newer message on
    the platform to find an older, long thread's latest page (16 ms instead of 0.05 ms on 500k messages)."""
    return (
        Message.objects.filter(thread_id__gte=thread.pk, thread_id__lte=thread.pk)
        .select_related("sender")
        .prefetch_related("attachments")
    )


NEWEST_FIRST = ("-thread_id", "-pk")
OLDEST_FIRST = ("thread_id", "pk")


def thread_messages(*, thread: Thread, before: int | None = None, limit: int = PAGE_SIZE) -> tuple[list[Message], bool]:
    """The latest `limit` messages (or those before message id `before`), oldest first, and
    whether earlier ones exist."""
    queryset = _messages(thread).order_by(*NEWEST_FIRST)
    if before:
        queryset = queryset.filter(pk__lt=before)
    page = list(queryset[: limit + 1])
    has_earlier = len(page) > limit
    return list(reversed(page[:limit])), has_earlier


def thread_messages_after(*, thread: Thread, after: int, limit: int = POLL_LIMIT) -> list[Message]:
    """Messages newer than id `after`, oldest first (what a poll appends)."""
    return list(_messages(thread).filter(pk__gt=after).order_by(*OLDEST_FIRST)[:limit])


@dataclass
class ThreadPanel:
    """Everything `messaging/_thread.html` shows for one viewer."""

    thread: Thread
    viewer: User
    messages: list[Message]
    has_earlier: bool
    others: list[User]
    first_unread_id: int | None = None  # where the "New" divider goes
    is_latest: bool = True  # False when showing an earlier page (?before=)
    form: object = None
    extra: dict = field(default_factory=dict)

    @property
    def last_id(self) -> int:
        return self.messages[-1].pk if self.messages else 0

    @property
    def first_id(self) -> int:
        return self.messages[0].pk if self.messages else 0


def thread_panel(
    *, thread: Thread, user: User, before: int | None = None, form=None, limit: int = PAGE_SIZE
) -> ThreadPanel | None:
    """The viewer's panel on a thread (its latest `limit` messages, or those before `before`), or None when `user`
    is not a participant. Four queries."""
    memberships = list(ThreadParticipant.objects.filter(thread=thread).select_related("user").order_by("pk"))
    mine = next((m for m in memberships if m.user_id == user.pk), None)
    if mine is None:
        return None
    messages, has_earlier = thread_messages(thread=thread, before=before, limit=limit)
    first_unread = next(
        (m.pk for m in messages if m.pk > mine.last_read_message_id and m.sender_id != user.pk),
        None,
    )
    return ThreadPanel(
        thread=thread,
        viewer=user,
        messages=messages,
        has_earlier=has_earlier,
        others=[m.user for m in memberships if m.user_id != user.pk],
        first_unread_id=first_unread if mine.last_read_message_id else None,
        is_latest=before is None,
        form=form,
    )


def attachment_for_user(*, user: User, attachment_id: int) -> Attachment:
    """A file, for a participant of its thread or staff; 404 for anyone else."""
    if not user.is_authenticated:
        raise Http404("No such file.")
    queryset = Attachment.objects.select_related("message")
    if not user.is_staff:
        queryset = queryset.filter(message__thread__participants__user=user)
    attachment = queryset.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachment


def notification_list(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def notification_for_user(*, user: User, notification_id: int) -> Notification:
    notification = Notification.objects.filter(user=user, pk=notification_id).first()
    if notification is None:
        raise Http404("No such notification.")
    return notification


def email_preferences_get(*, user: User) -> EmailPreference:
    """The user's preferences; an unsaved all-on row when they never changed them."""
    return EmailPreference.objects.filter(user=user).first() or EmailPreference(user=user)
