"""allauth's emails in the site's layout, through the outbox (nothing sent inside the request), on SITE_URL."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from messaging.models import OutboundEmail

from .test_accounts import SIGNUP

pytestmark = pytest.mark.django_db


def html_of(message) -> str:
    (html,) = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    return html


def test_a_password_reset_is_queued_not_sent_in_the_request_and_links_to_site_url(
    client, client_user, settings, deliver_emails
):
    settings.SITE_URL = "https://milestone.example"
    response = client.post(reverse("account_reset_password"), {"email": client_user.email}, HTTP_HOST="127.0.0.1:8814")

    assert response.status_code == 302
    assert mail.outbox == []  # nothing sent inside the request
    queued = OutboundEmail.objects.get()
    assert queued.status == OutboundEmail.Status.QUEUED and queued.to_email == client_user.email
    assert queued.html_body and queued.user == client_user

    (message,) = deliver_emails()  # what the worker does after commit
    html = html_of(message)
    assert message.subject == "Reset your Milestone password"
    assert "127.0.0.1:8814" not in message.body + html + message.subject
    assert re.search(
        r"Choose a new password: https://milestone\.example/accounts/password/reset/key/\S+/", message.body
    )
    assert 'href="https://milestone.example/accounts/password/reset/key/' in html
    assert "Hello Clara," in message.body and "Hello Clara," in html
    assert "List-Unsubscribe" not in message.extra_headers  # account emails cannot be unsubscribed from
    assert "/notifications/unsubscribe/" not in message.body


def test_the_signup_confirmation_is_in_the_layout(client, settings, deliver_emails):
    settings.SITE_URL = "https://milestone.example"
    client.post(reverse("account_signup"), SIGNUP, HTTP_HOST="testserver")
    assert mail.outbox == []

    (message,) = deliver_emails()
    assert message.subject == "Confirm your email address on Milestone"
    assert re.search(
        r"Confirm your email address: https://milestone\.example/accounts/confirm-email/\S+/", message.body
    )
    assert "ada@example.com" in message.body
    assert 'class="button"' in html_of(message)


def test_security_notices_name_the_time_in_the_users_timezone_and_link_to_the_account(
    client, client_user, password, deliver_emails
):
    client_user.timezone = "Asia/Tokyo"
    client_user.save()
    client.force_login(client_user)
    client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": "a-brand-new-secret-42", "password2": "a-brand-new-secret-42"},
    )

    (message,) = deliver_emails()
    assert "JST" in message.body  # the change's time, on the user's clock
    assert "If it was not you, change your password now" in message.body
    assert "/accounts/password/change/" in message.body
    assert "List-Unsubscribe" not in message.extra_headers
