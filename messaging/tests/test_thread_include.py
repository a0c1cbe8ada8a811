"""`messaging/_thread.html` as another app embeds it: `{% include "messaging/_thread.html" with thread=... %}`."""

import pytest
from django.db import connection
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from marketplace.tests.factories import UserFactory
from messaging import services
from messaging.tests.factories import make_thread, post_messages

pytestmark = pytest.mark.django_db

EMBED = Template('<main>{% include "messaging/_thread.html" with thread=thread %}</main>')


def render(thread, user, path="/contracts/7/"):
    request = RequestFactory().get(path)
    request.user = user
    return EMBED.render(RequestContext(request, {"thread": thread}))


@pytest.fixture
def thread(client_user, freelancer):
    return make_thread(people=[client_user, freelancer], subject="Online shop", link_url="/contracts/7/")


def test_a_participant_sees_the_messages_and_a_composer_that_returns_to_the_page(thread, client_user, freelancer):
    services.message_post(thread=thread, sender=freelancer, body="Hello from Felix")
    services.thread_set_notice(thread=thread, text="Use Submit work on the milestone.")

    page = render(thread, client_user)

    assert "Hello from Felix" in page
    assert f'data-hx-post="/messages/{thread.pk}/send/"' in page
    assert 'name="next" value="/contracts/7/"' in page
    assert f'data-hx-get="/messages/{thread.pk}/poll/"' in page
    assert "Use Submit work on the milestone." in page


def test_anyone_else_sees_nothing(thread, freelancer):
    services.message_post(thread=thread, sender=freelancer, body="Private")

    assert render(thread, UserFactory()).replace("\n", "") == "<main></main>"
    assert render(None, freelancer).replace("\n", "") == "<main></main>"


def test_the_include_costs_a_fixed_number_of_queries(client_user, freelancer, settings):
    settings.MESSAGE_RATE_LIMIT_PER_MINUTE = 1000

    def queries_for(count):
        thread = make_thread(people=[client_user, freelancer])
        post_messages(thread, freelancer, count)
        with CaptureQueriesContext(connection) as queries:
            render(thread, client_user)
        return len(queries)

    assert queries_for(3) == queries_for(70) == 3  # participants, messages, attachments
