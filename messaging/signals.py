"""The email provider's tracking webhook (django-anymail) tells us about bounces and complaints.

anymail verifies the webhook (its shared secret) and turns each provider's payload into one
`tracking` signal; this receiver only hands the facts to the outbox service."""

from anymail.signals import tracking
from django.dispatch import receiver

from . import outbox

UNDELIVERABLE_EVENTS = {"bounced", "complained", "rejected", "unsubscribed"}


@receiver(tracking, dispatch_uid="messaging.outbox.undeliverable")
def mark_undeliverable(sender, event, esp_name, **kwargs):
    if event.event_type in UNDELIVERABLE_EVENTS and event.recipient:
        outbox.address_mark_undeliverable(
            email=event.recipient,
            reason=event.event_type,
            detail=f"{esp_name}: {event.reject_reason or ''} {event.description or ''}".strip(),
        )
