from importlib import import_module

from celery import shared_task
from django.conf import settings


@shared_task
def ping() -> str:
    """A trivial task: proves a worker consumes from the broker (used by the integration test)."""
    return "pong"


@shared_task
def clear_expired_sessions() -> None:
    """Delete expired sessions so the session table does not grow forever."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
