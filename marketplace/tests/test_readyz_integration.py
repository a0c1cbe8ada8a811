"""/readyz with a real worker and beat: "degraded" soon after beat stops, "ok" again when it restarts."""

import uuid

import pytest
from django.urls import reverse

from marketplace.tests.celery_processes import (
    REDIS_TEST_URL,
    beat_args,
    celery_process,
    django_env,
    only_the_release_sweep,
    this_process_on_broker,
    wait_for,
    worker_args,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_readyz_turns_degraded_when_beat_stops_and_ok_when_it_restarts(client, tmp_path, settings, monkeypatch):
    settings.READYZ_BEAT_MAX_AGE = 10  # production: 90 s, with the sweep every 60 s
    only_the_release_sweep(every_seconds=2)
    queue = f"test-{uuid.uuid4().hex}"
    env = django_env(queue)
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat", "beat2")}

    def readiness():
        return client.get(reverse("readyz")).json()

    def explain():
        return "\n".join(f"--- {name}:\n{path.read_text()}" for name, path in logs.items() if path.exists())

    with (
        this_process_on_broker(REDIS_TEST_URL, monkeypatch),
        celery_process(*worker_args(queue), env=env, log_path=logs["worker"]),
    ):
        try:
            with celery_process(*beat_args(tmp_path / "beat-schedule"), env=env, log_path=logs["beat"]):
                assert wait_for(lambda: readiness()["status"] == "ok", timeout=90, what="ready")
            body = wait_for(
                lambda: (r := readiness())["status"] == "degraded" and r, timeout=60, what="degraded without beat"
            )
            assert body["workers"] >= 1
            assert body["problems"] == ["the release sweep has not run recently (is beat running?)"]
            with celery_process(*beat_args(tmp_path / "beat-schedule"), env=env, log_path=logs["beat2"]):
                wait_for(lambda: readiness()["status"] == "ok", timeout=60, what="ok again with beat back")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{readiness()}\n{explain()}") from None
