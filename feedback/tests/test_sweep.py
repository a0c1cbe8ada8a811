"""The feedback sweep with time travel: windows open, day-1 and day-10 reminders once each, publication at
the close; every run after the first changes nothing."""

from datetime import timedelta

import pytest
import time_machine

from feedback import services
from feedback.models import FeedbackWindow, FreelancerRating, Role
from feedback.tasks import feedback_sweep
from feedback.tests.factories import ended_contract, leave
from marketplace.schedules import PERIODIC_JOBS
from messaging.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract():
    return ended_contract()


def reminders(user):
    return list(Notification.objects.filter(user=user, kind="reminder", text__startswith="Leave feedback"))


def sweep_at(moment, **kwargs):
    with time_machine.travel(moment, tick=False):
        return services.feedback_sweep(**kwargs)[0]


def test_the_sweep_opens_the_window_of_an_ended_contract_from_its_end(contract):
    counts = sweep_at(contract.ended_at + timedelta(minutes=5))

    assert counts == {"opened": 1, "reminded": 0, "published": 0}
    window = FeedbackWindow.objects.get(contract=contract)
    assert (window.opens_at, window.closes_at) == (contract.ended_at, contract.ended_at + timedelta(days=14))
    assert sweep_at(contract.ended_at + timedelta(minutes=10)) == {"opened": 0, "reminded": 0, "published": 0}


def test_reminders_on_day_1_and_day_10_once_each_to_whoever_has_not_written(contract):
    start = contract.ended_at
    sweep_at(start + timedelta(hours=23))
    assert reminders(contract.client) == [] and reminders(contract.freelancer) == []

    assert sweep_at(start + timedelta(days=1))["reminded"] == 1
    assert sweep_at(start + timedelta(days=1, hours=1))["reminded"] == 0  # once
    assert len(reminders(contract.client)) == len(reminders(contract.freelancer)) == 1

    with time_machine.travel(start + timedelta(days=2), tick=False):
        leave(contract, Role.CLIENT)
    sweep_at(start + timedelta(days=9, hours=23))
    assert sweep_at(start + timedelta(days=10))["reminded"] == 1
    assert sweep_at(start + timedelta(days=11))["reminded"] == 0
    assert len(reminders(contract.client)) == 1  # the client has written: not reminded again
    assert len(reminders(contract.freelancer)) == 2
    assert "hidden from the client" in reminders(contract.freelancer)[0].text


def test_after_downtime_only_the_latest_reminder_goes_out(contract):
    assert sweep_at(contract.ended_at + timedelta(days=12))["reminded"] == 1

    assert len(reminders(contract.client)) == 1
    window = FeedbackWindow.objects.get(contract=contract)
    assert window.reminded_day1_at and window.reminded_day10_at


def test_the_window_publishes_what_was_written_when_it_closes(contract):
    with time_machine.travel(contract.ended_at + timedelta(days=3), tick=False):
        leave(contract, Role.CLIENT, stars=3)

    assert sweep_at(contract.ended_at + timedelta(days=14, seconds=-1))["published"] == 0
    assert not FreelancerRating.objects.exists()

    assert sweep_at(contract.ended_at + timedelta(days=14))["published"] == 1
    assert FeedbackWindow.objects.get(contract=contract).published_at == contract.ended_at + timedelta(days=14)
    assert FreelancerRating.objects.get(user=contract.freelancer).count == 1
    assert sweep_at(contract.ended_at + timedelta(days=15))["published"] == 0  # once
    assert Notification.objects.filter(text__contains="is now published").count() == 2


def test_a_window_nobody_wrote_in_closes_silently(contract):
    sweep_at(contract.ended_at + timedelta(days=20))

    assert FeedbackWindow.objects.get(contract=contract).published_at is not None
    assert not Notification.objects.filter(text__contains="is now published").exists()
    assert not reminders(contract.client)  # the window had already closed when the sweep first ran


def test_the_sweep_works_in_bounded_batches():
    contracts = [ended_contract() for _ in range(3)]
    later = max(c.ended_at for c in contracts) + timedelta(minutes=1)

    with time_machine.travel(later, tick=False):
        counts, more = services.feedback_sweep(batch_size=2)
        assert (counts["opened"], more) == (2, True)
        counts, more = services.feedback_sweep(batch_size=2)
        assert (counts["opened"], more) == (1, False)


def test_the_task_is_on_the_beat_schedule_and_runs_the_sweep(contract):
    assert "feedback.tasks.feedback_sweep" in [job.task for job in PERIODIC_JOBS]

    with time_machine.travel(contract.ended_at + timedelta(days=1), tick=False):
        assert feedback_sweep.delay().get() == {"opened": 1, "reminded": 1, "published": 0}
