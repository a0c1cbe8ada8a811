"""Races on PostgreSQL with real threads, each on its own database connection."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django_fsm import TransitionNotAllowed

from contracts import services
from contracts.models import Milestone
from contracts.tests.factories import act, fund_milestones, make_contract
from escrow.models import Entry, PaymentIntent
from escrow.sandbox.models import Checkout
from escrow.sandbox.testing import pay
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


@pytest.mark.parametrize("same_key", [True, False], ids=["double-click", "twenty-tabs"])
def test_twenty_funding_requests_at_once_make_one_payment(assert_ledger_consistent, same_key):
    contract = make_contract(count=1)
    milestone = contract.milestones.get()
    keys = [new_key()] * 20 if same_key else [new_key() for _ in range(20)]

    def start(key):
        return lambda: services.milestones_fund(
            contract_id=contract.pk, milestone_ids=[milestone.pk], actor=contract.client, idempotency_key=key
        )

    results = race(*(start(key) for key in keys))

    intents = {r.pk for r in results if isinstance(r, PaymentIntent)}
    refused = [r for r in results if not isinstance(r, PaymentIntent)]
    assert len(intents) == 1 and Checkout.objects.count() == 1  # one payment, one hosted page
    # Another tab arriving once the payment exists is told it is processing; the same key continues it.
    assert all(isinstance(r, TransitionNotAllowed) and "Payment processing" in str(r) for r in refused), refused
    assert not refused or not same_key
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.DRAFT

    pay(PaymentIntent.objects.get())

    assert Entry.objects.filter(kind=Entry.Kind.CHARGE).count() == 1
    assert Entry.objects.filter(reference=f"fund:{milestone.hold_reference}").count() == 1
    milestone.refresh_from_db()
    assert milestone.state == Milestone.State.FUNDED
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


def test_a_hanging_provider_blocks_no_approval_or_release(assert_ledger_consistent, monkeypatch, settings):
    """The provider takes 10 s to confirm one milestone's payment; meanwhile the same client approves (and so
    releases) another milestone of the same contract, and another client one of theirs, without waiting."""
    import time

    from escrow.payments import payment_refresh
    from escrow.providers.sandbox import SandboxProvider
    from escrow.sandbox import engine

    settings.SANDBOX_WEBHOOK_URL = "http://127.0.0.1:9/"  # no webhook: the payer's return confirms, slowly
    contract = make_contract(count=2, amount="300.00")
    paying, approved = contract.milestones.order_by("position")
    other = make_contract(count=1, amount="200.00").milestones.get()
    for milestone in (approved, other):
        fund_milestones(milestone.contract, milestone)
        act(milestone_id=milestone.pk, actor=milestone.contract.freelancer, name="submit")
    intent = services.milestones_fund(
        contract_id=contract.pk, milestone_ids=[paying.pk], actor=contract.client, idempotency_key=new_key()
    )
    engine.checkout_pay(intent.provider_id, number="4242424242424242", exp_month=12, exp_year=2099, cvc="123")

    real_retrieve, in_call = SandboxProvider.payment_retrieve, threading.Event()

    def hanging_retrieve(self, payment_id):
        in_call.set()
        time.sleep(10)
        return real_retrieve(self, payment_id)

    monkeypatch.setattr(SandboxProvider, "payment_retrieve", hanging_retrieve)
    timings = {}

    def confirm():
        started = time.monotonic()
        payment_refresh(intent_id=intent.pk)
        timings["provider call and confirmation"] = time.monotonic() - started

    def approve(milestone):
        def run():
            in_call.wait(timeout=30)
            started = time.monotonic()
            services.milestone_approve(milestone_id=milestone.pk, actor=milestone.contract.client)
            timings[f"approve #{milestone.pk}"] = time.monotonic() - started

        return run

    results = race(confirm, approve(approved), approve(other))

    print(f"measured: {timings}")
    assert not [r for r in results if isinstance(r, Exception)], results
    assert timings["provider call and confirmation"] >= 10
    assert all(seconds < 2 for name, seconds in timings.items() if name.startswith("approve")), timings
    states = dict(Milestone.objects.filter(pk__in=[paying.pk, approved.pk, other.pk]).values_list("pk", "state"))
    assert states == {paying.pk: "funded", approved.pk: "released", other.pk: "released"}
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


def test_a_batch_that_left_milestones_behind_a_busy_thread_says_more_remain():
    """Another worker's batch (here: another connection) holds one contract's thread. The sweep releases the
    milestone it can and leaves the other locked-but-skipped; it must still report that more may remain, or
    the chain ends and the skipped milestone waits a minute for beat (the tail of every parallel backlog)."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from contracts.models import Submission
    from messaging.models import Thread

    busy, free = make_contract(count=1, amount="40.00"), make_contract(count=1, amount="40.00")
    for contract in (busy, free):
        milestone = contract.milestones.get()
        fund_milestones(contract, milestone)
        services.milestone_submit(milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[])
    Submission.objects.update(review_deadline=timezone.now() - timedelta(minutes=1))
    holding, done = threading.Event(), threading.Event()

    def hold_thread():
        try:
            with transaction.atomic():
                list(Thread.objects.select_for_update().filter(pk=busy.offer.thread_id))
                holding.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_thread)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        assert services.release_overdue(batch_size=5) == (1, True)  # before: (1, False), the batch was not full
    finally:
        done.set()
        holder.join(timeout=30)
    assert services.release_overdue(batch_size=5) == (1, False)
    assert Milestone.objects.filter(state=Milestone.State.RELEASED).count() == 2
