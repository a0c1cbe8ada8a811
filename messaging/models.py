"""Threads, messages, attachments and notifications.

Messaging is a building block: it knows nothing about contracts. A thread has participants and a
subject that may link somewhere (`link_url`); its callers (contracts) create threads and post events.
Messages and attachments are the documented record of a collaboration, so they are append-only:
the model layer refuses updates and deletions, and on PostgreSQL triggers refuse them too
(migration 0002). Writes go through `messaging.services`; reads through `messaging.selectors`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from marketplace.appendonly import AppendOnlyModel, ImmutableRecordError  # noqa: F401 (re-exported)


class Thread(models.Model):
    subject = models.CharField(max_length=200)
    link_url = models.CharField(
        max_length=500, blank=True, help_text="Where the thread's subject lives, e.g. the contract page."
    )
    notice = models.CharField(max_length=300, blank=True, help_text="A short notice shown next to the message box.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_message_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The newest message or event, so "is anything unread?" is a comparison, not a scan.
    last_message_id = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-last_message_at", "-id"]

    def __str__(self):
        return self.subject

    def get_absolute_url(self):
        return reverse("messaging:thread", args=[self.pk])


class ThreadParticipant(models.Model):
    """A user in a thread, with how far they have read and how far they were emailed."""

    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="thread_memberships")
    joined_at = models.DateTimeField(default=timezone.now, editable=False)
    last_read_message_id = models.BigIntegerField(default=0)
    # The email batch sweep records here the newest message it covered, so a second sweep sends nothing.
    emailed_through_message_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "user"], name="messaging_one_membership_per_user")]
        indexes = [models.Index(fields=["user", "thread"], name="messaging_participant_user")]

    def __str__(self):
        return f"{self.user_id} in thread {self.thread_id}"


class Message(AppendOnlyModel):
    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        EVENT = "event", "Event"

    # No index of its own: the (thread, id) index below serves every lookup by thread, and a second one
    # on thread alone tempts PostgreSQL into scanning a whole long thread to find its latest page.
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages", db_index=False)
    # The author of a message; for an event, the user whose action it records (None for the system).
    sender = models.ForeignKey(  # indexed by messaging_message_rate (sender, created_at), below
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MESSAGE)
    body = models.TextField()
    link_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["thread", "id"], name="messaging_message_thread_id"),
            models.Index(fields=["sender", "created_at"], name="messaging_message_rate"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} in thread {self.thread_id}"

    @property
    def is_event(self) -> bool:
        return self.kind == self.Kind.EVENT


def attachment_path(instance, filename) -> str:
    """A random, non-guessable storage path that carries nothing the uploader chose."""
    token = uuid.uuid4().hex
    return f"messaging/{token[:2]}/{token}"


class Attachment(AppendOnlyModel):
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(max_length=255)  # sanitised by marketplace.uploads
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("messaging:attachment", args=[self.pk])


class OutboundEmail(models.Model):
    """One email the site sends, written in the same transaction as the action that caused it.

    A Celery task sends it after commit and retries with exponential backoff; a beat sweep
    (marketplace/schedules.py) sends what a lost task or a broker outage left queued. The subject and
    body are rendered when the row is written (in the recipient's timezone), so a retry sends exactly
    what the action produced even if the objects it mentions change later; `template` and `context`
    record what it was rendered from.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"  # waiting for its first attempt or for a retry
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # gave up after OUTBOX_MAX_ATTEMPTS; staff can retry it in admin
        SUPPRESSED = "suppressed", "Not sent: address undeliverable"

    to_email = models.EmailField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_email = models.CharField(max_length=254, blank=True)  # blank: DEFAULT_FROM_EMAIL
    subject = models.CharField(max_length=255)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    # Extra headers, e.g. List-Unsubscribe and List-Unsubscribe-Post (messaging/emails.py).
    headers = models.JSONField(default=dict, blank=True)
    template = models.CharField(max_length=200, blank=True)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="messaging_outbox_queued", condition=models.Q(status="queued")
            ),
            models.Index(
                fields=["user", "template"], name="messaging_outbox_user", condition=models.Q(status="queued")
            ),
        ]

    def __str__(self):
        return f"{self.subject} → {self.to_email} ({self.status})"


class EmailSuppression(models.Model):
    """An address the email provider reported as undeliverable (hard bounce, spam complaint, rejected).
    The outbox sends nothing more to it until staff delete the row."""

    email = models.EmailField(max_length=254, unique=True)  # stored lower-case
    reason = models.CharField(max_length=20)  # bounced, complained, rejected, ...
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self):
        return f"{self.email} ({self.reason})"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # A category key registered with messaging.categories.notification_category_register.
    kind = models.CharField(max_length=32)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)
    # The email that carries it (several notifications of one action share one email).
    email = models.ForeignKey(
        OutboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="messaging_notification_list"),
            models.Index(
                fields=["user"], name="messaging_notification_unread", condition=models.Q(read_at__isnull=True)
            ),
        ]

    def __str__(self):
        return self.text

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    @property
    def category_label(self) -> str:
        from .categories import notification_category_get

        try:
            return notification_category_get(self.kind).label
        except ValueError:
            return self.kind  # a category its app no longer registers: still listed


class EmailPreference(models.Model):
    """Which categories of email a user switched off. No row means every category is on."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preference")
    email_off = models.JSONField(default=list, blank=True)  # notification category keys
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Email preferences of {self.user_id}"

    def allows(self, kind: str) -> bool:
        return kind not in self.email_off
