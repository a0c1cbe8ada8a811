"""The thread's messages are rendered once per reader and then served from the cache (messaging_tags.messages_html):
what a reader sees must be exactly what a fresh render shows, whoever reads, in whatever language and timezone."""

import re

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from messaging import services
from messaging.tests.factories import pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(client_user, freelancer):
    thread = services.thread_create(participants=[client_user, freelancer], subject="Shop", link_url="/contracts/7/")
    services.message_post(thread=thread, sender=freelancer, body="Hi Clara,\nsee www.example.com", files=[pdf()])
    services.message_post(thread=thread, sender=client_user, body="Thanks <b>Felix</b>")
    services.event_post(thread=thread, text="Clara funded “Designs” ($300.00)", actor=client_user, link_url="/c/7/")
    return thread


def reader(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def messages_of(response) -> str:
    """The thread's list of messages, without what changes from one visit to the next (the "New" divider)."""
    page = response.content.decode()
    listed = re.search(r"<ol class=\"thread-messages.*?</ol>", page, re.S).group(0)
    return re.sub(r'<li class="thread-divider">.*?</li>', "", listed)


def senders(response) -> list[str]:
    return re.findall(r'<strong class="message-sender">([^<]+)<', messages_of(response))


def rendered_templates(response) -> list[str]:
    return [t.name for t in response.templates]


def test_a_second_visit_serves_the_same_messages_from_the_cache(thread, client_user):
    url = reverse("messaging:thread", args=[thread.pk])
    browser = reader(client_user)
    first = browser.get(url)
    second = browser.get(url)

    assert rendered_templates(first).count("messaging/_message.html") == 3
    assert "messaging/_message.html" not in rendered_templates(second)
    assert messages_of(second) == messages_of(first)
    assert "Thanks &lt;b&gt;Felix&lt;/b&gt;" in messages_of(second)  # still inert
    caches["fragments"].clear()
    assert messages_of(browser.get(url)) == messages_of(first)  # a fresh render: the same


def test_each_reader_sees_their_own_messages_as_theirs(thread, client_user, freelancer):
    url = reverse("messaging:thread", args=[thread.pk])
    for user in (client_user, freelancer, client_user):  # the client's second visit comes from the cache
        listed = messages_of(reader(user).get(url))
        mine = re.findall(r'class="message message-mine".*?<strong class="message-sender">([^<]+)<', listed, re.S)
        assert mine == [user.name]


def test_a_renamed_sender_shows_under_the_new_name(thread, client_user, freelancer):
    url = reverse("messaging:thread", args=[thread.pk])
    browser = reader(client_user)
    assert senders(browser.get(url)) == [freelancer.name, client_user.name]
    freelancer.name = "Felicia Renamed"
    freelancer.save()

    assert senders(browser.get(url)) == ["Felicia Renamed", client_user.name]


def test_each_language_and_timezone_has_its_own_rendering(thread, client_user):
    url = reverse("messaging:thread", args=[thread.pk])
    browser = reader(client_user)
    english = messages_of(browser.get(url))
    assert "Update:" in english
    client_user.language = "de"
    client_user.save()
    german = messages_of(browser.get(url))
    assert "Aktualisierung:" in german and "Update:" not in german
    client_user.language, client_user.timezone = "en", "Asia/Tokyo"
    client_user.save()
    tokyo = messages_of(browser.get(url))

    assert "Update:" in tokyo and tokyo != english  # the same words, other times


def test_the_new_divider_sits_before_the_first_unread_message_on_every_visit(thread, client_user, freelancer):
    url = reverse("messaging:thread", args=[thread.pk])
    browser = reader(client_user)
    browser.get(url)  # everything is read now, and rendered into the cache
    services.message_post(thread=thread, sender=freelancer, body="One more thing")
    page = browser.get(url).content.decode()

    assert page.index('class="thread-divider"') < page.index("One more thing")
    assert page.count('class="thread-divider"') == 1
    assert 'class="thread-divider"' not in browser.get(url).content.decode()  # read on the visit before


def test_rendered_messages_live_apart_from_the_default_cache(thread, client_user):
    """Their volume must not evict the counts and rate limits kept in the default cache."""
    url = reverse("messaging:thread", args=[thread.pk])
    browser = reader(client_user)
    browser.get(url)
    caches["default"].clear()

    assert "messaging/_message.html" not in rendered_templates(browser.get(url))
