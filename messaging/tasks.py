"""Celery tasks of messaging. They take ids, re-fetch and call services; each is idempotent."""

from celery import shared_task

from . import outbox, services
from .models import OutboundEmail


@shared_task(bind=True, max_retries=None)
def deliver_email(self, email_id: int) -> str:
    """Send one outbox email (dispatched after the transaction that wrote it commits). A failure is
    recorded on the row and retried after its backoff; if this retry is lost (worker or broker gone),
    the sweep below sends it."""
    email = outbox.email_deliver(email_id=email_id)
    if email is None:
        return "nothing to do"
    if email.status == OutboundEmail.Status.QUEUED and not self.request.is_eager:  # (eager: tests; the sweep retries)
        raise self.retry(countdown=outbox.backoff(email.attempts).total_seconds())
    return email.status


@shared_task
def deliver_emails(email_ids: list[int]) -> int:
    """Send the outbox emails one transaction wrote (a batch's notifications: one task instead of one per
    email). An email that fails is recorded and handed to `deliver_email`'s retry after its backoff, as if
    it had been sent on its own. Returns how many were sent."""
    sent = 0
    for email_id in email_ids:
        email = outbox.email_deliver(email_id=email_id)
        if email is None:
            continue
        if email.status == OutboundEmail.Status.QUEUED and not deliver_emails.request.is_eager:
            deliver_email.apply_async((email.pk,), countdown=outbox.backoff(email.attempts).total_seconds())
        sent += email.status == OutboundEmail.Status.SENT
    return sent


@shared_task
def send_due_emails() -> int:
    """The outbox sweep (marketplace/schedules.py): send every email whose task was lost or whose retry is
    overdue. Bounded batches; re-queues itself while a batch comes back full."""
    sent, more = outbox.emails_send_due()
    if more:
        send_due_emails.delay()
    return sent


@shared_task
def send_message_emails() -> int:
    """The periodic sweep (marketplace/schedules.py): one email per participant per burst of new
    messages. Works in bounded batches and re-queues itself while a batch comes back full."""
    sent, more = services.message_digests_send()
    if more:
        send_message_emails.delay()
    return sent
