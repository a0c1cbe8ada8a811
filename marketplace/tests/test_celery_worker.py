"""A real Celery worker consumes from Redis and runs the project's tasks."""

import uuid

import pytest
from celery import Celery
from celery.result import allow_join_result

from marketplace.tests.celery_processes import REDIS_TEST_URL, celery_process, wait_for

pytestmark = pytest.mark.integration


def test_a_real_worker_runs_a_task_sent_through_redis(tmp_path, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # it would override the sender's broker
    queue = f"test-{uuid.uuid4().hex}"
    env = {"CELERY_BROKER_URL": REDIS_TEST_URL, "CELERY_RESULT_BACKEND": REDIS_TEST_URL}
    sender = Celery(broker=REDIS_TEST_URL, backend=REDIS_TEST_URL)
    log = tmp_path / "worker.log"

    with celery_process(
        "worker", "-P", "solo", "-Q", queue, "--without-gossip", "--without-mingle", "-l", "INFO", env=env, log_path=log
    ):
        # A message published before the worker has bound its queue would be dropped by Redis.
        wait_for(lambda: sender.control.ping(timeout=0.5), timeout=60, what=f"the worker to start; log: {log}")
        result = sender.send_task("marketplace.tasks.ping", queue=queue)
        try:
            # This process is no worker: joining a result is fine here. (Celery keeps "a join would block"
            # in a process-wide flag that eager tasks run by several threads at once, as the race tests do,
            # can leave set; `allow_join_result` is its documented override.)
            with allow_join_result():
                assert result.get(timeout=30) == "pong"
        except Exception:
            raise AssertionError(f"The worker did not run the task. Its log:\n{log.read_text()}") from None

    assert result.successful()
