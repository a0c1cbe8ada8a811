"""Sending Celery tasks after commit without letting a broker outage fail the user's action.

A task is dispatched only once its transaction has committed: the action already happened. If the
broker cannot be reached then, raising would answer HTTP 500 for a change that was saved (users retry
and create duplicates), so the failure is logged and counted instead. This is safe only for work that
a periodic sweep also finds in the database (the email outbox, the release sweep): the sweep runs it
after the broker returns. Do not use it for work nothing else would pick up.
"""

import logging
from functools import partial

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def dispatch(task, *args) -> bool:
    """Send `task(*args)` to the broker now. False (logged) if the broker is unreachable."""
    try:
        task.delay(*args)
    except OperationalError:
        logger.error("Broker unreachable: %s%r not sent now; its sweep will run it", task.name, args, exc_info=True)
        from marketplace.metrics import TASKS_NOT_DISPATCHED

        TASKS_NOT_DISPATCHED.labels(task=task.name).inc()
        return False
    return True


def dispatch_on_commit(task, *args) -> None:
    """Send `task(*args)` after the current transaction commits (right away outside one)."""
    transaction.on_commit(partial(dispatch, task, *args))
