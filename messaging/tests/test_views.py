import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging import services
from messaging.models import Message, ThreadParticipant
from messaging.tests.factories import PDF_BYTES, make_thread, pdf, post_messages, upload

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def thread(client_user, freelancer):
    return services.thread_create(
        participants=[client_user, freelancer], subject="Online shop", link_url="/contracts/7/"
    )


@pytest.fixture
def clara(client, client_user):
    client.force_login(client_user)
    return client


@pytest.fixture
def felix(freelancer):
    browser = Client()
    browser.force_login(freelancer)
    return browser


def html(response) -> str:
    return response.content.decode()


def thread_urls(thread, attachment_id):
    return [
        reverse("messaging:thread", args=[thread.pk]),
        reverse("messaging:poll", args=[thread.pk]) + "?after=0",
        reverse("messaging:earlier", args=[thread.pk]) + "?before=999",
        reverse("messaging:attachment", args=[attachment_id]),
    ]


# --- who may see what ---


def test_every_page_needs_a_login(client, thread):
    message = services.message_post(thread=thread, sender=thread.participants.first().user, body="x", files=[pdf()])
    urls = [
        reverse("messaging:inbox"),
        reverse("notifications:list"),
        reverse("notifications:preferences"),
        *thread_urls(thread, message.attachments.get().pk),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_everything_about_a_thread_is_404_for_non_participants(client, thread, client_user):
    message = services.message_post(thread=thread, sender=client_user, body="Secret", files=[pdf()])
    outsider = FreelancerFactory()
    client.force_login(outsider)

    for url in thread_urls(thread, message.attachments.get().pk):
        assert client.get(url, **HTMX).status_code == 404, url
    response = client.post(reverse("messaging:send", args=[thread.pk]), {"body": "Let me in"})
    assert response.status_code == 404
    assert Message.objects.count() == 1


def test_staff_may_download_files_but_read_threads_only_in_admin(client, thread, client_user):
    message = services.message_post(thread=thread, sender=client_user, body="Brief", files=[pdf()])
    client.force_login(UserFactory(is_staff=True))

    assert client.get(reverse("messaging:attachment", args=[message.attachments.get().pk])).status_code == 200
    assert client.get(reverse("messaging:thread", args=[thread.pk])).status_code == 404


def test_a_participant_downloads_a_file_as_an_attachment(felix, thread, client_user):
    message = services.message_post(thread=thread, sender=client_user, body="", files=[pdf("Brief “final”.pdf")])

    response = felix.get(reverse("messaging:attachment", args=[message.attachments.get().pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF_BYTES


def test_csrf_is_enforced_on_sending(client_user, thread):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(client_user)

    response = browser.post(reverse("messaging:send", args=[thread.pk]), {"body": "Hi"})

    assert response.status_code == 403
    assert not Message.objects.exists()


# --- the thread page ---


def test_the_thread_page_shows_messages_oldest_first_with_files_and_events(clara, thread, client_user, freelancer):
    services.message_post(thread=thread, sender=freelancer, body="Hi Clara,\nhere is www.example.com", files=[pdf()])
    services.event_post(
        thread=thread, text="Clara Client funded “Designs” ($300.00)", actor=client_user, link_url="/c/7/"
    )
    services.thread_set_notice(thread=thread, text="Delivering work through messages does not start the review period.")

    page = html(clara.get(reverse("messaging:thread", args=[thread.pk])))

    assert page.index("Hi Clara,<br>here is") < page.index("funded “Designs”")
    assert '<a href="http://www.example.com" rel="nofollow">www.example.com</a>' in page
    assert "Felix Freelancer" in page
    assert hashlib.sha256(PDF_BYTES).hexdigest()[:12] in page
    assert 'class="message message-event"' in page
    assert "does not start the review period" in page
    assert 'href="/contracts/7/"' in page  # the subject links where it lives
    assert 'name="body"' in page and 'type="file"' in page and "multiple" in page


def test_the_thread_page_shows_times_in_the_viewers_timezone(clara, thread, client_user, freelancer):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    client_user.timezone = "Asia/Tokyo"
    client_user.save()
    with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        services.message_post(thread=thread, sender=freelancer, body="Late night")

    assert "Mar 3, 2026, 08:30" in html(clara.get(reverse("messaging:thread", args=[thread.pk])))


def test_viewing_the_thread_marks_it_read(clara, thread, client_user, freelancer):
    post_messages(thread, freelancer, 3)
    assert clara.get(reverse("messaging:inbox")).context["messaging_unread"].threads == 1

    response = clara.get(reverse("messaging:thread", args=[thread.pk]))

    assert response.context["messaging_unread"].threads == 0  # the header is already up to date
    assert (
        ThreadParticipant.objects.get(thread=thread, user=client_user).last_read_message_id == thread.messages.last().pk
    )


def test_the_thread_page_shows_the_latest_fifty_and_loads_earlier_ones(clara, thread, freelancer):
    messages = post_messages(thread, freelancer, 60)
    url = reverse("messaging:thread", args=[thread.pk])

    page = html(clara.get(url))
    assert "Message 60" in page and "Message 11<" in page and "Message 10<" not in page
    assert f"?before={messages[10].pk}" in page

    # Without JavaScript: the link opens the earlier page (read-only, with a way back).
    earlier = html(clara.get(url, {"before": messages[10].pk}))
    assert "Message 10<" in earlier and "Message 1<" in earlier and "Message 11<" not in earlier
    assert "Load earlier messages" not in earlier
    assert "Go to the latest messages" in earlier and 'name="body"' not in earlier

    # With htmx: only the earlier messages, to put in place of the link.
    partial = html(clara.get(reverse("messaging:earlier", args=[thread.pk]), {"before": messages[10].pk}, **HTMX))
    assert "<html" not in partial and "Message 1<" in partial and "Message 11<" not in partial


def test_the_thread_page_costs_the_same_queries_for_5_or_60_messages(clara, client_user, freelancer, settings):
    settings.MESSAGE_RATE_LIMIT_PER_MINUTE = 1000

    def queries_for(count):
        thread = make_thread(people=[client_user, freelancer])
        post_messages(thread, freelancer, count)
        services.message_post(thread=thread, sender=freelancer, body="with a file", files=[pdf()])
        with CaptureQueriesContext(connection) as queries:
            response = clara.get(reverse("messaging:thread", args=[thread.pk]))
        assert response.status_code == 200
        return len(queries)

    few, many = queries_for(5), queries_for(60)

    assert few == many
    assert many <= 12


# --- sending ---


def test_sending_without_javascript_posts_and_redirects(clara, thread):
    response = clara.post(reverse("messaging:send", args=[thread.pk]), {"body": "Hello!", "files": [pdf()]})

    message = Message.objects.get()
    assert response.status_code == 302
    assert response.url == f"{thread.get_absolute_url()}#message-{message.pk}"
    assert message.body == "Hello!" and message.attachments.count() == 1


def test_sending_from_another_page_returns_there(clara, thread):
    response = clara.post(reverse("messaging:send", args=[thread.pk]), {"body": "Hi", "next": "/contracts/7/"})
    assert response.url == "/contracts/7/"

    response = clara.post(reverse("messaging:send", args=[thread.pk]), {"body": "Hi", "next": "https://evil.example/"})
    assert response.url.startswith(thread.get_absolute_url())


def test_a_refused_message_without_javascript_shows_the_error_and_keeps_the_text(clara, thread, settings):
    settings.MESSAGE_MAX_LENGTH = 20

    response = clara.post(reverse("messaging:send", args=[thread.pk]), {"body": "This text is far too long"})

    assert response.status_code == 400
    page = html(response)
    assert "at most 20 characters" in page
    assert "This text is far too long</textarea>" in page
    assert f'name="next" value="{thread.get_absolute_url()}"' in page  # not the /send/ URL
    assert not Message.objects.exists()


def test_a_refused_message_keeps_the_page_to_return_to(clara, thread):
    url = reverse("messaging:send", args=[thread.pk])

    page = html(clara.post(url, {"body": "", "next": "/contracts/7/"}))
    assert 'name="next" value="/contracts/7/"' in page

    page = html(clara.post(url, {"body": "", "next": "/contracts/7/", "after": 0}, **HTMX))
    assert 'name="next" value="/contracts/7/"' in page


def test_sending_with_htmx_returns_the_new_messages_and_a_fresh_composer(clara, thread, freelancer):
    earlier = services.message_post(thread=thread, sender=freelancer, body="Before")
    unseen = services.message_post(thread=thread, sender=freelancer, body="Arrived while typing")

    response = clara.post(
        reverse("messaging:send", args=[thread.pk]), {"body": "My answer", "after": earlier.pk}, **HTMX
    )

    page = html(response)
    assert response.status_code == 200 and "<html" not in page
    assert "Arrived while typing" in page and "My answer" in page and ">Before<" not in page
    mine = Message.objects.get(body="My answer")
    assert f'id="thread-{thread.pk}-after" value="{mine.pk}" data-hx-swap-oob="true"' in page
    assert re.search(rf'<form id="thread-{thread.pk}-composer"[^>]*data-hx-swap-oob="true"', page)
    assert "My answer</textarea>" not in page  # the composer is empty again
    assert unseen.pk < mine.pk


def test_a_refused_message_with_htmx_comes_back_in_the_composer(clara, thread, client_user):
    response = clara.post(
        reverse("messaging:send", args=[thread.pk]),
        {"body": "See attached", "after": 0, "files": [upload("tool.exe", b"MZ\x90\x00")]},
        **HTMX,
    )

    page = html(response)
    assert "“tool.exe”: this file type is not allowed." in page
    assert "See attached</textarea>" in page
    assert not Message.objects.exists()


def test_the_rate_limit_is_shown_to_the_sender(clara, thread, settings):
    settings.MESSAGE_RATE_LIMIT_PER_MINUTE = 2
    url = reverse("messaging:send", args=[thread.pk])
    clara.post(url, {"body": "1"})
    clara.post(url, {"body": "2"})

    response = clara.post(url, {"body": "3"}, **HTMX)

    assert "You are sending messages too fast. Wait a moment and try again." in html(response)
    assert Message.objects.count() == 2


# --- polling ---


def test_polling_returns_only_newer_messages_and_marks_them_read(clara, thread, client_user, freelancer):
    first = services.message_post(thread=thread, sender=freelancer, body="First")
    url = reverse("messaging:poll", args=[thread.pk])

    nothing_new = clara.get(url, {"after": first.pk}, **HTMX)
    assert nothing_new.status_code == 204

    second = services.message_post(thread=thread, sender=freelancer, body="Second")
    response = clara.get(url, {"after": first.pk}, **HTMX)

    page = html(response)
    assert "Second" in page and ">First<" not in page
    assert f'value="{second.pk}" data-hx-swap-oob="true"' in page
    assert response["HX-Trigger"] == "messaging:read"
    assert ThreadParticipant.objects.get(thread=thread, user=client_user).last_read_message_id == second.pk


def test_polling_marks_read_what_the_page_already_shows(clara, thread, client_user, freelancer):
    """An embedded thread (e.g. on the contract page) is read once it has been shown."""
    shown = services.message_post(thread=thread, sender=freelancer, body="Shown")

    response = clara.get(reverse("messaging:poll", args=[thread.pk]), {"after": shown.pk + 500}, **HTMX)

    assert response.status_code == 204 and response["HX-Trigger"] == "messaging:read"
    # Never beyond the newest message: a made-up id cannot mark future messages read.
    assert ThreadParticipant.objects.get(thread=thread, user=client_user).last_read_message_id == shown.pk


def test_polling_needs_an_after_id(clara, thread):
    assert clara.get(reverse("messaging:poll", args=[thread.pk]), **HTMX).status_code == 400


# --- the inbox ---


def test_the_inbox_lists_every_thread_with_people_subject_preview_and_unread(clara, client_user, freelancer):
    first = make_thread(people=[client_user, freelancer], subject="Online shop", link_url="/contracts/1/")
    second = make_thread(people=[client_user, UserFactory(name="Olga Other")], subject="Logo")
    services.message_post(thread=first, sender=freelancer, body="Here is the first draft")
    services.message_post(thread=first, sender=freelancer, body="", files=[pdf()])
    services.message_post(thread=second, sender=client_user, body="Any news?")

    response = clara.get(reverse("messaging:inbox"))

    page = html(response)
    assert [t.pk for t in response.context["page"]] == [second.pk, first.pk]  # most recent first
    assert "Felix Freelancer" in page and "Olga Other" in page and "Clara Client</a>" not in page
    assert '<a href="/contracts/1/" class="link-secondary">Online shop</a>' in page
    assert re.search(r"</svg>\s*1 file\b", page)
    assert "You:</span>" in page and "Any news?" in page
    assert [t.unread for t in response.context["page"]] == [0, 2]


def test_the_inbox_has_an_empty_state(clara):
    assert "No conversations yet." in html(clara.get(reverse("messaging:inbox")))


def test_the_inbox_costs_the_same_queries_whatever_the_number_of_threads(clara, client_user):
    def queries_for(count):
        for _ in range(count):
            other = FreelancerFactory()
            thread = make_thread(people=[client_user, other])
            services.message_post(thread=thread, sender=other, body="Hello", files=[pdf()])
        with CaptureQueriesContext(connection) as queries:
            response = clara.get(reverse("messaging:inbox"))
        assert response.status_code == 200
        return len(queries)

    few = queries_for(2)
    many = queries_for(20)

    assert few == many
    assert many <= 8


# --- safety: user text is inert everywhere ---


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_xss_in_bodies_subjects_and_file_names_renders_as_text(clara, client_user, freelancer):
    thread = make_thread(people=[client_user, freelancer], subject=XSS, link_url="")
    message = services.message_post(thread=thread, sender=freelancer, body=XSS + "\njavascript:alert(1)")
    services.message_post(thread=thread, sender=freelancer, body="", files=[pdf('"><svg onload=alert(1)>.pdf')])
    services.event_post(thread=thread, text=XSS)

    pages = [
        html(clara.get(reverse("messaging:thread", args=[thread.pk]))),
        html(clara.get(reverse("messaging:inbox"))),
        html(clara.get(reverse("messaging:poll", args=[thread.pk]), {"after": message.pk - 1}, **HTMX)),
    ]

    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<svg onload" not in page
        assert 'href="javascript:' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in pages[0]


# --- header badges ---


def test_the_header_shows_the_bell_and_messages_with_unread_counts(clara, thread, client_user, freelancer):
    post_messages(thread, freelancer, 2)
    services.notify(user=client_user, kind="contract", text="Felix submitted work", email=False)

    page = html(clara.get(reverse("dashboard")))

    assert re.search(r'id="nav-unread-threads">\s*<span class="badge[^"]*">1<', page)
    assert re.search(r'id="nav-unread-notifications">\s*<span class="badge[^"]*">1<', page)
    assert 'href="/notifications/"' in page and 'href="/messages/"' in page


def test_the_badges_endpoint_returns_both_counts_out_of_band(clara, thread, freelancer):
    post_messages(thread, freelancer, 1)

    page = html(clara.get(reverse("messaging:badges"), **HTMX))

    assert 'id="nav-unread-threads" data-hx-swap-oob="true"' in page
    assert 'id="nav-unread-notifications" data-hx-swap-oob="true"' in page
    assert ">1<" in page


def test_the_badges_endpoint_is_empty_for_visitors(client):
    assert client.get(reverse("messaging:badges")).status_code == 204


def test_the_header_counts_cost_one_query(clara, client_user, freelancer, django_assert_num_queries):
    for _ in range(3):
        post_messages(make_thread(people=[client_user, freelancer]), freelancer, 2)

    # session + user + the two counts in one query
    with django_assert_num_queries(3):
        assert clara.get(reverse("messaging:badges")).status_code == 200


def test_the_thread_page_from_the_cache_marks_read_only_what_it_shows(clara, thread, client_user, freelancer, settings):
    """The thread page is a user's cached page (marketplace.caching); served from the cache, it still marks the thread
    read up to the last message it shows, kept with the cached copy, not up to the thread's newest."""
    settings.PAGE_CACHE_VERIFY = False  # the point: a message the cached copy does not show
    # Served from the cache within one minute's copy: from the start of a minute, so the copy never expires midway.
    with time_machine.travel(timezone.now().replace(second=1, microsecond=0) + timedelta(minutes=1), tick=True):
        shown = services.message_post(thread=thread, sender=freelancer, body="Shown")
        url = reverse("messaging:thread", args=[thread.pk])
        assert "Shown" in html(clara.get(url))  # reading it drops her cached pages (the inbox changed)
        participant = ThreadParticipant.objects.get(thread=thread, user=client_user)
        assert participant.last_read_message_id == shown.pk
        clara.get(url)  # rendered again, and kept

        # A message written past the services (which would drop the cached pages): the cached copy is served.
        unseen = Message.objects.create(thread=thread, sender=freelancer, body="Not on the cached page")
        type(thread).objects.filter(pk=thread.pk).update(last_message_id=unseen.pk, last_message_at=unseen.created_at)
        page = html(clara.get(url))

        assert "Not on the cached page" not in page and "Shown" in page  # the cached copy
        participant.refresh_from_db()
        assert participant.last_read_message_id == shown.pk  # not unseen.pk

        # Through the services, the page is rendered anew, shows it, and reads it.
        services.message_post(thread=thread, sender=freelancer, body="Through the services")
        page = html(clara.get(url))
        assert "Not on the cached page" in page and "Through the services" in page
        participant.refresh_from_db()
        assert participant.last_read_message_id == thread.messages.order_by("pk").last().pk
