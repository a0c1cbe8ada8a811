"""Settings for `make bench` only: the real settings (DEBUG off) plus the ceiling view's URL.

The ceiling is a minimal login-required view that runs one query; it exists only here, never on the site.
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-anywhere-else-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # gunicorn serves plain HTTP to wrk on localhost
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# The sweep is measured on its own workers; the fan-out it causes (notifications, emails) on theirs.
os.environ.setdefault("CELERY_NOTIFICATIONS_QUEUE", "bench-notifications")
# Caches shared by every process, as in production (deploy/production.env): Redis databases of the bench's own.
os.environ.setdefault("CACHE_URL", os.environ.get("BENCH_CACHE_URL", "rediscache://127.0.0.1:6379/12"))
os.environ.setdefault("PAGE_CACHE_URL", os.environ.get("BENCH_PAGE_CACHE_URL", "rediscache://127.0.0.1:6379/10"))
os.environ.setdefault(
    "FRAGMENT_CACHE_URL", os.environ.get("BENCH_FRAGMENT_CACHE_URL", "rediscache://127.0.0.1:6379/11")
)

from marketplace.settings import *  # noqa: E402,F403
from marketplace.settings import STORAGES  # noqa: E402

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
# No collectstatic step: pages link static files by their plain names.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"handlers": [], "level": "WARNING"}}
# Emails are not what is measured; keep them in memory (the console backend floods the terminal).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The outbox's deliveries: the provider's time is not ours to measure (and locmem would grow without end).
EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
