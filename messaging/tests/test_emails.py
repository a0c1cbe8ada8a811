"""The one email layout: HTML and text parts, short subjects, List-Unsubscribe and the one-click unsubscribe."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.signing import BadSignature
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from marketplace.hygiene import BIDI_CONTROLS
from messaging import emails, services
from messaging.models import EmailPreference
from messaging.tests.factories import make_thread

pytestmark = pytest.mark.django_db


def unsubscribe_path(message) -> str:
    header = message.extra_headers["List-Unsubscribe"]
    return re.fullmatch(r"<https?://[^/]+(/notifications/unsubscribe/\S+/)>", header).group(1)


def html_part(message) -> str:
    (html,) = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    return html


def test_a_notification_email_has_a_text_and_an_inlined_html_part_from_the_same_content(
    client_user, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://milestone.example"
    section = emails.Section(
        subject="Work submitted: Logo design",
        paragraphs=("Felix submitted work on “Logo design”.", "Review by Tue, Dec 8, 2026, 14:05 CET."),
        quotes=(("Felix", "Here it is <b>bold</b>"),),
        action_label="Review the work",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(
            user=client_user, kind="contract", text="Felix submitted work", url="/contracts/7/", mail=section
        )

    (message,) = mail.outbox
    assert message.subject == "Work submitted: Logo design"
    html = html_part(message)
    for part in (message.body, html):
        assert "Hello Clara," in part
        assert "Review by Tue, Dec 8, 2026, 14:05 CET." in part
        assert "https://milestone.example/contracts/7/" in part  # the button's link
        assert "https://milestone.example/notifications/preferences/" in part
        assert "/notifications/unsubscribe/" in part
        assert "“Contract updates” emails are on" in part  # why they get it
    assert "Review the work: https://milestone.example/contracts/7/" in message.body
    assert "> Here it is <b>bold</b>" in message.body  # the text part quotes as typed
    assert "Here it is &lt;b&gt;bold&lt;/b&gt;" in html  # the HTML part escapes it
    assert "<style" not in html and 'style="' in html  # the CSS is inlined
    assert re.search(r'<a class="button" href="https://milestone.example/contracts/7/" style="[^"]+"', html)
    assert "Milestone" in html.split("</div>")[0] + html  # the header names the site


def test_subjects_are_short_one_line_and_clean():
    title = "Logo" + BIDI_CONTROLS + "\x00 design\n" + "x" * 300
    subject = emails.subject_line(f"Work submitted: {title}")
    assert len(subject) <= emails.SUBJECT_MAX and subject.endswith("…")
    assert not set(BIDI_CONTROLS + "\x00\n") & set(subject)
    assert emails.short("A short title") == "A short title"
    assert len(emails.short("word " * 40)) <= emails.TITLE_MAX


def test_notification_emails_carry_list_unsubscribe_for_their_category(
    client, client_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(user=client_user, kind="reminder", text="Review soon")
    (message,) = mail.outbox
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe_path(message)

    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no session and no CSRF token.
    client.handler.enforce_csrf_checks = True
    response = client.post(path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    preference = EmailPreference.objects.get(user=client_user)
    assert preference.email_off == ["reminder"]  # exactly that category; contract updates stay on
    assert preference.allows("contract") and preference.allows("message")


def test_the_unsubscribe_link_shows_a_page_with_a_button_and_changes_nothing_on_get(client, client_user):
    token = emails.unsubscribe_token(client_user.pk, ["message"])
    page = client.get(reverse("notifications:unsubscribe", args=[token]))

    assert page.status_code == 200
    assert "New messages" in page.content.decode() and 'method="post"' in page.content.decode()
    assert not EmailPreference.objects.filter(user=client_user).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_altered_token_is_refused(client, client_user, freelancer, method):
    token = emails.unsubscribe_token(client_user.pk, ["contract"])
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    response = getattr(client, method)(reverse("notifications:unsubscribe", args=[forged]))

    assert response.status_code == 400
    assert not EmailPreference.objects.exists()
    with pytest.raises(BadSignature):
        emails.unsubscribe_read(forged)


def test_a_token_for_a_category_without_a_switch_unsubscribes_nothing(client_user):
    from messaging.categories import notification_category_register

    notification_category_register("security_test", "Security", email_preference=False)
    token = emails.unsubscribe_token(client_user.pk, ["security_test"])
    user, keys = services.email_unsubscribe(token=token)
    assert keys == []
    assert EmailPreference.objects.get(user=client_user).email_off == []


def test_emails_of_a_category_without_a_switch_have_no_unsubscribe(client_user, django_capture_on_commit_callbacks):
    from messaging.categories import notification_category_register

    notification_category_register("security_test", "Security", email_preference=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(user=client_user, kind="security_test", text="New sign-in")
    (message,) = mail.outbox
    assert "List-Unsubscribe" not in message.extra_headers
    assert "/notifications/unsubscribe/" not in message.body


def test_message_emails_quote_the_messages_and_unsubscribe_from_messages_only(client, client_user, freelancer):
    thread = make_thread(people=[client_user, freelancer], subject="Online shop")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for body in ("First <script>", "Second"):
            services.message_post(thread=thread, sender=freelancer, body=body)
    with (
        time_machine.travel(start + timedelta(seconds=120), tick=False),
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        services.message_digests_send()

    (message,) = mail.outbox
    assert message.subject == "2 new messages from Felix Freelancer: Online shop"
    assert "> First <script>" in message.body
    assert "First &lt;script&gt;" in html_part(message) and "<script>" not in html_part(message)
    client.post(unsubscribe_path(message))
    assert EmailPreference.objects.get(user=client_user).email_off == ["message"]
