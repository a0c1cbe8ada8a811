"""Leaving feedback: once per party, double-blind until both wrote or the window closed, then immutable."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from contracts.tests.factories import make_contract
from feedback import services
from feedback.models import Feedback, FeedbackWindow, FreelancerRating, Role
from feedback.tests.factories import all_stars, ended_contract, leave
from marketplace.appendonly import ImmutableRecordError
from marketplace.tests.factories import UserFactory
from messaging.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract():
    return ended_contract()


def test_the_first_feedback_stays_hidden_and_tells_the_other_party(contract):
    # when the client writes first
    feedback = leave(contract, Role.CLIENT, stars=4, comment="Great work", note="Slow at first")

    # then it is stored with its scores and mean, about the freelancer, but the window is not published
    assert (feedback.subject, feedback.rating, feedback.scores) == (
        contract.freelancer,
        Decimal("4.00"),
        all_stars(Role.CLIENT, 4),
    )
    window = FeedbackWindow.objects.get(contract=contract)
    assert window.published_at is None
    assert window.opens_at == contract.ended_at
    assert window.closes_at == contract.ended_at + timedelta(days=14)
    assert not FreelancerRating.objects.exists()  # nothing public yet
    told = Notification.objects.get(user=contract.freelancer, url=f"/feedback/contracts/{contract.pk}/")
    assert "left feedback" in told.text and "Great work" not in told.text  # told that, never what


def test_the_second_feedback_publishes_both_at_once_and_rates_the_freelancer(contract):
    leave(contract, Role.CLIENT, stars=4)

    leave(contract, Role.FREELANCER, stars=5)

    window = FeedbackWindow.objects.get(contract=contract)
    assert window.published_at is not None
    rating = FreelancerRating.objects.get(user=contract.freelancer)
    assert (rating.average, rating.count) == (Decimal("4.00"), 1)
    assert not FreelancerRating.objects.filter(user=contract.client).exists()  # clients are not in the directory
    assert Notification.objects.filter(text__contains="is now published").count() == 2


def test_the_rating_is_the_mean_of_the_criteria_rounded_to_cents(contract):
    scores = dict(zip(all_stars(Role.CLIENT), [5, 4, 4, 4], strict=True))

    feedback = services.feedback_leave(
        contract_id=contract.pk, actor=contract.client, scores=scores, comment="Good", private_note=""
    )

    assert feedback.rating == Decimal("4.25")


def test_a_party_writes_once(contract):
    leave(contract, Role.CLIENT)

    with pytest.raises(TransitionNotAllowed, match="already left feedback"):
        leave(contract, Role.CLIENT)
    assert Feedback.objects.count() == 1


def test_outsiders_and_staff_cannot_leave_feedback(contract):
    for outsider in (UserFactory(), UserFactory(is_staff=True)):
        with pytest.raises(PermissionDenied):
            services.feedback_leave(
                contract_id=contract.pk, actor=outsider, scores=all_stars(Role.CLIENT), comment="x", private_note=""
            )
    assert not Feedback.objects.exists()


def test_no_feedback_while_the_contract_is_active():
    active = make_contract(count=1)

    with pytest.raises(ValidationError, match="when the contract ends"):
        leave(active, Role.CLIENT)
    assert not FeedbackWindow.objects.exists()


@pytest.mark.parametrize(
    "scores",
    [
        {"quality": 5, "communication": 5, "deadlines": 5},  # a criterion missing
        {"quality": 6, "communication": 5, "deadlines": 5, "expertise": 5},  # out of range
        {"quality": 0, "communication": 5, "deadlines": 5, "expertise": 5},
        {"quality": "5", "communication": 5, "deadlines": 5, "expertise": 5},  # not a number
        {"quality": True, "communication": 5, "deadlines": 5, "expertise": 5},
        {"clarity": 5, "communication": 5, "responsiveness": 5, "cooperation": 5},  # the other role's criteria
    ],
)
def test_every_criterion_of_the_role_is_rated_one_to_five(contract, scores):
    with pytest.raises(ValidationError, match="1 to 5 stars"):
        services.feedback_leave(contract_id=contract.pk, actor=contract.client, scores=scores, comment="x")
    assert not Feedback.objects.exists()


def test_a_public_comment_is_required(contract):
    with pytest.raises(ValidationError, match="public comment"):
        services.feedback_leave(
            contract_id=contract.pk, actor=contract.client, scores=all_stars(Role.CLIENT), comment="   "
        )


def test_the_window_closes_after_14_days(contract):
    late = time_machine.travel(contract.ended_at + timedelta(days=14, seconds=1), tick=False)
    with late, pytest.raises(TransitionNotAllowed, match="feedback period ended"):
        leave(contract, Role.CLIENT)


def test_the_last_second_of_the_window_still_counts(contract):
    with time_machine.travel(contract.ended_at + timedelta(days=14, seconds=-1), tick=False):
        assert leave(contract, Role.CLIENT).pk


def test_the_window_length_is_a_setting(settings):
    settings.FEEDBACK_WINDOW = timedelta(days=3)
    contract = ended_contract()

    late = time_machine.travel(contract.ended_at + timedelta(days=3, seconds=1), tick=False)
    with late, pytest.raises(TransitionNotAllowed):
        leave(contract, Role.CLIENT)


def test_feedback_is_immutable_in_the_model(contract):
    feedback = leave(contract, Role.CLIENT)

    feedback.comment = "Edited"
    with pytest.raises(ImmutableRecordError):
        feedback.save()
    with pytest.raises(ImmutableRecordError):
        Feedback.objects.filter(pk=feedback.pk).update(comment="Edited")
    with pytest.raises(ImmutableRecordError):
        feedback.delete()


def test_feedback_is_immutable_in_the_database(contract):
    feedback = leave(contract, Role.CLIENT)

    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE feedback_feedback SET comment = 'Edited' WHERE id = %s", [feedback.pk])
    assert Feedback.objects.get(pk=feedback.pk).comment == "Feedback from the client."


def test_the_database_refuses_a_second_feedback_from_the_same_side(contract):
    feedback = leave(contract, Role.CLIENT)

    with pytest.raises(IntegrityError), transaction.atomic():
        Feedback.objects.create(
            window=feedback.window,
            role=Role.CLIENT,
            author=contract.client,
            subject=contract.freelancer,
            scores=feedback.scores,
            rating=feedback.rating,
            comment="Again",
        )


def test_the_freelancer_rating_is_the_aggregate_of_published_client_feedback():
    freelancer = ended_contract().freelancer
    contracts = [ended_contract(freelancer=freelancer) for _ in range(3)]
    for contract, stars in zip(contracts, (5, 4, 2), strict=True):
        leave(contract, Role.CLIENT, stars=stars)
    # two of three published (both parties wrote); the third waits for its window
    for contract in contracts[:2]:
        leave(contract, Role.FREELANCER, stars=1)

    rating = FreelancerRating.objects.get(user=freelancer)
    assert (rating.average, rating.count) == (Decimal("4.50"), 2)

    with time_machine.travel(timezone.now() + timedelta(days=15), tick=False):
        services.feedback_sweep()
    rating.refresh_from_db()
    assert (rating.average, rating.count) == (Decimal("3.67"), 3)
