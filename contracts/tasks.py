"""Celery tasks of the review period. They take no state from the broker: each is a sweep over
the database, scheduled in marketplace/schedules.py, safe to run twice or after any downtime."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def release_overdue_milestones(batch_size: int | None = None, chained: bool = False) -> int:
    """Approve and pay every milestone whose review period ended, a batch at a time.

    The scheduled run releases one batch; if it came back full, it starts RELEASE_SWEEP_CHAINS chains,
    each re-queueing itself while its batches come back full. Batches never overlap (SKIP LOCKED), so the
    chains spread the backlog over however many workers are running; with one worker they run in turn.
    """
    released, more = services.release_overdue(batch_size=batch_size)
    if more:
        for _ in range(1 if chained else settings.RELEASE_SWEEP_CHAINS):
            release_overdue_milestones.delay(batch_size, chained=True)
    return released


@shared_task
def notify_events(event_ids: list[int]) -> int:
    """Notify the people named by events a sweep recorded in bulk (sent after its commit, off its path)."""
    return services.events_notify(event_ids=event_ids)


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
