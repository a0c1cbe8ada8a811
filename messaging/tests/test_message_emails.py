"""The periodic sweep that emails unread messages: one email per burst, never twice."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from marketplace.tests.factories import UserFactory
from messaging import outbox, services
from messaging.models import OutboundEmail, ThreadParticipant
from messaging.tasks import send_message_emails
from messaging.tests.factories import make_thread, pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(client_user, freelancer):
    return make_thread(people=[client_user, freelancer], subject="Online shop")


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0)


def burst(thread, sender, count, at):
    with time_machine.travel(at, tick=False):
        return [services.message_post(thread=thread, sender=sender, body=f"Message {n}") for n in range(1, count + 1)]


def sweep(at):
    """One sweep run as its own transaction: the outbox sends what it wrote once that commits."""
    with time_machine.travel(at, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        return send_message_emails.delay().get()


def test_a_burst_of_five_messages_makes_one_email(thread, client_user, freelancer, start, settings):
    settings.MESSAGE_EMAIL_QUIET_SECONDS = 60
    settings.SITE_URL = "https://milestone.example"
    burst(thread, freelancer, 5, start)

    assert sweep(start + timedelta(seconds=61)) == 1

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [client_user.email]
    assert "5 new messages from Felix Freelancer" in email.subject and "Online shop" in email.subject
    for n in range(1, 6):
        assert f"Message {n}" in email.body
    assert f"https://milestone.example/messages/{thread.pk}/" in email.body


def test_a_second_sweep_sends_nothing(thread, freelancer, start):
    burst(thread, freelancer, 5, start)

    sweep(start + timedelta(seconds=61))
    assert sweep(start + timedelta(seconds=121)) == 0

    assert len(mail.outbox) == 1


def test_nothing_is_sent_while_the_burst_goes_on(thread, freelancer, start, settings):
    settings.MESSAGE_EMAIL_QUIET_SECONDS = 60
    burst(thread, freelancer, 2, start)
    burst(thread, freelancer, 1, start + timedelta(seconds=40))

    assert sweep(start + timedelta(seconds=70)) == 0  # the last message is only 30 s old
    assert sweep(start + timedelta(seconds=101)) == 1
    assert "3 new messages" in mail.outbox[0].subject


def test_a_reader_who_already_read_them_gets_no_email(thread, client_user, freelancer, start):
    messages = burst(thread, freelancer, 5, start)
    services.thread_mark_read(thread=thread, user=client_user, through_message_id=messages[-1].pk)

    assert sweep(start + timedelta(seconds=61)) == 0
    assert mail.outbox == []


def test_only_messages_after_what_was_read_or_emailed_are_listed(thread, client_user, freelancer, start):
    first = burst(thread, freelancer, 2, start)
    services.thread_mark_read(thread=thread, user=client_user, through_message_id=first[0].pk)
    sweep(start + timedelta(seconds=61))
    assert "1 new message from" in mail.outbox[0].subject

    with time_machine.travel(start + timedelta(seconds=200), tick=False):
        services.message_post(thread=thread, sender=freelancer, body="A later question")
    sweep(start + timedelta(seconds=300))

    assert len(mail.outbox) == 2
    assert "A later question" in mail.outbox[1].body and "Message 2" not in mail.outbox[1].body


def test_the_sender_is_not_emailed_about_their_own_messages(thread, freelancer, start):
    burst(thread, freelancer, 3, start)
    sweep(start + timedelta(seconds=61))

    assert [m.to for m in mail.outbox] == [["clara@example.com"]]


def test_events_are_never_emailed_as_messages(thread, client_user, start):
    with time_machine.travel(start, tick=False):
        services.event_post(thread=thread, text="Clara funded “Designs”", actor=client_user)
        services.event_post(thread=thread, text="The review period started")

    assert sweep(start + timedelta(seconds=61)) == 0


def test_preferences_are_respected_and_the_messages_still_count_as_covered(thread, client_user, freelancer, start):
    services.email_preferences_update(user=client_user, emails_on={"message": False})
    messages = burst(thread, freelancer, 2, start)

    assert sweep(start + timedelta(seconds=61)) == 0
    assert mail.outbox == []
    # Turning emails back on later does not send old news.
    services.email_preferences_update(user=client_user, emails_on={"message": True})
    assert sweep(start + timedelta(seconds=121)) == 0
    participant = ThreadParticipant.objects.get(thread=thread, user=client_user)
    assert participant.emailed_through_message_id == messages[-1].pk


def test_each_participant_and_thread_gets_its_own_email(client_user, freelancer, start):
    third = UserFactory(name="Tom Third")
    group = make_thread(people=[client_user, freelancer, third], subject="Group")
    other = make_thread(people=[client_user, freelancer], subject="Other")
    with time_machine.travel(start, tick=False):
        services.message_post(thread=group, sender=freelancer, body="Hi both", files=[pdf("plan.pdf")])
        services.message_post(thread=other, sender=freelancer, body="Hi Clara")

    assert sweep(start + timedelta(seconds=61)) == 3

    recipients = sorted((m.to[0], m.subject.split(": ")[-1]) for m in mail.outbox)
    assert recipients == sorted([(client_user.email, "Group"), (third.email, "Group"), (client_user.email, "Other")])
    assert any("[file] plan.pdf" in m.body for m in mail.outbox)


def test_the_sweep_works_in_batches_and_requeues_itself(client_user, start, monkeypatch):
    monkeypatch.setattr(services, "DIGEST_BATCH_SIZE", 2)
    calls = []
    real = services.message_digests_send
    monkeypatch.setattr(services, "message_digests_send", lambda **kw: calls.append(1) or real(**kw))
    senders = [UserFactory() for _ in range(5)]
    with time_machine.travel(start, tick=False):
        for sender in senders:
            services.message_post(thread=make_thread(people=[client_user, sender]), sender=sender, body="Hi")

    sweep(start + timedelta(seconds=61))

    assert len(mail.outbox) == 5
    assert len(calls) == 3  # 2 + 2 + 1: full batches re-queue the task


def test_a_failing_address_does_not_stop_the_others(thread, freelancer, client_user, start, flaky_email):
    third = UserFactory()
    other = make_thread(people=[third, freelancer])
    burst(thread, freelancer, 1, start)
    with time_machine.travel(start, tick=False):
        services.message_post(thread=other, sender=freelancer, body="Hello")
    flaky_email.add(client_user.email)

    assert sweep(start + timedelta(seconds=61)) == 2  # both emails are written into the outbox

    assert [m.to for m in mail.outbox] == [[third.email]]
    failed = OutboundEmail.objects.get(to_email=client_user.email)
    assert (failed.status, failed.attempts) == ("queued", 1) and "SMTP refused" in failed.last_error
    # Recorded as covered: the outbox, not the digest sweep, retries it (a second digest would repeat it).
    assert ThreadParticipant.objects.get(thread=thread, user=client_user).emailed_through_message_id > 0
    flaky_email.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert outbox.emails_send_due(now=failed.next_attempt_at + timedelta(minutes=2)) == (1, False)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([third.email, client_user.email])
