"""With the broker down, user actions answer as usual and the deferred work runs once it is back.

The Celery app is pointed at a Redis server of this test's own, which the test stops and starts."""

import pytest
from django.core import mail
from django.urls import reverse

from contracts.tests.factories import make_offer
from marketplace.tests.celery_processes import this_process_on_broker
from marketplace.tests.redis_server import redis_server
from messaging.models import OutboundEmail
from messaging.tasks import send_due_emails

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_broker(monkeypatch):
    """The site's Celery app, not eager, publishing to a Redis of our own."""
    with redis_server() as server, this_process_on_broker(server.url, monkeypatch):
        yield server


def test_an_action_with_the_broker_down_answers_as_usual_and_its_email_goes_out_once_after(
    client, own_broker, settings
):
    settings.OUTBOX_STUCK_SECONDS = 0
    offer = make_offer()
    client.force_login(offer.freelancer)
    decline = reverse("contracts:offer_decline", args=[offer.pk])

    own_broker.stop()
    response = client.post(decline, {"reason": "Too little time this month"})

    assert response.status_code == 302  # not 500: the decline was saved, and the user is told so
    email = OutboundEmail.objects.get(to_email=offer.client.email)
    assert (email.status, email.attempts) == ("queued", 0)  # written with the action, not sent yet
    assert client.get(reverse("healthz")).json()["broker"] == "unavailable"

    own_broker.start()
    assert client.get(reverse("healthz")).json()["broker"] == "ok"
    # The beat sweep, once the broker delivers it again: the decline's email (never published) and the
    # offer's (published, but lost with the restarted Redis, which kept nothing on disk).
    assert send_due_emails.apply().get() == 2
    assert send_due_emails.apply().get() == 0

    assert sorted(m.to[0] for m in mail.outbox) == sorted([offer.client.email, offer.freelancer.email])
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 1)


def test_with_the_broker_up_the_email_task_is_published_after_commit(client, own_broker):
    offer = make_offer()
    client.force_login(offer.freelancer)

    response = client.post(reverse("contracts:offer_decline", args=[offer.pk]), {"reason": "Busy"})

    assert response.status_code == 302
    assert own_broker.client().llen("celery") == 2  # the offer's email and the decline's, waiting for a worker
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {"queued"}
