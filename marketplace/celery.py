"""The Celery application.

Configuration comes from Django settings (the ``CELERY_`` namespace). The broker is
Redis in production and CI, and an SQLAlchemy transport on a SQLite file by default,
so `make run` needs no server. Periodic jobs are declared in ``marketplace/schedules.py``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
