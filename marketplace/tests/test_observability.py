"""JSON logs with request, user and task ids; Prometheus metrics with the business numbers."""

import json
import logging
from decimal import Decimal

import pytest
from django.urls import reverse

from marketplace.observability import ContextFilter, task_id_var

pytestmark = pytest.mark.django_db


def json_line(record: logging.LogRecord) -> dict:
    from pythonjsonlogger.json import JsonFormatter

    from marketplace.settings import LOGGING

    spec = dict(LOGGING["formatters"]["json"])
    spec.pop("()")
    if not hasattr(record, "request_id"):
        ContextFilter().filter(record)
    return json.loads(JsonFormatter(**spec).format(record))


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.addFilter(ContextFilter())  # as the console handler does (settings.LOGGING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_log_line_carries_the_request_id_and_the_user(client, client_user, monkeypatch):
    from django.http import HttpResponse

    logger, capture = logging.getLogger("marketplace.tests.request"), Capture()
    logger.addHandler(capture)
    monkeypatch.setattr("marketplace.views.render", lambda *a, **k: logger.warning("hi") or HttpResponse("ok"))
    client.force_login(client_user)
    try:
        response = client.get(reverse("dashboard"), HTTP_X_REQUEST_ID="req-123")
    finally:
        logger.removeHandler(capture)

    assert response["X-Request-ID"] == "req-123"
    line = json_line(capture.records[0])
    assert (line["request_id"], line["user_id"], line["message"], line["level"]) == (
        "req-123",
        client_user.pk,
        "hi",
        "WARNING",
    )


def test_a_request_without_an_id_gets_one_and_a_bad_one_is_replaced(client):
    made = client.get(reverse("healthz"))["X-Request-ID"]
    assert len(made) == 32
    assert client.get(reverse("healthz"), HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


def test_a_log_line_in_a_task_carries_the_task_id():
    token = task_id_var.set("task-42")
    try:
        line = json_line(logging.getLogger("y").makeRecord("y", 30, "f", 1, "careful", (), None))
    finally:
        task_id_var.reset(token)
    assert (line["task_id"], line["request_id"], line["user_id"]) == ("task-42", "", None)


def test_metrics_need_the_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code == 404


def test_metrics_show_the_business_numbers(client, settings):
    from contracts.tests.factories import fund_milestones, make_contract
    from messaging.models import OutboundEmail
    from messaging.outbox import email_queue

    settings.METRICS_TOKEN = "s3cret"
    contract = make_contract(count=2, amount=Decimal("100.00"))
    fund_milestones(contract, *contract.milestones.all())
    email_queue(to="a@example.com", subject="Waiting", body="x")

    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()

    assert 'marketplace_money_events_total{kind="fund"} 2.0' in text
    assert 'marketplace_releases_total{how="automatic"} 0.0' in text
    assert "marketplace_disputes_opened_total 0.0" in text
    assert "marketplace_overdue_releases 0.0" in text
    assert "marketplace_oldest_overdue_release_seconds 0.0" in text
    queued = OutboundEmail.objects.filter(status="queued").count()
    assert queued >= 1 and f'marketplace_email_outbox{{status="queued"}} {queued}.0' in text
    assert "marketplace_tasks_not_dispatched_total" in text or "python_info" in text


def test_sentry_is_on_with_a_dsn_and_off_without(tmp_path):
    import os
    import subprocess
    import sys

    from marketplace.tests.celery_processes import ROOT

    check = "import sentry_sdk; c = sentry_sdk.get_client(); print(c.is_active(), sorted(c.integrations))"

    def run(**env):
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", check],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.test_settings", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    on = run(SENTRY_DSN="http://public@127.0.0.1:9/1")
    assert on.startswith("True") and "'celery'" in on and "'django'" in on
    assert run(SENTRY_DSN="").startswith("False")
