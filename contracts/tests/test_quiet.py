"""Quiet contracts and overdue milestones, with time travel: the platform asks, ends as SYSTEM, prompts once."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from contracts import policy, services
from contracts.events import EventKind
from contracts.models import Contract, ContractEvent, Milestone
from contracts.policy import SYSTEM
from contracts.tasks import quiet_contracts_sweep
from contracts.tests.factories import fund_milestones, make_contract
from feedback.models import FeedbackWindow
from feedback.services import feedback_sweep
from marketplace.schedules import PERIODIC_JOBS
from marketplace.tests.factories import UserFactory
from messaging.models import Notification
from messaging.services import message_post

pytestmark = pytest.mark.django_db
START = timezone.now().replace(microsecond=0)
DAY = timedelta(days=1)
S = Milestone.State


@pytest.fixture
def contract():
    with time_machine.travel(START, tick=False):
        return make_contract(count=2)


def sweep(at):
    with time_machine.travel(at, tick=False):
        return services.quiet_contracts_sweep()[0]


def events(contract, kind):
    return list(ContractEvent.objects.filter(contract=contract, kind=kind))


def test_a_quiet_contract_is_asked_about_once_after_30_days(contract):
    assert sweep(START + 30 * DAY - timedelta(seconds=1))["asked"] == 0

    assert sweep(START + 30 * DAY)["asked"] == 1
    assert sweep(START + 31 * DAY)["asked"] == 0  # once per quiet stretch

    (asked,) = events(contract, EventKind.CONTRACT_QUIET)
    assert asked.actor is None
    quiet_url = reverse("contracts:contract_quiet", args=[contract.pk])
    for party in (contract.client, contract.freelancer):
        notification = Notification.objects.get(user=party, url=quiet_url)
        assert "End it now, or keep it open?" in notification.text
        assert f"{START + 60 * DAY:%b %-d, %Y}" in notification.text  # when it would end by itself


def test_a_contract_with_money_in_escrow_is_never_quiet(contract):
    with time_machine.travel(START, tick=False):
        fund_milestones(contract, contract.milestones.first())

    assert sweep(START + 90 * DAY) == {"asked": 0, "ended": 0, "prompted": 1}  # only the overdue prompt
    assert Contract.objects.get(pk=contract.pk).is_active


def test_a_message_is_activity(contract):
    with time_machine.travel(START + 20 * DAY, tick=False):
        message_post(thread=contract.offer.thread, sender=contract.freelancer, body="Still there?")

    assert sweep(START + 30 * DAY)["asked"] == 0
    assert sweep(START + 50 * DAY)["asked"] == 1


def test_still_quiet_after_60_days_it_ends_itself_and_opens_feedback(contract):
    sweep(START + 30 * DAY)
    assert sweep(START + 60 * DAY - timedelta(seconds=1))["ended"] == 0

    assert sweep(START + 60 * DAY)["ended"] == 1

    contract.refresh_from_db()
    assert (contract.status, contract.ended_by, contract.ended_at) == (Contract.Status.ENDED, None, START + 60 * DAY)
    assert set(contract.milestones.values_list("state", flat=True)) == {S.CANCELLED}
    (ended,) = events(contract, EventKind.CONTRACT_ENDED)
    assert ended.actor is None
    told = Notification.objects.filter(user__in=[contract.client, contract.freelancer], text__contains="ended the")
    assert told.count() == 2 and "Nothing had happened on it for 60 days" in told.first().text
    assert sweep(START + 61 * DAY) == {"asked": 0, "ended": 0, "prompted": 0}

    with time_machine.travel(START + 60 * DAY + timedelta(minutes=5), tick=False):
        feedback_sweep()
    window = FeedbackWindow.objects.get(contract=contract)
    assert (window.opens_at, window.closes_at) == (START + 60 * DAY, START + 74 * DAY)


def test_keep_open_records_activity_and_the_clock_restarts(contract):
    sweep(START + 30 * DAY)
    with time_machine.travel(START + 40 * DAY, tick=False):
        services.contract_keep_open(contract_id=contract.pk, actor=contract.freelancer)

    assert Notification.objects.filter(user=contract.client, text__contains="keep the contract open").exists()
    assert sweep(START + 60 * DAY) == {"asked": 0, "ended": 0, "prompted": 0}
    assert sweep(START + 70 * DAY)["asked"] == 1  # 30 days after keeping it open
    assert sweep(START + 99 * DAY)["ended"] == 0
    assert sweep(START + 100 * DAY)["ended"] == 1


def test_keep_open_answers_only_a_pending_question(contract):
    with pytest.raises(ValidationError, match="Nobody asked"):
        services.contract_keep_open(contract_id=contract.pk, actor=contract.client)

    sweep(START + 30 * DAY)
    with pytest.raises(PermissionDenied):
        services.contract_keep_open(contract_id=contract.pk, actor=UserFactory())
    with time_machine.travel(START + 31 * DAY, tick=False):
        services.contract_keep_open(contract_id=contract.pk, actor=contract.client)
        with pytest.raises(ValidationError, match="Nobody asked"):  # answered: nothing pending any more
            services.contract_keep_open(contract_id=contract.pk, actor=contract.freelancer)


def test_asked_late_it_still_gives_the_full_notice(contract):
    # the sweep did not run for 90 days (a new deployment, downtime): the question still gets 30 days
    sweep(START + 90 * DAY)
    assert sweep(START + 119 * DAY)["ended"] == 0
    assert sweep(START + 120 * DAY)["ended"] == 1


def test_the_platform_ends_only_a_quiet_contract_it_asked_about(contract):
    with time_machine.travel(START + 90 * DAY, tick=False), pytest.raises(PermissionDenied, match="stayed quiet"):
        services.contract_end(contract_id=contract.pk, actor=SYSTEM)  # never asked
    sweep(START + 30 * DAY)
    with time_machine.travel(START + 59 * DAY, tick=False), pytest.raises(PermissionDenied):
        services.contract_end(contract_id=contract.pk, actor=SYSTEM)  # not yet
    assert Contract.objects.get(pk=contract.pk).is_active


def test_the_platform_never_ends_a_contract_with_money_in_escrow(contract):
    sweep(START + 30 * DAY)
    with time_machine.travel(START + 60 * DAY, tick=False):
        fund_milestones(contract, contract.milestones.first())  # activity, and money in escrow
        with pytest.raises(ValidationError, match="funded"):
            facts = services.quiet.quiet_facts(contract)
            policy.contract_may_end(
                SYSTEM, contract, open_money=1, quiet={**facts, "last_activity": START, "asked_at": START + 30 * DAY}
            ).enforce()
    assert sweep(START + 200 * DAY)["ended"] == 0


def test_parties_still_end_a_contract_themselves(contract):
    contract = services.contract_end(contract_id=contract.pk, actor=contract.client)

    assert (contract.status, contract.ended_by) == (Contract.Status.ENDED, contract.client)


# --- overdue funded milestones ---


@pytest.fixture
def funded(contract):
    milestone = contract.milestones.order_by("position").first()  # due 7 days after START
    with time_machine.travel(START, tick=False):
        fund_milestones(contract, milestone)
    return Milestone.objects.select_related("contract").get(pk=milestone.pk)


def prompts(user):
    return list(Notification.objects.filter(user=user, kind="reminder", text__contains="no work has been submitted"))


def test_a_funded_milestone_14_days_overdue_prompts_both_parties_once(funded):
    due = funded.due_date
    assert sweep(START + 20 * DAY)["prompted"] == 0  # 13 days past the due date

    assert sweep(START + 21 * DAY)["prompted"] == 1
    assert sweep(START + 22 * DAY)["prompted"] == 0

    (to_freelancer,) = prompts(funded.contract.freelancer)
    (to_client,) = prompts(funded.contract.client)
    assert f"{due:%b %-d, %Y}" in to_freelancer.text
    assert "Submit the work, or refund the milestone" in to_freelancer.text
    assert "Message the freelancer, or open a dispute" in to_client.text
    assert to_freelancer.url == reverse("contracts:milestone_detail", args=[funded.contract_id, funded.pk])


def test_no_prompt_once_work_is_submitted(funded):
    with time_machine.travel(START + 20 * DAY, tick=False):
        services.milestone_submit(milestone_id=funded.pk, actor=funded.contract.freelancer, message="x", links=[])

    assert sweep(START + 40 * DAY)["prompted"] == 0


def test_a_milestone_funded_late_gets_14_days_from_funding(contract):
    milestone = contract.milestones.order_by("position").first()
    with time_machine.travel(START + 30 * DAY, tick=False):
        fund_milestones(contract, milestone)

    assert sweep(START + 43 * DAY)["prompted"] == 0
    assert sweep(START + 44 * DAY)["prompted"] == 1


def test_the_sweep_is_on_the_beat_schedule_and_runs_as_a_task(contract):
    assert "contracts.tasks.quiet_contracts_sweep" in [job.task for job in PERIODIC_JOBS]

    with time_machine.travel(START + 30 * DAY, tick=False):
        assert quiet_contracts_sweep.delay().get() == {"asked": 1, "ended": 0, "prompted": 0}


# --- the page behind the notification ---


def test_the_quiet_page_offers_end_and_keep_open_to_the_parties_only(client, contract):
    quiet_url = reverse("contracts:contract_quiet", args=[contract.pk])
    client.force_login(UserFactory())
    assert client.get(quiet_url).status_code == 404
    assert client.post(reverse("contracts:contract_keep_open", args=[contract.pk])).status_code == 404

    sweep(START + 30 * DAY)
    with time_machine.travel(START + 31 * DAY, tick=False):
        client.force_login(contract.client)  # (a login from 31 days ago would have expired)
        body = client.get(quiet_url).content.decode()
        assert "End the contract" in body and "Keep it open" in body

        response = client.post(reverse("contracts:contract_keep_open", args=[contract.pk]))
        assert response.status_code == 302
        assert "Nothing to answer" in client.get(quiet_url).content.decode()
        assert client.post(reverse("contracts:contract_keep_open", args=[contract.pk])).status_code == 400
        assert client.get(reverse("contracts:contract_keep_open", args=[contract.pk])).status_code == 405


def test_one_click_end_from_the_quiet_page(client, contract):
    sweep(START + 30 * DAY)

    with time_machine.travel(START + 31 * DAY, tick=False):
        client.force_login(contract.freelancer)
        response = client.post(reverse("contracts:contract_end", args=[contract.pk]))

    assert response.status_code == 302
    contract.refresh_from_db()
    assert (contract.status, contract.ended_by) == (Contract.Status.ENDED, contract.freelancer)
