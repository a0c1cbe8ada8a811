"""gunicorn settings for the web processes (`gunicorn -c deploy/gunicorn.conf.py marketplace.wsgi`).

Sync workers: pages are short requests and live updates are polling (no open connections). Every value
can be overridden with GUNICORN_CMD_ARGS or the environment variables read below."""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = 1
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))  # the evidence bundle of a large dispute takes a while
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then (memory), staggered
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")  # the load balancer's addresses
# The app's X-Request-ID (marketplace/observability.py) is in the JSON logs; the access log shows it too.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss request_id=%({x-request-id}o)s'


def child_exit(server, worker):
    """Prometheus multi-process mode: forget the counters of a worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
