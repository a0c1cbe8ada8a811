"""The sandbox provider's background work: delivering its signed webhooks and settling late payments."""

import logging
import urllib.request
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from . import engine
from .models import Event

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 10


@shared_task
def deliver_event(event_id: str) -> bool:
    """POST the signed event to the site's webhook endpoint; True once it was accepted (2xx).

    With SANDBOX_WEBHOOK_URL empty (the default, and the tests) the request is handed to the same
    receiving function the endpoint uses, in this process: signature, inbox and task all run.
    """
    event = Event.objects.filter(pk=event_id, delivered_at__isnull=True).first()
    if event is None:
        return True
    Event.objects.filter(pk=event_id).update(attempts=F("attempts") + 1)
    body = engine.event_body(event)
    signature = engine.sign(body, secret=settings.SANDBOX_WEBHOOK_SECRET)
    try:
        status = _post(body, signature)
    except Exception:  # an unreachable site: the sweep delivers it again
        logger.exception("Sandbox webhook %s could not be delivered", event_id)
        return False
    if 200 <= status < 300:
        Event.objects.filter(pk=event_id).update(delivered_at=timezone.now())
        return True
    logger.warning("Sandbox webhook %s was answered %s", event_id, status)
    return False


def _post(body: bytes, signature: str) -> int:
    url = settings.SANDBOX_WEBHOOK_URL
    if not url:
        from escrow.webhooks import webhook_receive

        return webhook_receive(provider="sandbox", body=body, headers={engine.SIGNATURE_HEADER: signature})
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"SANDBOX_WEBHOOK_URL must be an http(s) URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 (http(s) checked above)
        url, data=body, method="POST", headers={"Content-Type": "application/json", engine.SIGNATURE_HEADER: signature}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@shared_task
def sandbox_sweep() -> dict:
    """Settle late payments whose time came, and deliver again events the site did not accept."""
    settled = engine.settle_late_checkouts()
    retry_before = timezone.now() - timedelta(seconds=10)
    pending = Event.objects.filter(delivered_at__isnull=True, attempts__lt=MAX_ATTEMPTS, created_at__lt=retry_before)
    redelivered = sum(1 for event_id in pending.values_list("pk", flat=True)[:200] if deliver_event(event_id))
    return {"settled": settled, "redelivered": redelivered}
