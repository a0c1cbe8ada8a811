"""Races on PostgreSQL with real threads, each on its own database connection."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from contracts import services
from contracts.models import Milestone
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.models import Charge, Entry
from escrow.selectors import user_balances
from escrow.tests.factories import new_key

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls):
    """Run the calls at the same moment in separate threads; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # the loser's error is the result under test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def fund_call(contract, milestone, key):
    return lambda: fund_milestones(contract, milestone, key=key)


@pytest.mark.parametrize("same_key", [True, False], ids=["double-click", "two-tabs"])
def test_two_funding_requests_at_once_charge_once(gateway, assert_ledger_consistent, same_key):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    gateway.reset(delay=0.3)  # keep the first charge in flight while the second arrives
    keys = [new_key()] * 2 if same_key else [new_key(), new_key()]

    results = race(*(fund_call(contract, milestone, key) for key in keys))

    assert len(gateway.charges) == 1
    assert Charge.objects.filter(status=Charge.Status.SUCCEEDED).count() == 1
    assert Entry.objects.filter(reference=f"fund:{milestone.hold_reference}").count() == 1
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.FUNDED
    errors = [r for r in results if isinstance(r, Exception)]
    if same_key:
        assert errors == []  # the replay shows the same successful result
    else:
        assert len(errors) == 1 and "already" in errors[0].user_message.lower()
    assert_ledger_consistent()


def test_approve_racing_refund_exactly_one_wins(assert_ledger_consistent):
    contract = make_contract(count=1, amount="300.00")
    milestone = contract.milestones.get()
    fund_call(contract, milestone, new_key())()
    # Submitted work: the client approves it at the moment the freelancer decides to refund it.
    act(milestone_id=milestone.pk, actor=contract.freelancer, name="submit")

    results = race(
        lambda: services.milestone_approve(milestone_id=milestone.pk, actor=contract.client),
        lambda: services.milestone_refund(milestone_id=milestone.pk, actor=contract.freelancer),
    )

    milestone.refresh_from_db()
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert "can't" in str(errors[0]) or "cannot" in str(errors[0])
    if milestone.state == Milestone.State.RELEASED:
        assert user_balances(contract.freelancer)["available"] == Decimal("270.00")
        assert user_balances(contract.client)["credit"] == 0
    else:
        assert milestone.state == Milestone.State.REFUNDED
        assert user_balances(contract.freelancer)["available"] == 0
    assert_ledger_consistent()


def test_the_clients_approval_racing_the_sweep_releases_once(assert_ledger_consistent):
    from datetime import timedelta

    from django.utils import timezone

    from contracts.models import Submission

    contract = make_contract(count=1, amount="300.00")
    milestone = contract.milestones.get()
    fund_call(contract, milestone, new_key())()
    services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
    Submission.objects.filter(milestone=milestone).update(review_deadline=timezone.now() - timedelta(seconds=1))

    results = race(
        lambda: services.milestone_approve(milestone_id=milestone.pk, actor=contract.client),
        lambda: services.release_overdue(),
    )

    assert Entry.objects.filter(reference=f"release:{milestone.hold_reference}").count() == 1
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.RELEASED
    approve_result, (released, _more) = results[0], results[1]
    assert released == (0 if isinstance(approve_result, Milestone) else 1)
    assert user_balances(contract.freelancer)["available"] == Decimal("270.00")
    assert_ledger_consistent()


def test_200_approvals_racing_4_sweeps_never_deadlock_and_release_each_once(assert_ledger_consistent):
    """The deadlock found by the security review: approvals and the auto-release sweep took the same locks
    in different orders (the sweep's unqualified FOR UPDATE also locked the contract row). With one lock
    order and `of=("self",)` everywhere, no request fails and every milestone is released exactly once."""
    from datetime import timedelta

    from django.utils import timezone
    from django_fsm import TransitionNotAllowed

    from contracts.models import Submission

    milestones = []
    for _ in range(4):  # 4 contracts × 50 milestones (the most a contract may have)
        contract = make_contract(count=50, amount="20.00")
        batch = list(contract.milestones.order_by("position"))
        fund_milestones(contract, *batch)
        for milestone in batch:
            services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
        milestones += [(m.pk, contract.client) for m in batch]
    Submission.objects.update(review_deadline=timezone.now() - timedelta(minutes=1))

    def approvals(share):
        def run():
            refused, failures = 0, []
            for pk, client in share:
                try:
                    services.milestone_approve(milestone_id=pk, actor=client)
                except TransitionNotAllowed:
                    refused += 1  # the sweep got there first: a clean refusal, not an error
                except Exception as error:  # a deadlock or anything else is a failure
                    failures.append(error)
            return refused, failures

        return run

    def sweep():
        released = 0
        while True:
            count, more = services.release_overdue(batch_size=25)
            released += count
            if not more and count == 0:
                return released

    shares = [milestones[i::4] for i in range(4)]  # each approval thread walks a quarter, interleaved
    results = race(*(approvals(share) for share in shares), *(sweep for _ in range(4)))

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    failures = [failure for result in results[:4] for failure in result[1]]
    assert failures == []
    approved_by_client = sum(len(share) - result[0] for share, result in zip(shares, results[:4], strict=True))
    released_by_sweeps = sum(results[4:])
    assert approved_by_client + released_by_sweeps == 200
    assert Milestone.objects.filter(state=Milestone.State.RELEASED).count() == 200
    assert Entry.objects.filter(kind=Entry.Kind.RELEASE).count() == 200
    assert_ledger_consistent()


def test_a_staff_decision_racing_a_party_settlement_on_the_same_dispute_one_wins(assert_ledger_consistent):
    from marketplace.tests.factories import UserFactory

    contract = make_contract(count=1, amount="100.00")
    milestone = contract.milestones.get()
    fund_call(contract, milestone, new_key())()
    dispute = services.milestone_dispute(milestone_id=milestone.pk, actor=contract.client, note="Not done")
    proposal = services.dispute_propose(
        dispute_id=dispute.pk, actor=contract.freelancer, to_freelancer=Decimal("70.00"), to_client=Decimal("30.00")
    )
    staff = UserFactory(is_staff=True)

    results = race(
        lambda: services.dispute_proposal_answer(proposal_id=proposal.pk, actor=contract.client, accept=True),
        lambda: services.dispute_decide(
            dispute_id=dispute.pk, actor=staff, to_freelancer=Decimal("0"), to_client=Decimal("100.00"), note="Refund"
        ),
    )

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert "dispute is" in str(errors[0]) or "already" in str(errors[0])
    assert Entry.objects.filter(kind=Entry.Kind.SETTLEMENT).count() == 1
    milestone.refresh_from_db()
    assert milestone.state in (Milestone.State.RELEASED, Milestone.State.REFUNDED)
    assert_ledger_consistent()
