"""Settings for the test suite: the real settings, with test-only defaults.

Tests run against PostgreSQL and Redis (the services CI starts); the URLs can be
overridden from the environment. A missing service makes the tests fail, never skip.
"""

import os

os.environ.setdefault("DEBUG", "0")  # whatever `make run` wrote into var/make-run.env
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")

from .settings import *  # noqa: E402,F403
from .settings import STORAGES, VAR_DIR  # noqa: E402

ALLOWED_HOSTS = ["*"]
# Per-process memory, whatever `make run` wrote into var/make-run.env (files it shares with its Celery worker).
CACHES = {
    alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": alias, "OPTIONS": options}
    for alias, options in {
        "default": {},
        "fragments": {"MAX_ENTRIES": 5000},
        "pages": {"MAX_ENTRIES": 300},
    }.items()
}
# Not through os.environ: Celery lets a CELERY_BROKER_URL environment variable override every app's
# own configuration, which would also capture the apps that integration tests point elsewhere.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3, "socket_timeout": 5}
# Fast hashing: test users are created by the hundred.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Templates use {% static %} without a collectstatic step.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
MEDIA_ROOT = VAR_DIR / "test-media"
# Tasks dispatched on commit run in-process; the integration tests start a real worker.
# Integration tests turn these off/point elsewhere for the real worker and beat processes they start.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true") == "true"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
# Query-count tests count the header's unread counts on every request; the cache has its own tests.
MESSAGING_BADGE_CACHE_SECONDS = 0
# Users' pages stay cached as in production, and every page served from the cache is rendered again and compared:
# any test that changes something a page shows, then looks at it again, fails if the change left the page stale.
PAGE_CACHE_VERIFY = True
# A test's transaction never commits: drop cached pages and counts as soon as they change, so every test that looks
# at a page again after a change checks that the change drops it (marketplace/tests/test_page_cache.py runs as in
# production, with commit hooks).
CACHE_DROP_AT_ONCE = True
# The outbox delivers into Django's test outbox (pytest-django sets EMAIL_BACKEND to locmem, which
# bypasses the outbox for mail sent directly through Django's API).
EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
