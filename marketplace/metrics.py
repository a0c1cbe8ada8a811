"""Prometheus metrics. Process-local counters for what happens in a process; business numbers are
read from the database when /metrics is scraped (marketplace/observability.py), so every web process
reports the same totals and nothing is lost when a process restarts."""

from prometheus_client import Counter

TASKS_NOT_DISPATCHED = Counter(
    "marketplace_tasks_not_dispatched_total",
    "Tasks that could not be sent to the broker after commit (their sweep runs them later).",
    ["task"],
)
