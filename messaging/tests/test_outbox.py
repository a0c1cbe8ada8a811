"""The email outbox: retries with backoff, the sweep, failures for staff, undeliverable addresses."""

import base64
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import send_mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from marketplace.tests.factories import UserFactory
from messaging import outbox
from messaging.models import EmailSuppression, OutboundEmail
from messaging.tasks import send_due_emails

pytestmark = pytest.mark.django_db


def queue(django_capture_on_commit_callbacks, to="ana@example.com", subject="Hello"):
    with django_capture_on_commit_callbacks(execute=True):
        return outbox.email_queue(to=to, subject=subject, body="Body")


def test_a_refused_email_is_retried_with_growing_waits_then_sent_once(
    flaky_email, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    flaky_email.add("*")
    email = queue(django_capture_on_commit_callbacks)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("queued", 1) and "ConnectionRefusedError" in email.last_error
    waits = [email.next_attempt_at - email.created_at]
    for _ in range(3):
        now = email.next_attempt_at
        assert outbox.email_deliver(email_id=email.pk, now=now - timedelta(seconds=5)) is None  # not due yet
        outbox.email_deliver(email_id=email.pk, now=now)
        email.refresh_from_db()
        waits.append(email.next_attempt_at - now)
    assert [round(w.total_seconds()) for w in waits] == [30, 60, 120, 240]

    flaky_email.clear()
    outbox.email_deliver(email_id=email.pk, now=email.next_attempt_at)
    outbox.email_deliver(email_id=email.pk, now=email.next_attempt_at + timedelta(hours=1))
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("sent", 5, "")
    assert len(mail.outbox) == 1


def test_after_the_last_attempt_the_email_is_failed_and_staff_can_send_it_again(
    flaky_email, django_capture_on_commit_callbacks, settings, client, admin_user
):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    flaky_email.add("*")
    email = queue(django_capture_on_commit_callbacks)
    outbox.email_deliver(email_id=email.pk, now=timezone.now() + timedelta(hours=1))
    email.refresh_from_db()
    assert email.status == "failed" and email.attempts == 2

    admin_client = client  # the project's client: staff sign in with their second factor, as the admin requires
    admin_client.force_login(admin_user)
    changelist = reverse("admin:messaging_outboundemail_changelist")
    page = admin_client.get(changelist + "?status__exact=failed").content.decode()
    assert "ana@example.com" in page and "Failed" in page
    assert (
        "SMTP refused"
        in admin_client.get(reverse("admin:messaging_outboundemail_change", args=[email.pk])).content.decode()
    )

    flaky_email.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(changelist, {"action": "retry_now", "_selected_action": [email.pk]})
    assert response.status_code == 302
    email.refresh_from_db()
    assert email.status == "sent" and len(mail.outbox) == 1


def test_the_sweep_sends_emails_whose_task_never_ran_and_leaves_fresh_ones_to_their_task(
    django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_STUCK_SECONDS = 60
    lost = outbox.email_queue(to="a@example.com", subject="Lost", body="x")  # its on-commit task never runs
    OutboundEmail.objects.filter(pk=lost.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    fresh = outbox.email_queue(to="b@example.com", subject="Fresh", body="x")

    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_emails.delay().get() == 1
        assert send_due_emails.delay().get() == 0

    assert [m.subject for m in mail.outbox] == ["Lost"]
    fresh.refresh_from_db()
    assert fresh.status == "queued"


def test_djangos_own_emails_go_through_the_outbox(django_capture_on_commit_callbacks):
    with override_settings(EMAIL_BACKEND="messaging.outbox.OutboxEmailBackend"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            send_mail("Reset your password", "Follow the link", None, ["ana@example.com", "bo@example.com"])
        assert mail.outbox == [] and OutboundEmail.objects.count() == 2
        for callback in callbacks:
            callback()
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "bo@example.com"]


def postmark_bounce(client, email, record_type="Bounce", bounce_type="HardBounce"):
    payload = {"RecordType": record_type, "Type": bounce_type, "Email": email, "MessageID": "abc", "ID": 1}
    if record_type == "SpamComplaint":
        payload["Type"] = "SpamComplaint"
    return client.post(
        "/anymail/postmark/tracking/",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"hook:s3cret").decode(),
    )


@pytest.fixture
def anymail_webhooks(settings):
    from importlib import reload

    from django.urls import clear_url_caches

    from marketplace import urls

    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret"}
    reload(urls)
    clear_url_caches()
    yield
    settings.ANYMAIL = {}
    reload(urls)
    clear_url_caches()


@pytest.mark.parametrize("record_type", ["Bounce", "SpamComplaint"])
def test_a_bounce_or_complaint_webhook_marks_the_address_undeliverable(
    client, anymail_webhooks, django_capture_on_commit_callbacks, record_type
):
    waiting = outbox.email_queue(to="Gone@Example.com", subject="Waiting", body="x")

    assert postmark_bounce(client, "gone@example.com", record_type).status_code == 200

    suppression = EmailSuppression.objects.get()
    assert suppression.email == "gone@example.com"
    assert suppression.reason == {"Bounce": "bounced", "SpamComplaint": "complained"}[record_type]
    waiting.refresh_from_db()
    assert waiting.status == "suppressed"
    queue(django_capture_on_commit_callbacks, to="gone@example.com")
    assert mail.outbox == [] and OutboundEmail.objects.filter(status="suppressed").count() == 2


def test_the_webhook_refuses_a_wrong_secret_and_is_absent_without_one(client, anymail_webhooks):
    response = client.post(
        "/anymail/postmark/tracking/",
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"hook:guess").decode(),
    )
    assert response.status_code in (400, 403) and not EmailSuppression.objects.exists()


def test_without_a_webhook_secret_there_is_no_webhook(client):
    assert client.post("/anymail/postmark/tracking/", "{}", content_type="application/json").status_code == 404


def test_a_users_email_row_is_linked_to_the_user():
    user = UserFactory()
    email = outbox.email_queue(to=user.email, user=user, subject="Hi", body="x")
    assert email.user == user and outbox.outbox_backlog() == 1
