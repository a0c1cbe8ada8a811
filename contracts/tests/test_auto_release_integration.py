"""A real Celery worker and beat, against Redis and the test database: an overdue milestone is
released by the schedule (beat's DatabaseScheduler sending the sweep), not by calling the task."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from contracts import services
from contracts.models import Milestone, Submission
from contracts.tests.factories import fund_milestones, make_contract
from escrow.selectors import user_balances
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.schedules import sync_periodic_jobs
from marketplace.tests.celery_processes import REDIS_TEST_URL, celery_process, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_beat_and_worker_release_an_overdue_milestone(tmp_path, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    contract = make_contract(count=2, amount="250.00")
    milestone, disputed = contract.milestones.order_by("position")
    fund_milestones(contract, milestone, disputed)
    for each in (milestone, disputed):
        services.milestone_submit(milestone_id=each.pk, actor=contract.freelancer, message="Done", links=[])
    # Overdue too, but in dispute: automatic release must never touch it, with beat running.
    services.milestone_dispute(milestone_id=disputed.pk, actor=contract.client, note="Not what we agreed")
    Submission.objects.filter(milestone__contract=contract).update(
        review_deadline=timezone.now() - timedelta(seconds=1)
    )

    sync_periodic_jobs()
    job = PeriodicTask.objects.get(task="contracts.tasks.release_overdue_milestones")
    job.interval, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    job.save()
    PeriodicTask.objects.exclude(pk=job.pk).update(enabled=False)

    queue = f"test-{uuid.uuid4().hex}"
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "CELERY_BROKER_URL": REDIS_TEST_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    with (
        celery_process(
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
            env=env,
            log_path=worker_log,
        ),
        celery_process(
            "beat",
            "-l",
            "INFO",
            "-s",
            str(tmp_path / "beat-schedule"),
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            env=env,
            log_path=beat_log,
        ),
    ):
        try:
            wait_for(
                lambda: Milestone.objects.get(pk=milestone.pk).state == Milestone.State.RELEASED,
                timeout=60,
                what="the scheduled sweep to release the milestone",
            )
        except AssertionError:
            raise AssertionError(f"beat:\n{beat_log.read_text()}\nworker:\n{worker_log.read_text()}") from None

    assert "contracts.tasks.release_overdue_milestones" in worker_log.read_text()  # run by the worker
    assert Milestone.objects.get(pk=disputed.pk).state == Milestone.State.DISPUTED  # the same sweeps left it alone
    assert Submission.objects.get(milestone=milestone).status == Submission.Status.AUTO_APPROVED
    assert user_balances(contract.freelancer)["available"] == Decimal("225.00")
    assert_ledger_consistent()
