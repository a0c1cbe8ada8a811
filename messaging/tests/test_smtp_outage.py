"""A real SMTP server (aiosmtpd) that refuses connections for a while: every email is delivered once
after it comes back, none twice."""

from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from marketplace.tests.factories import UserFactory
from marketplace.tests.redis_server import free_port
from messaging import outbox, services
from messaging.models import OutboundEmail

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


class Sink:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    port = free_port()
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    yield controller, sink
    if controller._thread is not None:
        controller.stop()


def test_emails_written_while_smtp_is_down_are_delivered_once_when_it_returns(
    smtp, django_capture_on_commit_callbacks, settings
):
    controller, sink = smtp  # not started: connections are refused
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    people = [UserFactory() for _ in range(3)]
    for person in people:  # three actions, each its own transaction
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(user=person, kind="contract", text=f"Funded for {person.name}")
    assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("queued", 1)}
    assert "ConnectionRefusedError" in OutboundEmail.objects.first().last_error

    later = timezone.now() + timedelta(minutes=5)
    assert outbox.emails_send_due(now=later) == (0, False)  # still down: a second attempt each, recorded
    assert set(OutboundEmail.objects.values_list("attempts", flat=True)) == {2}

    controller.start()
    much_later = timezone.now() + timedelta(hours=1)
    assert outbox.emails_send_due(now=much_later) == (3, False)
    assert outbox.emails_send_due(now=much_later + timedelta(hours=1)) == (0, False)

    assert sorted(rcpt[0] for rcpt, _ in sink.received) == sorted(p.email for p in people)
    assert set(OutboundEmail.objects.values_list("status", "attempts")) == {("sent", 3)}
