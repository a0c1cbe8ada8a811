"""Fixtures shared by every app's tests."""

import pytest

from marketplace.tests.factories import FreelancerFactory, UserFactory
from marketplace.tests.second_factor import SecondFactorClient

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with empty caches (cached pages, counts, allauth's rate limits and rendered messages never
    leak between tests)."""
    from django.core.cache import caches

    for each in caches.all():
        each.clear()
    yield
    for each in caches.all():
        each.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts and ends in the default language: a request through the test client activates its user's
    language in this thread (as a real request does in its own), which would leak into the next test."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def client():
    """pytest-django's client, where force_login of staff includes their second factor (see SecondFactorClient)."""
    return SecondFactorClient()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def client_user(db):
    return UserFactory(name="Clara Client", email="clara@example.com")


@pytest.fixture
def freelancer(db):
    return FreelancerFactory(name="Felix Freelancer", email="felix@example.com")


@pytest.fixture
def flaky_email(settings):
    """Deliver the outbox through a backend that refuses the addresses added to the returned set
    ("*" refuses every address, like an SMTP server that is down)."""
    from messaging.tests import backends

    settings.EMAIL_DELIVERY_BACKEND = "messaging.tests.backends.FlakyBackend"
    backends.REFUSED.clear()
    yield backends.REFUSED
    backends.REFUSED.clear()


@pytest.fixture
def deliver_emails(db):
    """Send every email waiting in the outbox now, as the worker does after the action commits (in a test's
    transaction nothing commits), and return Django's test outbox."""
    from django.core import mail

    from messaging.models import OutboundEmail
    from messaging.outbox import email_deliver

    def deliver():
        for pk in (
            OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED).order_by("pk").values_list("pk", flat=True)
        ):
            email_deliver(email_id=pk)
        return mail.outbox

    return deliver
