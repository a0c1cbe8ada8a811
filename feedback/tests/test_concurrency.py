"""A race on PostgreSQL with real threads: both parties write at the same moment, before any window exists."""

import pytest

from contracts.tests.test_concurrency import race
from feedback.models import Feedback, FeedbackWindow, FreelancerRating, Role
from feedback.tests.factories import ended_contract, leave
from messaging.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)


def test_both_parties_at_once_create_one_window_and_publish_once():
    contract = ended_contract()
    assert not FeedbackWindow.objects.exists()

    results = race(lambda: leave(contract, Role.CLIENT, stars=4), lambda: leave(contract, Role.FREELANCER))

    assert all(isinstance(r, Feedback) for r in results), results
    window = FeedbackWindow.objects.get(contract=contract)
    assert window.published_at is not None
    assert FreelancerRating.objects.get(user=contract.freelancer).count == 1
    assert Notification.objects.filter(text__contains="is now published").count() == 2  # published once
