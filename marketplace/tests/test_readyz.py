"""/readyz: the database, broker and storage, a worker's answer, beat's heartbeat and overdue releases."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contracts.tasks import release_overdue_milestones
from marketplace import health
from marketplace.models import Heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker_answers(monkeypatch):
    answers = {"count": 1}
    monkeypatch.setattr(health, "workers_answering", lambda: answers["count"])
    return answers


def beat_ran(seconds_ago: float):
    Heartbeat.objects.update_or_create(
        name=health.RELEASE_SWEEP, defaults={"last_seen": timezone.now() - timedelta(seconds=seconds_ago)}
    )


def test_ready_when_everything_answers(client, worker_answers):
    beat_ran(5)

    response = client.get(reverse("readyz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["problems"] == []
    assert (body["database"], body["broker"], body["storage"], body["workers"]) == ("ok", "ok", "ok", 1)
    assert body["beat_last_release_sweep_seconds_ago"] in (5, 6)


def test_the_release_sweep_writes_the_heartbeat_when_it_runs():
    assert health.heartbeat_age(health.RELEASE_SWEEP) is None
    release_overdue_milestones.delay().get()
    assert health.heartbeat_age(health.RELEASE_SWEEP) < timedelta(seconds=5)


def test_degraded_when_beat_stopped_and_back_when_it_runs_again(client, worker_answers, settings):
    settings.READYZ_BEAT_MAX_AGE = 90
    beat_ran(91)
    body = client.get(reverse("readyz")).json()
    assert body["status"] == "degraded" and "beat" in body["problems"][0]

    release_overdue_milestones.delay().get()  # what beat sends every minute
    assert client.get(reverse("readyz")).json()["status"] == "ok"


def test_degraded_without_a_worker_or_a_heartbeat(client, worker_answers):
    worker_answers["count"] = 0
    response = client.get(reverse("readyz"))
    assert response.status_code == 200  # this process can still serve pages
    assert response.json()["status"] == "degraded" and len(response.json()["problems"]) == 2


def test_degraded_with_the_count_of_milestones_overdue_for_more_than_ten_minutes(client, worker_answers):
    from contracts.models import Submission
    from contracts.tests.factories import fund_milestones, make_contract

    beat_ran(1)
    contract = make_contract(count=2)
    first, second = contract.milestones.order_by("position")
    fund_milestones(contract, first, second)
    from contracts import services

    for milestone in (first, second):
        services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
    Submission.objects.filter(milestone=first).update(review_deadline=timezone.now() - timedelta(minutes=11))
    Submission.objects.filter(milestone=second).update(review_deadline=timezone.now() - timedelta(minutes=5))

    body = client.get(reverse("readyz")).json()

    assert body["status"] == "degraded" and body["overdue_releases"] == 1
    assert body["problems"] == ["1 milestone(s) overdue for automatic release by more than 10 minutes"]


def test_unavailable_when_storage_fails(client, worker_answers, monkeypatch):
    beat_ran(1)
    monkeypatch.setattr(health, "storage_ok", lambda: False)
    response = client.get(reverse("readyz"))
    assert response.status_code == 503 and response.json()["storage"] == "unavailable"


def test_healthz_stays_cheap(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert client.get(reverse("healthz")).status_code == 200


def test_with_a_broker_that_cannot_broadcast_the_heartbeat_alone_shows_a_worker(client, monkeypatch):
    """The embedded development broker (SQLAlchemy transport) has no fanout, so no ping."""
    from kombu import Connection

    from marketplace.celery import app as celery_app

    monkeypatch.setattr(celery_app, "connection_for_write", lambda: Connection("sqla+sqlite:///:memory:"))
    monkeypatch.setattr(health, "broker_ok", lambda: True)
    beat_ran(1)

    body = client.get(reverse("readyz")).json()

    assert (body["status"], body["workers"]) == ("ok", "not checked")
