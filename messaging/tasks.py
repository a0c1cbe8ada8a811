"""Celery tasks of messaging. They take ids, re-fetch and call services; each is idempotent."""

from celery import shared_task

from . import services


@shared_task
def send_notification_email(notification_id: int) -> bool:
    """Email one notification (dispatched after the transaction that created it commits)."""
    return services.notification_email_send(notification_id=notification_id)


@shared_task
def send_message_emails() -> int:
    """The periodic sweep (marketplace/schedules.py): one email per participant per burst of new
    messages. Works in bounded batches and re-queues itself while a batch comes back full."""
    sent, more = services.message_digests_send()
    if more:
        send_message_emails.delay()
    return sent
