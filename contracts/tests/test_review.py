"""Submit work, the review clock, reminders and automatic release (with time travel)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from contracts import services
from contracts.models import ContractEvent, Milestone, Submission, SubmissionFile
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.selectors import user_balances
from messaging.models import Notification

pytestmark = pytest.mark.django_db
S = Milestone.State
START = timezone.now().replace(microsecond=0)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def contract():
    return make_contract(count=2, amount="500.00")


@pytest.fixture
def funded(contract):
    milestone = contract.milestones.first()
    fund_milestones(contract, milestone)
    milestone.refresh_from_db()
    return milestone


def submit(milestone, message="Here is the work.", files=()):
    return services.milestone_submit(
        milestone_id=milestone.pk, actor=milestone.contract.freelancer, message=message, links=[], files=files
    )


def test_submission_is_numbered_frozen_and_starts_a_full_review_period(funded, settings):
    with time_machine.travel(START, tick=False):
        submission = submit(funded, files=[SimpleUploadedFile("design.png", PNG, content_type="image/png")])

    assert (submission.number, submission.status) == (1, Submission.Status.PENDING)
    assert submission.review_deadline == START + settings.REVIEW_PERIOD
    stored = SubmissionFile.objects.get()
    assert stored.name == "design.png" and len(stored.sha256) == 64 and stored.size == len(PNG)
    funded.refresh_from_db()
    assert funded.state == S.SUBMITTED
    assert Notification.objects.filter(user=funded.contract.client, kind="contract").exists()


def test_an_unfunded_milestone_cannot_be_submitted(contract):
    draft = contract.milestones.last()

    with pytest.raises(TransitionNotAllowed, match="not funded"):
        submit(draft)
    assert not Submission.objects.exists()


def test_only_the_freelancer_submits(funded):
    with pytest.raises(PermissionDenied):
        services.milestone_submit(milestone_id=funded.pk, actor=funded.contract.client, message="x", links=[])


def test_a_refused_file_stores_nothing(funded):
    fake = SimpleUploadedFile("report.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")

    with pytest.raises(ValidationError, match="does not look like"):
        submit(funded, files=[fake])
    funded.refresh_from_db()
    assert funded.state == S.FUNDED
    assert not SubmissionFile.objects.exists()


def test_not_released_one_minute_early_released_at_the_deadline(funded, django_capture_on_commit_callbacks):
    with time_machine.travel(START, tick=False):
        submit(funded)

    with time_machine.travel(START + timedelta(days=13, hours=23, minutes=59), tick=False):
        assert services.release_overdue() == (0, False)
    funded.refresh_from_db()
    assert funded.state == S.SUBMITTED

    with time_machine.travel(START + timedelta(days=14), tick=False):
        with django_capture_on_commit_callbacks() as after_commit:
            assert services.release_overdue() == (1, False)
        funded.refresh_from_db()
        assert funded.state == S.RELEASED
        assert funded.submissions.get().status == Submission.Status.AUTO_APPROVED
        assert user_balances(funded.contract.freelancer)["available"] == Decimal("450.00")
        texts = Notification.objects.filter(text__contains="released automatically")
        assert not texts.exists()  # notifications leave after commit, off the sweep's path
        for callback in after_commit:
            callback()
    assert set(texts.values_list("user", flat=True)) == {funded.contract.client_id, funded.contract.freelancer_id}
    assert funded.contract.offer.thread.messages.filter(body__contains="released payment for").count() == 1


def test_the_sweep_notifies_once_even_if_the_notification_task_runs_twice(funded, django_capture_on_commit_callbacks):
    with time_machine.travel(START, tick=False):
        submit(funded)
    with time_machine.travel(START + timedelta(days=14), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            services.release_overdue()
        event = ContractEvent.objects.get(kind="release", milestone=funded)

        assert services.events_notify(event_ids=[event.pk]) == 0  # a redelivered task sends nothing again

    assert Notification.objects.filter(text__contains="released automatically").count() == 2


def test_running_the_sweep_twice_releases_once(funded, assert_ledger_consistent):
    with time_machine.travel(START, tick=False):
        submit(funded)
    with time_machine.travel(START + timedelta(days=15), tick=False):
        assert services.release_overdue()[0] == 1
        assert services.release_overdue()[0] == 0
    assert_ledger_consistent()


def test_request_changes_stops_the_clock_and_resubmission_restarts_the_full_period(funded, settings):
    with time_machine.travel(START, tick=False):
        submit(funded)
    with time_machine.travel(START + timedelta(days=10), tick=False):
        services.milestone_request_changes(milestone_id=funded.pk, actor=funded.contract.client, note="Bigger logo")
    with time_machine.travel(START + timedelta(days=20), tick=False):
        assert services.release_overdue()[0] == 0  # the clock was stopped
        second = submit(funded, message="Bigger logo now.")
    assert second.number == 2
    assert second.review_deadline == START + timedelta(days=20) + settings.REVIEW_PERIOD
    with time_machine.travel(START + timedelta(days=33), tick=False):
        assert services.release_overdue()[0] == 0
    with time_machine.travel(START + timedelta(days=34), tick=False):
        assert services.release_overdue()[0] == 1


def test_withdrawal_clears_the_deadline(funded):
    with time_machine.travel(START, tick=False):
        submit(funded)
    act(milestone_id=funded.pk, actor=funded.contract.freelancer, name="withdraw_submission")

    submission = funded.submissions.get()
    assert (submission.status, submission.review_deadline) == (Submission.Status.WITHDRAWN, None)
    funded.refresh_from_db()
    assert funded.state == S.FUNDED
    with time_machine.travel(START + timedelta(days=30), tick=False):
        assert services.release_overdue()[0] == 0


def test_a_disputed_milestone_is_never_auto_released(funded):
    with time_machine.travel(START, tick=False):
        submit(funded)
        act(milestone_id=funded.pk, actor=funded.contract.client, name="dispute", note="Not what we agreed")
    with time_machine.travel(START + timedelta(days=30), tick=False):
        assert services.release_overdue()[0] == 0
    funded.refresh_from_db()
    assert funded.state == S.DISPUTED


def test_after_a_three_day_outage_everything_overdue_is_released_and_nothing_else(contract):
    milestones = list(contract.milestones.all())
    fund_milestones(contract, *milestones)
    early, late = milestones
    with time_machine.travel(START, tick=False):
        submit(early)
    with time_machine.travel(START + timedelta(days=4), tick=False):
        submit(late)  # due on day 18

    # The workers were down from day 13 to day 16: the first sweep after the outage catches up.
    with time_machine.travel(START + timedelta(days=16), tick=False):
        assert services.release_overdue(batch_size=1) == (1, True)  # a full batch: the task re-queues
        assert services.release_overdue(batch_size=1) == (0, False)
    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.state, late.state) == (S.RELEASED, S.SUBMITTED)


def test_the_batch_size_comes_from_the_settings(contract, settings):
    settings.RELEASE_SWEEP_BATCH = 1
    milestones = list(contract.milestones.all())
    fund_milestones(contract, *milestones)
    with time_machine.travel(START, tick=False):
        for milestone in milestones:
            submit(milestone)
    with time_machine.travel(START + timedelta(days=15), tick=False):
        assert services.release_overdue() == (1, True)
        assert services.release_overdue() == (1, True)  # still a full batch of one
        assert services.release_overdue() == (0, False)


def test_reminders_7_3_and_1_days_before_each_sent_once_and_restarted_by_resubmission(funded):
    client = funded.contract.client

    def reminders():
        return Notification.objects.filter(user=client, kind="reminder").count()

    with time_machine.travel(START, tick=False):
        submit(funded)
    for day, expected in [(6, 0), (7, 1), (7.5, 1), (11, 2), (13, 3), (13.5, 3)]:
        with time_machine.travel(START + timedelta(days=day), tick=False):
            services.send_review_reminders()
        assert reminders() == expected, day

    with time_machine.travel(START + timedelta(days=13, hours=12), tick=False):
        services.milestone_request_changes(milestone_id=funded.pk, actor=client, note="One more thing")
        submit(funded, message="Done")
    with time_machine.travel(START + timedelta(days=20, hours=12), tick=False):
        services.send_review_reminders()
    assert reminders() == 4  # the new submission's own 7-day reminder


def test_after_downtime_only_the_nearest_reminder_is_sent(funded):
    with time_machine.travel(START, tick=False):
        submit(funded)
    with time_machine.travel(START + timedelta(days=12), tick=False):  # the 7- and 3-day marks both passed
        assert services.send_review_reminders() == 1
        assert services.send_review_reminders() == 0
    notes = list(Notification.objects.filter(kind="reminder").values_list("text", flat=True))
    assert len(notes) == 1 and "approved and paid automatically" in notes[0]


def test_request_changes_is_capped_by_revision_rounds_with_a_clear_message(funded):
    client = funded.contract.client  # the contract allows 2 rounds
    for _ in range(2):
        submit(funded)
        services.milestone_request_changes(milestone_id=funded.pk, actor=client, note="Again")
    submit(funded)

    with pytest.raises(TransitionNotAllowed, match="revision round"):
        services.milestone_request_changes(milestone_id=funded.pk, actor=client, note="Once more")
    assert services.milestone_approve(milestone_id=funded.pk, actor=client).state == S.RELEASED


def test_the_clients_dashboard_shows_work_to_review_with_its_deadline(client, funded):
    with time_machine.travel(START, tick=False):
        submit(funded)
    client.force_login(funded.contract.client)

    with time_machine.travel(START + timedelta(days=10, hours=1), tick=False):
        body = client.get("/dashboard/").content.decode()

    assert "Review" in body and "approved automatically in 3 days 23 hours" in body


def test_reminders_give_the_release_time_in_the_clients_own_timezone(funded):
    client = funded.contract.client
    client.timezone = "Asia/Tokyo"
    client.save()
    with time_machine.travel(START.replace(hour=10, minute=0), tick=False):
        submit(funded)
    with time_machine.travel(START.replace(hour=10, minute=0) + timedelta(days=13), tick=False):
        services.send_review_reminders()

    text = Notification.objects.get(kind="reminder").text
    assert "19:00 JST" in text  # 10:00 UTC + 9 hours


def test_a_submission_that_fails_after_saving_its_files_leaves_no_file_behind(funded, settings, tmp_path):
    from unittest import mock

    settings.MEDIA_ROOT = tmp_path
    files = [SimpleUploadedFile("a.png", PNG, content_type="image/png")]

    failing = mock.patch("contracts.services.record.notify_parties", side_effect=RuntimeError("mail server down"))
    with failing, pytest.raises(RuntimeError):
        submit(funded, files=files)

    assert not Submission.objects.exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def overdue_milestones(count: int) -> list[Milestone]:
    contract = make_contract(count=count, amount="50.00")
    milestones = list(contract.milestones.order_by("position"))
    fund_milestones(contract, *milestones)
    with time_machine.travel(START, tick=False):
        for milestone in milestones:
            services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
    return milestones


def test_a_batch_costs_a_bounded_number_of_queries_per_release(django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    overdue_milestones(4)
    overdue_milestones(12)

    def sweep(batch_size):
        with time_machine.travel(START + timedelta(days=15), tick=False), CaptureQueriesContext(connection) as q:
            released, _ = services.release_overdue(batch_size=batch_size)
        return released, len(q)

    four = sweep(4)
    twelve = sweep(12)

    assert four[0] == 4 and twelve[0] == 12
    per_release = (twelve[1] - four[1]) / 8
    # Was 45. What remains per milestone is its own writes (two transitions, the submission) and the
    # escrow release (lock the hold, check, balance, one entry: about 13); the rest is shared by the batch.
    assert per_release <= 24


def test_one_milestone_that_cannot_be_released_does_not_stop_the_batch():
    contract = make_contract(count=3, amount="50.00")
    first, second, third = contract.milestones.order_by("position")
    fund_milestones(contract, first, third)
    with time_machine.travel(START, tick=False):
        for milestone in (first, third):
            services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
        # A bug's leftover: submitted, but never funded, so there is no money to release.
        Milestone.objects.filter(pk=second.pk).update(state=S.SUBMITTED)
        Submission.objects.create(
            milestone=second, number=1, submitted_by=contract.freelancer, message="x", review_deadline=timezone.now()
        )

    with time_machine.travel(START + timedelta(days=15), tick=False):
        released, more = services.release_overdue()

    assert (released, more) == (2, False)
    states = dict(Milestone.objects.values_list("pk", "state"))
    assert states[first.pk] == states[third.pk] == S.RELEASED and states[second.pk] == S.SUBMITTED
    assert not ContractEvent.objects.filter(milestone=second, kind__in=["approve", "release"]).exists()
    assert not contract.offer.thread.messages.filter(body__contains=f"“{second.title}”").exists()
    assert ContractEvent.objects.filter(kind="release").count() == 2


def test_the_scheduled_task_spreads_a_backlog_over_chains_until_nothing_is_left(settings, assert_ledger_consistent):
    from contracts import tasks

    settings.RELEASE_SWEEP_CHAINS = 2
    overdue_milestones(7)

    with time_machine.travel(START + timedelta(days=15), tick=False):
        tasks.release_overdue_milestones.delay(2)  # eager in tests: the chains run in turn, here

    assert Milestone.objects.filter(state=S.RELEASED).count() == 7
    assert ContractEvent.objects.filter(kind="release").count() == 7
    assert_ledger_consistent()
