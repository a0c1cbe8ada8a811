"""Contract updates by email: after commit, and at most one email per recipient per action."""

from collections import Counter

import pytest
from django.core import mail

from contracts import services
from contracts.tests.factories import fund_milestones, make_offer
from messaging.models import Notification

pytestmark = pytest.mark.django_db


def emails_per_recipient() -> Counter:
    return Counter(address for message in mail.outbox for address in message.to)


def test_funding_five_milestones_in_one_charge_is_one_email_to_the_freelancer(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # earlier actions, their emails sent
        offer = make_offer(count=5)
    with django_capture_on_commit_callbacks(execute=True):
        contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)
    mail.outbox = []

    with django_capture_on_commit_callbacks(execute=True):
        fund_milestones(contract, *contract.milestones.all())

    assert Notification.objects.filter(user=contract.freelancer, text__contains="funded").count() == 5
    assert emails_per_recipient()[contract.freelancer.email] == 1
    email = next(m for m in mail.outbox if m.to == [contract.freelancer.email])
    assert "(and 4 more updates)" in email.subject
    assert all(m.title in email.body for m in contract.milestones.all())


def test_accepting_an_offer_is_at_most_one_email_per_person(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        offer = make_offer(count=2)
    mail.outbox = []

    with django_capture_on_commit_callbacks(execute=True):
        services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)

    assert mail.outbox, "the client is told"
    assert max(emails_per_recipient().values()) == 1


def test_nothing_is_emailed_before_the_action_commits(django_capture_on_commit_callbacks):
    offer = make_offer(count=1)
    mail.outbox = []

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)

    assert mail.outbox == [] and callbacks
