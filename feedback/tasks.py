"""The feedback sweep, scheduled in marketplace/schedules.py: a pass over the database, safe to run twice."""

from celery import shared_task

from . import services


@shared_task
def feedback_sweep(batch_size: int = 100) -> dict:
    """Open windows, send the day-1 and day-10 reminders, publish closed windows; re-queue while a batch is full."""
    counts, more = services.feedback_sweep(batch_size=batch_size)
    if more:
        feedback_sweep.delay(batch_size)
    return counts
