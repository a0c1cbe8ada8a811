"""The release sweep in bulk writes exactly what releasing each milestone on its own wrote, in a constant
number of queries per batch."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts import services
from contracts.models import ContractEvent, Milestone, Submission
from contracts.services import milestones as sweep
from contracts.tests.factories import fund_milestones, make_contract
from escrow.models import Entry, Transfer
from escrow.services import hold_refund
from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging.models import Message, Notification, OutboundEmail

UNSUBSCRIBE_TOKEN = re.compile(r"/unsubscribe/[^/\s]+/")

pytestmark = pytest.mark.django_db
S = Milestone.State
START = timezone.now().replace(microsecond=0)


def submit(milestone):
    services.milestone_submit(
        milestone_id=milestone.pk, actor=milestone.contract.freelancer, message="Here it is.", links=[]
    )


def overdue_set(client, freelancers, *, submitted_at, contracts=3, count=2):
    """`contracts` contracts of `count` milestones, all funded and submitted at `submitted_at`; the first
    milestone partly refunded first (its fee is then taken on what is left)."""
    made = []
    for i in range(contracts):
        contract = make_contract(client=client, freelancer=freelancers[i % len(freelancers)], count=count)
        milestones = list(contract.milestones.order_by("position"))
        fund_milestones(contract, *milestones)
        if i == 0:
            hold_refund(
                reference=milestones[0].hold_reference, amount=Decimal("30.00"), destination="credit", actor=None
            )
        with time_machine.travel(submitted_at, tick=False):
            for milestone in milestones:
                submit(milestone)
        made.append(contract)
    return made


def _tokens(contracts) -> dict[str, str]:
    tokens = {}
    for i, contract in enumerate(contracts):
        tokens[f"c{contract.pk}"] = f"C{i}"
        for milestone in contract.milestones.all():
            tokens[f"m{milestone.pk}"] = f"C{i}.M{milestone.position}"
    return tokens


def _norm(text, tokens) -> str:
    """Ids of the set's contracts and milestones in references and links, replaced by their place."""
    text = re.sub(r"/contracts/(\d+)", lambda m: f"/contracts/{tokens[f'c{m.group(1)}']}", str(text))
    return re.sub(r"(milestones/|milestone:|#milestone-)(\d+)", lambda m: m.group(1) + tokens[f"m{m.group(2)}"], text)


def written(contracts, *, after: dict) -> dict:
    """Everything the sweep wrote for these contracts, without ids and times."""
    tokens = _tokens(contracts)
    milestones = Milestone.objects.filter(contract__in=contracts)
    return {
        "milestones": sorted((tokens[f"m{m.pk}"], m.state) for m in milestones),
        "submissions": sorted(
            (tokens[f"m{s.milestone_id}"], s.status, s.closed_at is not None)
            for s in Submission.objects.filter(milestone__in=milestones)
        ),
        "events": [
            (tokens[f"m{e.milestone_id}"], e.kind, e.actor_id, e.from_state, e.to_state, e.note, e.data)
            for e in ContractEvent.objects.filter(contract__in=contracts, pk__gt=after["event"]).order_by("pk")
        ],
        "thread": [
            (m.thread_id, m.sender_id, m.kind, m.body, _norm(m.link_url, tokens))
            for m in Message.objects.filter(thread__offer__contract__in=contracts, pk__gt=after["message"]).order_by(
                "thread_id", "pk"
            )
        ],
        "ledger": sorted(
            (
                _norm(e.reference, tokens),
                e.kind,
                e.memo,
                e.created_by_id,
                sorted(
                    (p.account.kind, p.account.user_id, _norm(p.account.reference, tokens), p.amount)
                    for p in e.postings.all()
                ),
            )
            for e in Entry.objects.filter(pk__gt=after["entry"]).prefetch_related("postings__account")
        ),
        "transfers": sorted(
            (t.payee_id, t.amount, t.status, _norm(t.entry.reference, tokens))
            for t in Transfer.objects.filter(pk__gt=after["transfer"]).select_related("entry")
        ),
        "notifications": sorted(
            (n.user_id, n.kind, n.text, _norm(n.url, tokens), n.email_id is not None)
            for n in Notification.objects.filter(pk__gt=after["notification"])
        ),
        "emails": sorted(
            # The unsubscribe link is signed with the time it was written: compare it without its token.
            (
                e.user_id,
                e.to_email,
                e.subject,
                _norm(UNSUBSCRIBE_TOKEN.sub("/unsubscribe/-/", e.body), tokens),
                e.status,
            )
            for e in OutboundEmail.objects.filter(pk__gt=after["email"])
        ),
    }


def marks() -> dict:
    def last(model):
        return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    return {
        "event": last(ContractEvent),
        "message": last(Message),
        "entry": last(Entry),
        "transfer": last(Transfer),
        "notification": last(Notification),
        "email": last(OutboundEmail),
    }


def sweep_at(when, django_capture_on_commit_callbacks) -> int:
    with time_machine.travel(when, tick=False), django_capture_on_commit_callbacks(execute=True):
        released, more = services.release_overdue()
    assert not more
    return released


def test_the_bulk_sweep_writes_what_releasing_one_by_one_wrote(monkeypatch, django_capture_on_commit_callbacks):
    client = UserFactory()
    freelancers = [FreelancerFactory(), FreelancerFactory()]
    # Two identical sets between the same people: the first due on day 14, the second on day 15.
    one_by_one = overdue_set(client, freelancers, submitted_at=START)
    in_bulk = overdue_set(client, freelancers, submitted_at=START + timedelta(days=1))

    # The first set by the one-by-one path (the bulk path's fallback, forced here). Before each run, every
    # email waiting from the setup has gone out, so both runs start their recipients' emails afresh.
    OutboundEmail.objects.update(status=OutboundEmail.Status.SENT)
    with monkeypatch.context() as patch:
        patch.setattr(sweep, "_release_in_bulk", lambda due: 1 / 0)
        before = marks()
        assert sweep_at(START + timedelta(days=14), django_capture_on_commit_callbacks) == 6
        reference = written(one_by_one, after=before)
    OutboundEmail.objects.update(status=OutboundEmail.Status.SENT)

    before = marks()
    assert sweep_at(START + timedelta(days=15), django_capture_on_commit_callbacks) == 6
    bulk = written(in_bulk, after=before)

    assert reference["events"] and reference["notifications"] and reference["emails"]  # something to compare
    assert len(reference["ledger"]) == 6 and len(reference["transfers"]) == 6
    # The thread lines and transfers differ only by thread and entry: compare their content.
    for key in ("thread",):
        bulk[key] = [line[1:] for line in bulk[key]]
        reference[key] = [line[1:] for line in reference[key]]
    assert bulk == reference


def test_the_bulk_sweep_and_its_notifications_run_a_constant_number_of_queries_per_batch(
    django_capture_on_commit_callbacks,
):
    def queries_for(contracts: int) -> tuple[int, int]:
        client = UserFactory()
        freelancers = [FreelancerFactory() for _ in range(contracts)]
        made = overdue_set(client, freelancers, submitted_at=START, contracts=contracts)
        before = marks()
        with time_machine.travel(START + timedelta(days=14), tick=False):
            with CaptureQueriesContext(connection) as sweep_queries, django_capture_on_commit_callbacks():
                released, _ = services.release_overdue()
            events = list(ContractEvent.objects.filter(pk__gt=before["event"]).values_list("pk", flat=True))
            # What the notify_events task sent after commit does (its emails are sent by their own tasks).
            with CaptureQueriesContext(connection) as notify_queries, django_capture_on_commit_callbacks():
                notified = services.events_notify(event_ids=events)
        assert released == 2 * contracts and notified == 2 * released  # client and freelancer, each release
        assert Milestone.objects.filter(contract__in=made, state=S.RELEASED).count() == 2 * contracts
        return len(sweep_queries), len(notify_queries)

    queries_for(1)  # the first sweep of the test process reads what Django caches afterwards
    small = queries_for(2)
    large = queries_for(6)
    assert small == large, (small, large)
    assert small[0] <= 30 and small[1] <= 15  # savepoints included
