"""The email outbox: every email the site sends is a row first, then a delivery.

`email_queue` writes an `OutboundEmail` row inside the caller's transaction, so the email exists
exactly when the action that caused it committed (a rolled-back action sends nothing). After commit a
Celery task delivers it (`email_deliver`); a failed attempt is recorded and retried with exponential
backoff, first by the task itself and, whatever happens to the task or the broker, by the beat sweep
`emails_send_due` (marketplace/schedules.py). Delivery locks the row and re-checks its status, so a
redelivered task, a retry and the sweep together still send each email once.

Delivery uses `EMAIL_DELIVERY_BACKEND` (console, SMTP or an ESP through django-anymail); addresses the
provider reported undeliverable (`EmailSuppression`, filled by the bounce/complaint webhook) are skipped.
`OutboxEmailBackend` lets code that sends through Django's mail API (password reset, libraries) use the
outbox too: set it as `EMAIL_BACKEND`.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from marketplace.dispatch import dispatch_on_commit

from .models import EmailSuppression, OutboundEmail

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 100


def one_line(text: str, limit: int = 255) -> str:
    return " ".join((text or "").split())[:limit]


def is_suppressed(address: str) -> bool:
    return EmailSuppression.objects.filter(email=address.strip().lower()).exists()


def email_new(
    *,
    to: str,
    subject: str,
    body: str,
    html_body: str = "",
    headers: dict | None = None,
    user=None,
    from_email: str = "",
    template: str = "",
    context: dict | None = None,
) -> OutboundEmail:
    """An email not yet written (`emails_queue` writes several at once)."""
    return OutboundEmail(
        to_email=to,
        user=user,
        from_email=from_email or "",
        subject=one_line(subject),
        body=body,
        html_body=html_body,
        headers=headers or {},
        template=template,
        context=context or {},
    )


def email_queue(**fields) -> OutboundEmail:
    """Write one email into the outbox (in the caller's transaction) and send it after commit.
    Takes `email_new`'s arguments."""
    return emails_queue([email_new(**fields)])[0]


def emails_queue(emails: list[OutboundEmail]) -> list[OutboundEmail]:
    """Write these emails into the outbox in one INSERT (in the caller's transaction); each is sent
    after commit."""
    emails = OutboundEmail.objects.bulk_create(emails)
    if len(emails) == 1:
        email_dispatch_on_commit(emails[0])
    elif emails:
        from .tasks import deliver_emails

        dispatch_on_commit(deliver_emails, [email.pk for email in emails])  # one task for the batch
    return emails


def email_dispatch_on_commit(email: OutboundEmail) -> None:
    from .tasks import deliver_email

    dispatch_on_commit(deliver_email, email.pk)


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: OUTBOX_RETRY_BASE_SECONDS doubling with each failure, capped."""
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))


def _delivery_connection():
    backend = settings.EMAIL_DELIVERY_BACKEND
    if backend == f"{OutboxEmailBackend.__module__}.{OutboxEmailBackend.__qualname__}":
        raise RuntimeError("EMAIL_DELIVERY_BACKEND cannot be the outbox itself.")
    return get_connection(backend=backend)


def _send(email: OutboundEmail) -> None:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email or None,
        to=[email.to_email],
        headers={**(email.headers or {}), "X-Outbox-Id": str(email.pk)},
        connection=_delivery_connection(),
    )
    if email.html_body:
        message.attach_alternative(email.html_body, "text/html")
    message.send()


def email_deliver(*, email_id: int, now=None) -> OutboundEmail | None:
    """Try to send one queued email whose time has come. Returns the row if this call attempted it
    (look at its status), None if there was nothing to do (sent already, failed for good, not due).

    The row stays locked while the provider is called, so two deliveries of one email never overlap;
    the second one finds it sent. (An email accepted by the provider whose commit is then lost would be
    sent again: the outbox is at-least-once at that one point, like every outbox.)"""
    now = now or timezone.now()
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status != OutboundEmail.Status.QUEUED:
            return None
        if email.next_attempt_at > now + timedelta(seconds=1):
            return None  # a retry is scheduled later; this run came early (e.g. the sweep overlapped)
        email.attempts += 1
        if is_suppressed(email.to_email):
            email.status = OutboundEmail.Status.SUPPRESSED
            email.last_error = "The address is marked undeliverable (bounce or complaint)."
        else:
            try:
                _send(email)
            except Exception as error:  # any provider failure: record it, retry later
                email.last_error = f"{type(error).__name__}: {error}"[:2000]
                if email.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                    email.status = OutboundEmail.Status.FAILED
                    logger.error("Email %s failed for good after %s attempts: %s", email.pk, email.attempts, error)
                else:
                    email.next_attempt_at = now + backoff(email.attempts)
                    logger.warning("Email %s attempt %s failed, retrying: %s", email.pk, email.attempts, error)
            else:
                email.status = OutboundEmail.Status.SENT
                email.sent_at = timezone.now()
                email.last_error = ""
        email.save(update_fields=["attempts", "status", "last_error", "next_attempt_at", "sent_at"])
        return email


def emails_due(*, now=None, limit: int = SWEEP_BATCH_SIZE) -> list[int]:
    """Queued emails the tasks should have sent by now: their attempt is due since OUTBOX_STUCK_SECONDS
    (the grace lets the task dispatched on commit go first)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_STUCK_SECONDS)
    return list(
        OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def emails_send_due(*, now=None, limit: int = SWEEP_BATCH_SIZE) -> tuple[int, bool]:
    """The sweep: deliver every stuck email once. Returns how many were sent and whether the batch was full."""
    due = emails_due(now=now, limit=limit)
    sent = 0
    for email_id in due:
        attempted = email_deliver(email_id=email_id, now=now)
        sent += bool(attempted and attempted.status == OutboundEmail.Status.SENT)
    return sent, len(due) >= limit


def emails_retry(*, email_ids: list[int]) -> int:
    """Staff: queue failed or waiting emails again, now, with a fresh count of attempts."""
    with transaction.atomic():
        emails = list(
            OutboundEmail.objects.select_for_update()
            .filter(pk__in=email_ids, status__in=[OutboundEmail.Status.FAILED, OutboundEmail.Status.QUEUED])
            .order_by("pk")
        )
        for email in emails:
            email.status = OutboundEmail.Status.QUEUED
            email.attempts = 0
            email.next_attempt_at = timezone.now()
            email.save(update_fields=["status", "attempts", "next_attempt_at"])
            email_dispatch_on_commit(email)
    return len(emails)


def outbox_backlog() -> int:
    return OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED).count()


@transaction.atomic
def address_mark_undeliverable(*, email: str, reason: str, detail: str = "") -> EmailSuppression:
    """The provider says mail to this address bounces, was rejected or is reported as spam: stop sending
    to it. Waiting emails to it are closed as suppressed."""
    address = email.strip().lower()
    suppression, _ = EmailSuppression.objects.get_or_create(
        email=address, defaults={"reason": reason[:20], "detail": detail[:2000]}
    )
    OutboundEmail.objects.filter(to_email__iexact=address, status=OutboundEmail.Status.QUEUED).update(
        status=OutboundEmail.Status.SUPPRESSED, last_error=f"The address was reported {reason}."
    )
    return suppression


class OutboxEmailBackend(BaseEmailBackend):
    """A Django email backend that queues instead of sending: one outbox row per recipient."""

    def send_messages(self, email_messages) -> int:
        count = 0
        for message in email_messages:
            html = next((content for content, mimetype in message.alternatives if mimetype == "text/html"), "")
            for address in message.recipients():
                email_queue(
                    to=address,
                    subject=message.subject,
                    body=message.body,
                    html_body=html,
                    headers=dict(message.extra_headers or {}),
                    from_email=message.from_email or "",
                )
                count += 1
        return count
