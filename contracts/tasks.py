"""Celery tasks of the review period. They take no state from the broker: each is a sweep over
the database, scheduled in marketplace/schedules.py, safe to run twice or after any downtime."""

from celery import shared_task

from . import services


@shared_task
def release_overdue_milestones(batch_size: int = 50) -> int:
    """Approve and pay every milestone whose review period ended; re-queue while a batch comes back full."""
    released, more = services.release_overdue(batch_size=batch_size)
    if more:
        release_overdue_milestones.delay(batch_size)
    return released


@shared_task
def send_review_reminders() -> int:
    return services.send_review_reminders()


@shared_task
def review_unanswered_disputes() -> int:
    return services.disputes_to_review()


@shared_task
def quiet_contracts_sweep(batch_size: int = 50) -> dict:
    """Ask about quiet contracts, end those still quiet, prompt about overdue milestones; re-queue while full."""
    counts, more = services.quiet_contracts_sweep(batch_size=batch_size)
    if more:
        quiet_contracts_sweep.delay(batch_size)
    return counts
