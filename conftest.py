"""Fixtures shared by every app's tests."""

import pytest

from marketplace.tests.factories import FreelancerFactory, UserFactory
from marketplace.tests.second_factor import SecondFactorClient

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (cached pages, counts and allauth's rate limits never leak between
    tests)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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
