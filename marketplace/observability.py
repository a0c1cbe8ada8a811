"""Errors, logs and metrics you can see in production.

- Sentry (sentry-sdk, with its Django and Celery integrations) when SENTRY_DSN is set.
- Structured logs: with LOG_FORMAT=json (the default outside DEBUG) every line is one JSON object that
  carries the request id (X-Request-ID, made up when the proxy sent none), the user id and the Celery
  task id of the work it belongs to.
- Prometheus at /metrics (only with METRICS_TOKEN, sent as a bearer token): process counters plus the
  business numbers, read from the database at scrape time so every process reports the same totals.
- Heartbeats: a periodic job named in HEARTBEAT_TASKS records when it last succeeded in a worker (/readyz).
"""

import contextvars
import logging
import re
import uuid

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
request_var: contextvars.ContextVar[object] = contextvars.ContextVar("request", default=None)
task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


# --- logs ---


class ContextFilter(logging.Filter):
    """Adds request_id, user_id and task_id to every record (empty outside a request or task)."""

    def filter(self, record):
        record.request_id = request_id_var.get()
        user = getattr(request_var.get(), "user", None)  # set by AuthenticationMiddleware, later in the chain
        record.user_id = user.pk if user is not None and user.is_authenticated else None
        record.task_id = task_id_var.get()
        return True


class RequestContextMiddleware:
    """Gives each request an id (the proxy's X-Request-ID if it looks sane), echoed in the response, and
    makes the id and the user available to every log line written while it is handled."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        tokens = (request_id_var.set(request.request_id), request_var.set(request))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            request_var.reset(tokens[1])
        response["X-Request-ID"] = request.request_id
        return response


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun, task_success

    @task_prerun.connect(weak=False)
    def _task_started(task_id=None, **kwargs):
        task_id_var.set(task_id or "")

    @task_postrun.connect(weak=False)
    def _task_ended(**kwargs):
        task_id_var.set("")

    @task_success.connect(weak=False)
    def _heartbeat(sender=None, **kwargs):
        name = settings.HEARTBEAT_TASKS.get(getattr(sender, "name", ""))
        if name:
            from .health import heartbeat_record

            heartbeat_record(name)


# --- metrics ---


class BusinessCollector:
    """The numbers staff watch, computed from the database at scrape time."""

    def collect(self):
        from contracts.models import ContractEvent, Submission
        from escrow.models import Entry
        from messaging.models import OutboundEmail

        from .health import overdue_releases

        entries = CounterMetricFamily(
            "marketplace_money_events",
            "Money events in the ledger, by kind (fund, release, refund_*, ...).",
            labels=["kind"],
        )
        for row in Entry.objects.values("kind").annotate(n=Count("pk")).order_by("kind"):
            entries.add_metric([row["kind"]], row["n"])
        yield entries

        approvals = CounterMetricFamily(
            "marketplace_releases", "Milestones approved and released, by how.", labels=["how"]
        )
        statuses = dict(Submission.objects.values_list("status").annotate(n=Count("pk")).order_by())
        approvals.add_metric(["manual"], statuses.get(Submission.Status.APPROVED, 0))
        approvals.add_metric(["automatic"], statuses.get(Submission.Status.AUTO_APPROVED, 0))
        yield approvals

        disputes = CounterMetricFamily("marketplace_disputes_opened", "Disputes opened.")
        disputes.add_metric([], ContractEvent.objects.filter(to_state="disputed").count())
        yield disputes

        overdue, oldest = overdue_releases(now=timezone.now())
        yield GaugeMetricFamily(
            "marketplace_overdue_releases", "Milestones past their review period and not yet released.", value=overdue
        )
        yield GaugeMetricFamily(
            "marketplace_oldest_overdue_release_seconds",
            "How long the oldest overdue milestone has waited for its automatic release.",
            value=oldest.total_seconds() if oldest else 0,
        )

        backlog = GaugeMetricFamily("marketplace_email_outbox", "Emails in the outbox, by status.", labels=["status"])
        counts = dict(OutboundEmail.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in OutboundEmail.Status.values:
            backlog.add_metric([status], counts.get(status, 0))
        yield backlog


def metrics_view(request):
    token = settings.METRICS_TOKEN
    if not token or request.headers.get("Authorization", "") != f"Bearer {token}":
        raise Http404
    import os

    from prometheus_client import REGISTRY, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process = CollectorRegistry()
        multiprocess.MultiProcessCollector(process)  # the counters of every gunicorn worker
    else:
        process = REGISTRY
    business = CollectorRegistry()
    business.register(BusinessCollector())
    return HttpResponse(
        generate_latest(process) + generate_latest(business), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
