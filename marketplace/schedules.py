"""Every periodic job of the site, in one place, with its cadence and the reason for it.

`manage.py sync_periodic_jobs` (run by `make run` and on deploy) writes these into
django-celery-beat's tables, where the DatabaseScheduler reads them and staff can see,
pause and re-time them in Django admin. Jobs are idempotent sweeps over the database:
none relies on a task waiting in the broker.
"""

from dataclasses import dataclass, field

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    why: str
    every_seconds: int | None = None  # an interval ...
    crontab: dict = field(default_factory=dict)  # ... or a crontab (minute, hour, ...), in UTC


PERIODIC_JOBS = [
    PeriodicJob(
        name="Clear expired sessions",
        task="marketplace.tasks.clear_expired_sessions",
        why="Expired sessions stay in the database until removed; once a day keeps the table small.",
        crontab={"minute": "17", "hour": "3"},
    ),
    PeriodicJob(
        name="Release milestones whose review period ended",
        task="contracts.tasks.release_overdue_milestones",
        why="Silence through the review period means approval: this sweep approves and pays each overdue "
        "milestone once, and catches up after any downtime. A minute's delay is the worst case.",
        every_seconds=60,
    ),
    PeriodicJob(
        name="Remind clients before automatic approval",
        task="contracts.tasks.send_review_reminders",
        why="Clients are reminded 7, 3 and 1 days before a submission is approved automatically, once each.",
        every_seconds=600,
    ),
    PeriodicJob(
        name="Pass unanswered disputes to staff",
        task="contracts.tasks.review_unanswered_disputes",
        why="The other party has DISPUTE_RESPONSE_DAYS to answer a dispute with evidence; when that time ends in "
        "silence, the case goes to staff review. Hourly is precise enough for a days-long deadline.",
        every_seconds=3600,
    ),
    PeriodicJob(
        name="Feedback windows: open, remind, publish",
        task="feedback.tasks.feedback_sweep",
        why="After a contract ends each party has FEEDBACK_WINDOW_DAYS to leave feedback: this sweep opens the "
        "window, reminds whoever has not written on day 1 and day 10 (each once), and publishes both feedbacks "
        "when the window closes. Every step is recorded on the window, so a second run does nothing.",
        every_seconds=300,
    ),
    PeriodicJob(
        name="Quiet contracts and overdue milestones",
        task="contracts.tasks.quiet_contracts_sweep",
        why="A contract with nothing in escrow and no activity for QUIET_CONTRACT_ASK_DAYS asks both parties "
        "whether to end it, and ends itself after QUIET_CONTRACT_END_DAYS; a funded milestone with no submission "
        "OVERDUE_MILESTONE_PROMPT_DAYS past its delivery date prompts both parties once. Each step is a recorded "
        "contract event, which is what makes a second run do nothing.",
        every_seconds=3600,
    ),
    PeriodicJob(
        name="Email unread messages",
        task="messaging.tasks.send_message_emails",
        why="A burst of messages makes one email, not one per message: once a participant's unread messages "
        "have been quiet for MESSAGE_EMAIL_QUIET_SECONDS, this sweep emails them once and records how far it "
        "went, so a second run sends nothing and a missed run is caught up.",
        every_seconds=60,
    ),
    PeriodicJob(
        name="Expire job posts",
        task="jobs.tasks.expire_jobs",
        why="An open job that hired nobody in JOBS_EXPIRE_DAYS (30) days closes as expired, so the jobs list "
        "shows live work; its proposals and the client are told. Hourly keeps the delay under an hour.",
        crontab={"minute": "41"},
    ),
    PeriodicJob(
        name="Email new jobs for saved searches",
        task="jobs.tasks.send_saved_search_emails",
        why="Freelancers get one batched email a day listing the new jobs that match their saved searches; each "
        "search records how far it was sent, so a second run sends nothing and a missed day is caught up.",
        crontab={"minute": "5", "hour": "7"},
    ),
    PeriodicJob(
        name="Reconcile payments with the provider",
        task="escrow.tasks.reconcile_payments",
        why="A webhook can be lost and a process can die between the provider's answer and our commit: this "
        "sweep asks the provider about every payment left open for two minutes and applies its answer (funding "
        "exactly once), retries card refunds, transfers and unprocessed webhook events, and cancels payments abandoned "
        "before a payment page was ever shown.",
        every_seconds=60,
    ),
    PeriodicJob(
        name="Sandbox provider: settle late payments and redeliver webhooks",
        task="escrow.sandbox.tasks.sandbox_sweep",
        why="The sandbox behaves like a real provider: the late-confirmation test card is confirmed a few "
        "seconds after payment, and webhooks the site did not accept are delivered again. Does nothing unless "
        "the sandbox has work.",
        every_seconds=5,
    ),
    PeriodicJob(
        name="Send stuck emails",
        task="messaging.tasks.send_due_emails",
        why="Every email is an outbox row sent by a task after commit. When that task was never sent (broker "
        "down), was lost with its worker, or its retry is overdue, this sweep sends the email; the row lock "
        "and its status make it once.",
        every_seconds=60,
    ),
]


def _schedule_for(job: PeriodicJob) -> dict:
    if job.every_seconds:
        interval, _ = IntervalSchedule.objects.get_or_create(every=job.every_seconds, period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None}
    crontab, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **job.crontab)
    return {"crontab": crontab, "interval": None}


@transaction.atomic
def sync_periodic_jobs(*, reset: bool = False) -> list[str]:
    """Create the declared jobs that are missing. Staff edits are kept unless `reset`."""
    changed = []
    for job in PERIODIC_JOBS:
        exists = PeriodicTask.objects.filter(name=job.name).exists()
        if exists and not reset:
            continue
        PeriodicTask.objects.update_or_create(
            name=job.name, defaults={"task": job.task, "description": job.why, "enabled": True, **_schedule_for(job)}
        )
        changed.append(job.name)
    return changed
