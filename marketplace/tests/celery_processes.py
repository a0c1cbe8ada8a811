"""Start real Celery processes (worker, beat) for integration tests.

They run the project's own Celery app against Redis, in a child process with its own
environment, and are stopped when the `with` block ends.
"""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDIS_TEST_URL = os.environ.get("CELERY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def celery_process(*args: str, env: dict[str, str], log_path: Path):
    """Run `celery -A marketplace <args>` until the block ends; its output goes to `log_path`."""
    with background_process(
        sys.executable, "-m", "celery", "-A", "marketplace", *args, env=env, log_path=log_path
    ) as p:
        yield p


@contextmanager
def background_process(*command: str, env: dict[str, str], log_path: Path):
    """Run a command of the project (test settings) until the block ends; its output goes to `log_path`.
    A process the test already killed is fine."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.test_settings", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


@contextmanager
def this_process_on_broker(url: str, monkeypatch):
    """Point this test process's Celery app (not eager) at `url`, e.g. to ping the workers a test started."""
    from marketplace.celery import app

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery lets it override the app's configuration
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=url, task_always_eager=False)
    _forget_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _forget_connections(app)


def _forget_connections(app):
    """Celery keeps pools of broker connections per URL; forget them (as after a fork) so the next publish
    uses the new URL."""
    app._pool = None
    app.amqp._producer_pool = None


def django_env(queue: str, **extra) -> dict[str, str]:
    """The environment of a worker, beat or web process of a test: this test's database and Redis."""
    from django.db import connection

    return {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "CELERY_BROKER_URL": REDIS_TEST_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        **extra,
    }


def worker_args(queue: str, *more: str) -> list[str]:
    return ["worker", "-P", "solo", "-Q", queue, "--without-gossip", "--without-mingle", "-l", "INFO", *more]


def beat_args(schedule_file) -> list[str]:
    return [
        "beat",
        "-l",
        "INFO",
        "-s",
        str(schedule_file),
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
    ]


def only_the_release_sweep(every_seconds: int) -> None:
    """Declare the periodic jobs, with the release sweep every few seconds and every other job off."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from marketplace.schedules import sync_periodic_jobs

    sync_periodic_jobs()
    job = PeriodicTask.objects.get(task="contracts.tasks.release_overdue_milestones")
    job.interval, _ = IntervalSchedule.objects.get_or_create(every=every_seconds, period=IntervalSchedule.SECONDS)
    job.save()
    PeriodicTask.objects.exclude(pk=job.pk).update(enabled=False)
