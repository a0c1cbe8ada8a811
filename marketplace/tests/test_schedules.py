import pytest
from django_celery_beat.models import PeriodicTask

from marketplace.celery import app as celery_app
from marketplace.schedules import PERIODIC_JOBS, sync_periodic_jobs

pytestmark = pytest.mark.django_db


def test_every_declared_job_names_a_registered_task():
    celery_app.loader.import_default_modules()
    for job in PERIODIC_JOBS:
        assert job.task in celery_app.tasks, job.task
        assert job.why


def test_sync_creates_each_job_once():
    assert sync_periodic_jobs() == [job.name for job in PERIODIC_JOBS]
    assert sync_periodic_jobs() == []
    assert PeriodicTask.objects.filter(name__in=[j.name for j in PERIODIC_JOBS]).count() == len(PERIODIC_JOBS)


def test_sync_keeps_a_schedule_staff_edited_unless_reset():
    sync_periodic_jobs()
    task = PeriodicTask.objects.get(name=PERIODIC_JOBS[0].name)
    task.enabled = False
    task.save()

    sync_periodic_jobs()
    task.refresh_from_db()
    assert task.enabled is False

    sync_periodic_jobs(reset=True)
    task.refresh_from_db()
    assert task.enabled is True


def test_clear_expired_sessions_task_removes_only_expired_sessions():
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from marketplace.tasks import clear_expired_sessions

    Session.objects.create(session_key="old", session_data="", expire_date=timezone.now() - timedelta(days=1))
    Session.objects.create(session_key="new", session_data="", expire_date=timezone.now() + timedelta(days=1))

    clear_expired_sessions.delay()

    assert list(Session.objects.values_list("session_key", flat=True)) == ["new"]
