"""Health and readiness.

`/healthz` (liveness) is cheap: can this process reach the database and the broker?
`/readyz` (readiness) also checks storage, that a worker answers a ping, that beat's release sweep ran
recently (its heartbeat row) and that no milestone is waiting too long for its automatic release.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from .celery import app as celery_app
from .models import Heartbeat

logger = logging.getLogger(__name__)

RELEASE_SWEEP = "release-sweep"  # the heartbeat the release sweep writes (HEARTBEAT_TASKS)


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("Health check: database unavailable")
        return False


def broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
        return True
    except Exception:
        logger.exception("Health check: broker unavailable")
        return False


def storage_ok() -> bool:
    """The upload storage answers (a bucket HEAD in object storage, a folder check on disk)."""
    try:
        default_storage.exists("readyz-probe")
        return True
    except Exception:
        logger.exception("Health check: storage unavailable")
        return False


def workers_answering() -> int | None:
    """How many workers answered a ping within READYZ_WORKER_TIMEOUT seconds; None when the broker cannot
    broadcast (the embedded development broker), where the release sweep's heartbeat alone shows a worker."""
    try:
        with celery_app.connection_for_write() as conn:
            if "fanout" not in conn.transport.implements.exchange_type:
                return None
        return len(celery_app.control.ping(timeout=settings.READYZ_WORKER_TIMEOUT) or [])
    except Exception:
        logger.exception("Health check: could not ping the workers")
        return 0


def heartbeat_age(name: str, *, now=None) -> timedelta | None:
    last = Heartbeat.objects.filter(name=name).values_list("last_seen", flat=True).first()
    return None if last is None else (now or timezone.now()) - last


def heartbeat_record(name: str) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"last_seen": timezone.now()})


def overdue_releases(*, now=None, older_than: timedelta = timedelta(0)) -> tuple[int, timedelta | None]:
    """Milestones whose review period ended more than `older_than` ago and that are still not released:
    how many, and how long the oldest has been waiting."""
    from django.db.models import Count, Min

    from contracts.models import Milestone, Submission

    now = now or timezone.now()
    found = Submission.objects.filter(
        status=Submission.Status.PENDING,
        milestone__state=Milestone.State.SUBMITTED,
        review_deadline__lte=now - older_than,
    ).aggregate(count=Count("pk"), oldest=Min("review_deadline"))
    return found["count"], (now - found["oldest"]) if found["oldest"] else None


def readiness(*, now=None) -> tuple[int, dict]:
    """The /readyz answer: 503 "unavailable" when the database, the broker or storage fails (this process
    cannot serve); 200 "degraded" when it can serve but background work is not happening (no worker, beat's
    heartbeat too old, milestones overdue for release); 200 "ok" otherwise."""
    now = now or timezone.now()
    body: dict = {}
    essentials = {"database": database_ok(), "broker": broker_ok(), "storage": storage_ok()}
    body.update({name: "ok" if ok else "unavailable" for name, ok in essentials.items()})
    if not essentials["database"]:
        return 503, {"status": "unavailable", **body}
    problems = []
    workers = workers_answering() if essentials["broker"] else 0
    body["workers"] = "not checked" if workers is None else workers
    if workers == 0:
        problems.append("no worker answered a ping")
    age = heartbeat_age(RELEASE_SWEEP, now=now)
    body["beat_last_release_sweep_seconds_ago"] = None if age is None else int(age.total_seconds())
    if age is None or age > timedelta(seconds=settings.READYZ_BEAT_MAX_AGE):
        problems.append("the release sweep has not run recently (is beat running?)")
    overdue, oldest = overdue_releases(now=now, older_than=timedelta(minutes=10))
    body["overdue_releases"] = overdue
    if overdue:
        problems.append(f"{overdue} milestone(s) overdue for automatic release by more than 10 minutes")
    body["problems"] = problems
    if not all(essentials.values()):
        return 503, {"status": "unavailable", **body}
    return 200, {"status": "degraded" if problems else "ok", **body}
