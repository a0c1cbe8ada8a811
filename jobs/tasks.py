"""Periodic sweeps of the jobs domain (declared in marketplace/schedules.py). They take no arguments,
re-read the database and call actions."""

from celery import shared_task

from . import services


@shared_task
def expire_jobs():
    """Close open jobs published more than JOBS_EXPIRE_DAYS ago; re-queue while a batch was full."""
    closed, more = services.jobs_expire()
    if more:
        expire_jobs.delay()
    return closed


@shared_task
def send_saved_search_emails():
    """Once a day: one notification (and email) per freelancer with the new jobs matching their saved searches."""
    return services.saved_searches_notify()
