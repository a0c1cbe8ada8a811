import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging import selectors, services
from messaging.models import Attachment, ImmutableRecordError, Message, Thread, ThreadParticipant
from messaging.tests.factories import PDF_BYTES, make_thread, pdf, png, post_messages, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(client_user, freelancer):
    return client_user, freelancer


@pytest.fixture
def thread(people):
    return services.thread_create(participants=list(people), subject="Online shop", link_url="/contracts/7/")


# --- thread_create / thread_set_notice ---


def test_thread_create_adds_each_participant_once(people):
    clara, felix = people

    thread = services.thread_create(participants=[clara, felix, clara], subject="  Online   shop ", link_url="/c/1/")

    assert thread.subject == "Online shop"
    assert thread.link_url == "/c/1/"
    assert sorted(thread.participants.values_list("user_id", flat=True)) == sorted([clara.pk, felix.pk])


@pytest.mark.parametrize(
    ("participants", "subject", "link", "message"),
    [
        ("one", "Shop", "", "at least two different participants"),
        ("two", "", "", "needs a subject"),
        ("two", "x" * 201, "", "too long"),
        ("two", "Shop", "javascript:alert(1)", "is not a link"),
        ("two", "Shop", "//evil.example/", "is not a link"),
        ("two", "Shop", "data:text/html,<b>", "is not a link"),
    ],
)
def test_thread_create_refuses_bad_input(people, participants, subject, link, message):
    users = [people[0]] if participants == "one" else list(people)

    with pytest.raises(ValidationError, match=message):
        services.thread_create(participants=users, subject=subject, link_url=link)

    assert not Thread.objects.exists()


def test_thread_create_accepts_site_paths_and_http_links(people):
    for link in ("/contracts/3/", "https://example.com/brief", ""):
        assert services.thread_create(participants=list(people), subject="S", link_url=link).link_url == link


def test_thread_set_notice_sets_and_clears(thread):
    services.thread_set_notice(thread=thread, text="Use Submit work on the milestone.")
    thread.refresh_from_db()
    assert thread.notice == "Use Submit work on the milestone."

    services.thread_set_notice(thread=thread, text="")
    thread.refresh_from_db()
    assert thread.notice == ""


# --- message_post ---


def test_a_participant_posts_a_message(thread, people):
    clara, felix = people

    message = services.message_post(thread=thread, sender=clara, body="  Hello Felix,\r\nhow are you?  ")

    assert message.body == "Hello Felix,\nhow are you?"
    assert message.kind == Message.Kind.MESSAGE
    thread.refresh_from_db()
    assert thread.last_message_id == message.pk
    assert thread.last_message_at == message.created_at
    # The sender has read their own message; the other has not.
    assert ThreadParticipant.objects.get(thread=thread, user=clara).last_read_message_id == message.pk
    assert ThreadParticipant.objects.get(thread=thread, user=felix).last_read_message_id == 0


def test_a_non_participant_cannot_post(thread):
    with pytest.raises(PermissionDenied):
        services.message_post(thread=thread, sender=UserFactory(), body="Hi")
    assert not Message.objects.exists()


def test_a_deactivated_participant_cannot_post(thread, people):
    clara = people[0]
    clara.is_active = False
    clara.save()

    with pytest.raises(PermissionDenied):
        services.message_post(thread=thread, sender=clara, body="Hi")


@pytest.mark.parametrize("body", ["", "   ", "\n\n"])
def test_an_empty_message_without_files_is_refused(thread, people, body):
    with pytest.raises(ValidationError) as error:
        services.message_post(thread=thread, sender=people[0], body=body)

    assert error.value.messages == ["Write a message or attach a file."]


def test_a_message_may_be_only_files(thread, people):
    message = services.message_post(thread=thread, sender=people[0], body="", files=[pdf()])

    assert message.body == ""
    assert message.attachments.count() == 1


def test_the_length_limit_is_exact(thread, people, settings):
    settings.MESSAGE_MAX_LENGTH = 10_000
    services.message_post(thread=thread, sender=people[0], body="a" * 10_000)

    with pytest.raises(ValidationError) as error:
        services.message_post(thread=thread, sender=people[0], body="a" * 10_001)

    assert "at most 10,000 characters" in error.value.messages[0]
    assert "10,001" in error.value.messages[0]


def test_the_rate_limit_counts_messages_in_the_database(thread, people, settings):
    settings.MESSAGE_RATE_LIMIT_PER_MINUTE = 3
    clara, felix = people
    other_thread = make_thread(people=[clara, UserFactory()])
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        services.message_post(thread=thread, sender=clara, body="1")
        services.message_post(thread=other_thread, sender=clara, body="2")  # counted across threads
        services.message_post(thread=thread, sender=clara, body="3")
        with pytest.raises(ValidationError) as error:
            services.message_post(thread=thread, sender=clara, body="4")
        assert error.value.messages == ["You are sending messages too fast. Wait a moment and try again."]
        # The limit is per sender: the other participant can still answer.
        services.message_post(thread=thread, sender=felix, body="Slow down!")
        # Events never count.
        services.event_post(thread=thread, text="Clara funded a milestone", actor=clara)

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        services.message_post(thread=thread, sender=clara, body="4, a minute later")

    assert Message.objects.filter(sender=clara, kind="message").count() == 4


def test_files_are_stored_with_their_hash_under_a_random_path(thread, people):
    message = services.message_post(thread=thread, sender=people[0], body="Brief", files=[pdf("Brief v2.pdf"), png()])

    first, second = message.attachments.order_by("pk")
    assert (first.original_name, first.content_type, first.size) == ("Brief v2.pdf", "application/pdf", len(PDF_BYTES))
    assert first.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert "Brief" not in first.file.name and first.file.name.startswith("messaging/")
    with first.file.open("rb") as stored:
        assert stored.read() == PDF_BYTES
    assert second.content_type == "image/png"


def test_a_refused_file_refuses_the_whole_message_and_stores_nothing(thread, people, media_in_tmp):
    with pytest.raises(ValidationError) as error:
        services.message_post(
            thread=thread,
            sender=people[0],
            body="Here you go",
            files=[pdf(), upload("setup.exe", b"MZ\x90\x00" + b"\x00" * 100)],
        )

    assert error.value.messages == ["“setup.exe”: this file type is not allowed."]
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()
    assert not any(path.is_file() for path in media_in_tmp.rglob("*"))


# --- append-only ---


def test_messages_and_attachments_cannot_be_changed_or_deleted(thread, people):
    message = services.message_post(thread=thread, sender=people[0], body="Original", files=[pdf()])
    attachment = message.attachments.get()

    message.body = "Edited"
    with pytest.raises(ImmutableRecordError):
        message.save()
    with pytest.raises(ImmutableRecordError):
        message.delete()
    with pytest.raises(ImmutableRecordError):
        Message.objects.filter(pk=message.pk).update(body="Edited")
    with pytest.raises(ImmutableRecordError):
        Message.objects.filter(pk=message.pk).delete()
    with pytest.raises(ImmutableRecordError):
        attachment.delete()

    message.refresh_from_db()
    assert message.body == "Original"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE messaging_message SET body = 'Edited' WHERE id = %s",
        "DELETE FROM messaging_message WHERE id = %s",
    ],
)
def test_the_database_refuses_edits_that_bypass_the_models(thread, people, sql):
    message = services.message_post(thread=thread, sender=people[0], body="Original")

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [message.pk])

    message.refresh_from_db()
    assert message.body == "Original"


# --- event_post ---


def test_an_event_is_a_system_line_that_counts_as_unread_for_the_others(thread, people):
    clara, felix = people

    event = services.event_post(
        thread=thread, text="Clara Client funded “Designs” ($300.00)", actor=clara, link_url="/contracts/7/#m1"
    )

    assert (event.kind, event.sender, event.link_url) == (Message.Kind.EVENT, clara, "/contracts/7/#m1")
    assert selectors.unread_counts(user=felix).threads == 1
    assert selectors.unread_counts(user=clara).threads == 0  # her own action


def test_an_event_without_actor_counts_for_everyone(thread, people):
    services.event_post(thread=thread, text="The review period ended; the payment was released.")

    assert [selectors.unread_counts(user=u).threads for u in people] == [1, 1]


def test_an_event_refuses_a_dangerous_link(thread):
    with pytest.raises(ValidationError):
        services.event_post(thread=thread, text="Funded", link_url="javascript:alert(1)")


# --- reading ---


def test_mark_read_only_moves_forward(thread, people):
    clara, felix = people
    first, second = post_messages(thread, clara, 2)

    assert services.thread_mark_read(thread=thread, user=felix, through_message_id=second.pk) is True
    assert services.thread_mark_read(thread=thread, user=felix, through_message_id=first.pk) is False

    assert ThreadParticipant.objects.get(thread=thread, user=felix).last_read_message_id == second.pk
    assert selectors.unread_counts(user=felix).threads == 0


def test_thread_for_participant_is_404_for_anyone_else(thread, people):
    from django.http import Http404

    assert selectors.thread_for_participant(user=people[1], thread_id=thread.pk) == thread
    with pytest.raises(Http404):
        selectors.thread_for_participant(user=FreelancerFactory(), thread_id=thread.pk)
    with pytest.raises(Http404):
        selectors.thread_for_participant(user=people[1], thread_id=thread.pk + 1000)


def test_unread_counts_come_from_one_query(thread, people, django_assert_num_queries):
    clara, felix = people
    post_messages(thread, clara, 3)
    post_messages(make_thread(people=[clara, felix]), clara, 1)
    services.notify(user=felix, kind="contract", text="Clara funded “Designs”", email=False)

    with django_assert_num_queries(1):
        counts = selectors.unread_counts(user=felix)

    assert (counts.threads, counts.notifications) == (2, 1)


def test_the_header_counts_are_cached_per_user_until_something_changes_them(
    thread, people, django_assert_num_queries, settings
):
    settings.MESSAGING_BADGE_CACHE_SECONDS = 60
    clara, felix = people
    post_messages(thread, clara, 1)
    assert selectors.unread_counts_cached(user=felix).threads == 1
    with django_assert_num_queries(0):
        assert selectors.unread_counts_cached(user=felix).threads == 1  # from the cache
    assert selectors.unread_counts_cached(user=clara).threads == 0  # per user, never shared

    services.thread_mark_read(thread=thread, user=felix)
    assert selectors.unread_counts_cached(user=felix).threads == 0  # her own read: at once
    services.message_post(thread=thread, sender=clara, body="One more thing")
    assert selectors.unread_counts_cached(user=felix).threads == 1  # a new message: at once
    notification = services.notify(user=felix, kind="contract", text="Clara funded “Designs”", email=False)
    assert selectors.unread_counts_cached(user=felix).notifications == 1
    services.notification_mark_read(user=felix, notification=notification)
    assert selectors.unread_counts_cached(user=felix).notifications == 0
    services.events_post(lines=[services.EventLine(thread_id=thread.pk, text="Automatically: released")])
    assert selectors.unread_counts_cached(user=clara).threads == 1  # a batch of events too


def test_a_message_that_fails_after_saving_its_files_leaves_no_file_behind(settings, tmp_path):
    from unittest import mock

    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging import services
    from messaging.tests.factories import make_thread

    settings.MEDIA_ROOT = tmp_path
    thread = make_thread()
    sender = thread.participants.first().user

    with mock.patch("messaging.services._touch_thread", side_effect=RuntimeError("boom")), pytest.raises(RuntimeError):
        services.message_post(
            thread=thread, sender=sender, body="", files=[SimpleUploadedFile("n.txt", b"hi", content_type="text/plain")]
        )

    assert not Attachment.objects.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
