"""A property-based proof that no sequence of actions moves money wrongly (Hypothesis' stateful testing).

`ContractMachine` plays one contract per example: an offer is sent and accepted, and then the parties, staff
and the platform take any of the actions below in any order, through the real actions of `contracts.services`
and `escrow.services`, paying on the sandbox provider's hosted page (`escrow.sandbox.testing.pay`) with cards
that succeed, are declined or are confirmed late. The clock moves (time-machine) and the automatic-release
sweep runs. Each rule asks `contracts.policy` first: when the policy allows, the action must succeed and do what
the machine's own model of the milestone expects; when it refuses, the action is called anyway and must raise
the policy's error and change nothing.

After every step (`@invariant`):
- the escrow audit (`escrow.audit.run_audit`, what `manage.py escrow_audit` runs, contracts' milestone checks
  included) finds nothing: every entry balances, no account that may not go negative is negative, each hold is
  funded once and released or settled at most once, every payment has exactly its entries;
- each milestone's escrow hold (its ledger balance) equals funded − refunded − released, both as the ledger
  sums it and as the model counts it, and the milestone's state is the one the model expects;
- each milestone was released (a release or a settlement entry) at most once, and exactly once if it is paid;
- the client's credit and the freelancer's earnings are what the model says, and never negative;
- what each party is shown matches the state machine: the buttons (`policy.milestone_actions`) are exactly those
  the state allows that party, and the money on the page (`selectors.milestones_money`) is what escrow holds.

Each example runs inside a savepoint of the test's transaction that is rolled back at its end; callbacks that
would run after a commit (emails, transfers, card refunds, the sandbox's webhooks; Celery runs eagerly in tests)
are run after each action, as a commit would. See `tests/properties/conftest.py` for the sizes.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from contracts import policy, services
from contracts.models import Contract, ContractEvent, Dispute, Milestone, MilestoneChange
from contracts.rules import MilestoneTerms
from contracts.selectors import milestones_money
from contracts.tests.factories import terms
from escrow.audit import run_audit
from escrow.errors import InvalidAmount, PayoutError
from escrow.models import Account, Entry, Hold, PaymentIntent, Payout, Posting, Transfer
from escrow.payments import payments_reconcile
from escrow.sandbox.testing import pay
from escrow.selectors import user_balances
from escrow.services import payout_request
from escrow.tests.factories import new_key
from escrow.tests.helpers import payouts_ready
from marketplace.models import User
from marketplace.money import ZERO
from marketplace.tests.factories import FreelancerFactory, UserFactory

S = Milestone.State
CENT = Decimal("0.01")
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

GOOD, DECLINED, NO_FUNDS, LATE = (
    "4242 4242 4242 4242",
    "4000 0000 0000 0002",
    "4000 0000 0000 9995",
    "4000 0000 0000 0077",
)
CARDS = st.sampled_from([GOOD, GOOD, GOOD, DECLINED, NO_FUNDS, LATE])
ACTORS = ["client", "freelancer", "staff", "stranger"]
# Mostly the parties (either may act), sometimes staff or a stranger (refused).
ACTORS_PARTIES_FIRST = st.sampled_from(["client", "freelancer"] * 3 + ["staff", "stranger"])


def mostly(role: str):
    """The role whose action a rule is, most of the time; any other actor sometimes (the policy refuses them)."""
    return st.sampled_from([role] * 5 + [other for other in ACTORS if other != role])


BUTTONS = policy.PARTY_BUTTONS + policy.PARTY_DANGER_BUTTONS
REFUSALS = (PermissionDenied, TransitionNotAllowed, ValidationError)
# Milestone states in which the freelancer may refund and the client may release a part.
WORKING = (S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED)


def cents(n: int) -> Decimal:
    return (Decimal(n) * CENT).quantize(CENT)


def _tables(**models) -> dict[str, str]:
    return {name: connection.ops.quote_name(model._meta.db_table) for name, model in models.items()}


T = _tables(
    entry=Entry,
    posting=Posting,
    account=Account,
    hold=Hold,
    intent=PaymentIntent,
    payout=Payout,
    transfer=Transfer,
    milestone=Milestone,
    contract=Contract,
    change=MilestoneChange,
    dispute=Dispute,
    event=ContractEvent,
)
# The ledger's two global rules, and a fingerprint of everything the full audit reads (it reruns when it moves).
LEDGER_SQL = f"""
    SELECT
        (SELECT count(*) FROM (
            SELECT e.id FROM {T["entry"]} e LEFT JOIN {T["posting"]} p ON p.entry_id = e.id
            GROUP BY e.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR count(p.id) < 2) AS unbalanced),
        (SELECT count(*) FROM (
            SELECT a.id FROM {T["account"]} a JOIN {T["posting"]} p ON p.account_id = a.id
            WHERE a.kind = ANY(%(kinds)s) GROUP BY a.id HAVING SUM(p.amount) < 0) AS negative),
        (SELECT COALESCE(SUM(p.amount), 0) FROM {T["account"]} a JOIN {T["posting"]} p ON p.account_id = a.id
         WHERE a.kind = 'user_credit' AND a.user_id = %(client)s),
        concat_ws('/',
            (SELECT max(id) FROM {T["entry"]}),
            (SELECT string_agg(id || state, ',' ORDER BY id) FROM {T["intent"]}),
            (SELECT string_agg(id || status, ',' ORDER BY id) FROM {T["payout"]}),
            (SELECT count(*) FROM {T["transfer"]}),
            (SELECT string_agg(id || state, ',' ORDER BY id) FROM {T["milestone"]}))
"""  # noqa: S608 (table names from the models, values as parameters)
# Each hold's balance (its escrow account) and how many entries ended it (a release or a settlement).
HOLDS_SQL = f"""
    SELECT h.reference,
        (SELECT COALESCE(SUM(p.amount), 0) FROM {T["account"]} a JOIN {T["posting"]} p ON p.account_id = a.id
         WHERE a.hold_id = h.id AND a.kind = 'escrow_hold'),
        (SELECT count(*) FROM {T["entry"]} e WHERE e.hold_id = h.id AND e.kind IN ('release', 'settlement'))
    FROM {T["hold"]} h WHERE h.reference = ANY(%(references)s)
"""  # noqa: S608
SNAPSHOT_SQL = f"""
    SELECT
        (SELECT string_agg(id || state || changes_requested_count, ',' ORDER BY id)
         FROM {T["milestone"]} WHERE contract_id = %(contract)s),
        (SELECT status FROM {T["contract"]} WHERE id = %(contract)s),
        (SELECT count(*) FROM {T["entry"]}),
        (SELECT count(*) FROM {T["intent"]}),
        (SELECT count(*) FROM {T["payout"]}),
        (SELECT string_agg(id || status, ',' ORDER BY id) FROM {T["change"]} WHERE contract_id = %(contract)s),
        (SELECT string_agg(d.id || d.state, ',' ORDER BY d.id) FROM {T["dispute"]} d
         JOIN {T["milestone"]} m ON m.id = d.milestone_id WHERE m.contract_id = %(contract)s),
        (SELECT count(*) FROM {T["event"]} WHERE contract_id = %(contract)s)
"""  # noqa: S608


def run(fn, /, **kwargs):
    """Call an action as a request would, then run what it left for after the commit (emails, transfers,
    card refunds, webhooks), as the commit would. A refused action's callbacks were discarded with its
    savepoint; whatever it left is dropped with it."""
    connection = transaction.get_connection()
    start = len(connection.run_on_commit)
    try:
        result = fn(**kwargs)
    except BaseException:
        del connection.run_on_commit[start:]
        raise
    event(f"done: {getattr(fn, '__name__', fn)}")
    while len(connection.run_on_commit) > start:
        pending = connection.run_on_commit[start:]
        del connection.run_on_commit[start:]
        for _savepoints, callback, _robust in pending:
            callback()
    return result


@dataclass
class Model:
    """What the machine expects of one milestone (amounts are the escrow hold's, before fees)."""

    pk: int
    amount: Decimal
    state: str = S.DRAFT
    funded: Decimal = ZERO
    refunded: Decimal = ZERO
    released: Decimal = ZERO
    endings: int = 0  # release or settlement entries
    intent: int | None = None  # the funding payment (what a card refund refunds)
    processing: bool = False  # paid with the late card: the provider has not confirmed yet
    deadline: datetime | None = None  # the pending submission's review deadline
    changes_requested: int = 0
    dispute: int | None = None
    dispute_opener: str = ""
    dispute_previous: str = ""
    dispute_left: timedelta | None = None
    refund_request: int | None = None  # a pending MilestoneChange of kind refund

    @property
    def held(self) -> Decimal:
        return self.funded - self.refunded - self.released


class ContractMachine(RuleBasedStateMachine):
    # Users are created once per test (the machine re-reads them in each example); everything else per example.
    user_ids: dict[str, int] = {}

    def __init__(self):
        super().__init__()
        cache.clear()
        self.savepoint = transaction.savepoint()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.users = {role: User.objects.get(pk=pk) for role, pk in self.user_ids.items()}
        self.contract: Contract | None = None
        self.models: list[Model] = []
        self.card_left: dict[int, Decimal] = {}  # funding payment -> what can still go back to its card
        self.credit = ZERO  # the client's credit
        self.bonuses = ZERO
        self.refund_to = "credit"
        self.payouts_set_up = False
        self.ended = False
        self.audited = None  # the ledger's fingerprint when the full audit last ran

    def teardown(self):
        self.traveller.stop()
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ---

    def user(self, role: str) -> User:
        return self.users[role]

    def milestone(self, index: int) -> tuple[Milestone, Model]:
        model = self.models[index % len(self.models)]
        return Milestone.objects.select_related("contract").get(pk=model.pk), model

    def snapshot(self) -> tuple:
        """Everything a refused action could have changed, in one query."""
        with connection.cursor() as cursor:
            cursor.execute(SNAPSHOT_SQL, {"contract": self.contract.pk})
            return cursor.fetchone()

    def refused(self, verdict: policy.Verdict, fn, **kwargs):
        """The policy refused: the action must raise the policy's own error, with its reason, and change nothing."""
        assert not verdict
        event(f"refused: {fn.__name__} ({verdict.code})")
        expected = {"who": PermissionDenied, "input": ValidationError}.get(verdict.kind, TransitionNotAllowed)
        before = self.snapshot()
        with pytest.raises(REFUSALS) as raised:
            run(fn, **kwargs)
        assert isinstance(raised.value, expected), (verdict, raised.value)
        assert str(verdict.reason) in str(raised.value), (verdict, raised.value)
        assert self.snapshot() == before

    def give_back(self, model: Model, value: Decimal) -> None:
        """A refund goes where the client chose: to the card, up to what the funding payment charged the card
        and has not refunded yet; the rest (money that came from credit), and everything if they chose credit,
        to their credit."""
        to_card = min(value, self.card_left.get(model.intent, ZERO)) if self.refund_to == "card" else ZERO
        if to_card:
            self.card_left[model.intent] -= to_card
        self.credit += value - to_card

    # --- the contract ---

    @initialize(
        amounts=st.lists(st.integers(500, 2500), min_size=1, max_size=3),
        rounds=st.integers(0, 2),
        refund_to=st.sampled_from(["credit", "card"]),
    )
    def offer_accepted(self, amounts, rounds, refund_to):
        """The client sends an offer; the freelancer accepts it: the contract, with its milestones."""
        User.objects.filter(pk=self.users["client"].pk).update(refund_to=refund_to)
        self.users["client"].refresh_from_db()
        self.refund_to = refund_to
        today = timezone.localdate()
        rows = [
            MilestoneTerms(title=f"M{i}", deliverable="D", due_date=today + timedelta(days=7), amount=cents(a))
            for i, a in enumerate(amounts, 1)
        ]
        offer = run(
            services.offer_create,
            client=self.users["client"],
            freelancer=self.users["freelancer"],
            terms=terms(revision_rounds=rounds),
            milestones=rows,
        )
        self.contract = run(services.offer_accept, offer_id=offer.pk, actor=self.users["freelancer"], revision_number=1)
        self.models = [Model(pk=m.pk, amount=m.amount) for m in self.contract.milestones.order_by("position")]

    @rule(actor=mostly("client"), amount=st.integers(500, 1500))
    def add_milestone(self, actor, amount):
        """The client adds a milestone; the freelancer proposes one (the client answers in `answer_change`)."""
        user = self.user(actor)
        count = len(self.models)
        verdict = policy.contract_may_add_milestone(user, self.contract, milestone_count=count)
        row = MilestoneTerms(
            title=f"M{count + 1}",
            deliverable="D",
            due_date=timezone.localdate() + timedelta(days=7),
            amount=cents(amount),
        )
        if not verdict:
            return self.refused(verdict, services.milestone_add, contract_id=self.contract.pk, actor=user, terms=row)
        if count >= 5:
            return
        result = run(services.milestone_add, contract_id=self.contract.pk, actor=user, terms=row)
        if isinstance(result, Milestone):
            self.models.append(Model(pk=result.pk, amount=result.amount))

    @rule(accept=st.booleans(), actor=ACTORS_PARTIES_FIRST)
    def answer_change(self, accept, actor):
        """The other party answers the oldest pending proposal: an added milestone, or a refund request."""
        change = self.contract.changes.filter(status=MilestoneChange.Status.PENDING).order_by("pk").first()
        if change is None:
            return
        user = self.user(actor)
        change.contract = self.contract
        verdict = (policy.change_may_accept if accept else policy.change_may_answer)(user, change)
        if verdict and accept and change.kind == MilestoneChange.Kind.REFUND:
            model = self.model_of(change.milestone_id)
            milestone = Milestone.objects.select_related("contract").get(pk=model.pk)
            verdict = policy.milestone_may(user, milestone, "refund")
        if not verdict:
            return self.refused(
                verdict, services.milestone_change_decide, change_id=change.pk, actor=user, accept=accept
            )
        run(services.milestone_change_decide, change_id=change.pk, actor=user, accept=accept)
        if change.kind == MilestoneChange.Kind.REFUND:
            refunded = self.model_of(change.milestone_id)
            refunded.refund_request = None
            if accept:
                self.give_back(refunded, refunded.held)
                refunded.refunded += refunded.held
                refunded.state, refunded.deadline = S.REFUNDED, None
        elif accept and change.kind == MilestoneChange.Kind.ADD:
            added = self.contract.milestones.order_by("-pk").first()
            self.models.append(Model(pk=added.pk, amount=added.amount))

    def model_of(self, pk: int) -> Model:
        return next(model for model in self.models if model.pk == pk)

    @precondition(lambda self: any(m.funded for m in self.models))  # not before anything happened (most would stop)
    @rule(actor=ACTORS_PARTIES_FIRST)
    def end_contract(self, actor):
        user = self.user(actor)
        self.contract.refresh_from_db()
        open_money = self.contract.milestones.filter(state__in=Milestone.OPEN_MONEY_STATES).count()
        verdict = policy.contract_may_end(user, self.contract, open_money=open_money)
        if not verdict:
            return self.refused(verdict, services.contract_end, contract_id=self.contract.pk, actor=user)
        run(services.contract_end, contract_id=self.contract.pk, actor=user)
        self.contract.refresh_from_db()
        self.ended = True
        for model in self.models:
            if model.state == S.DRAFT:
                model.state = S.CANCELLED
            model.refund_request = None

    # --- funding ---

    @rule(
        first=st.integers(0, 4), second=st.integers(0, 4), actor=mostly("client"), card=CARDS, use_credit=st.booleans()
    )
    def fund(self, first, second, actor, card, use_credit):
        """Fund one or two milestones with one payment, paid on the provider's page (credit first if asked)."""
        user = self.user(actor)
        chosen = {self.models[first % len(self.models)].pk, self.models[second % len(self.models)].pk}
        milestones = list(Milestone.objects.select_related("contract").filter(pk__in=chosen).order_by("position", "id"))
        refusals = [v for v in (policy.milestone_may(user, m, "fund") for m in milestones) if not v]
        kwargs = {"contract_id": self.contract.pk, "milestone_ids": sorted(chosen), "actor": user}
        kwargs |= {"idempotency_key": new_key(), "use_credit": use_credit}
        if refusals:
            return self.refused(refusals[0], services.milestones_fund, **kwargs)
        intent = run(services.milestones_fund, **kwargs)
        models = [self.model_of(m.pk) for m in milestones]
        total = sum((m.amount for m in models), ZERO)
        credit_used = min(self.credit, total) if use_credit else ZERO
        assert (intent.amount, intent.credit_used) == (total - credit_used, credit_used)
        self.credit -= credit_used
        intent = run(pay, intent=intent, card=card)
        self.settle_payment(intent, models, card=card if intent.amount else GOOD)

    def settle_payment(self, intent: PaymentIntent, models: list[Model], *, card: str) -> None:
        """What the provider's answer means for the milestones (the late card: processing until confirmed)."""
        expected = {GOOD: "succeeded", DECLINED: "failed", NO_FUNDS: "failed", LATE: "processing"}[card]
        assert intent.state == expected, (intent.state, card)
        for model in models:
            model.intent = intent.pk
            model.processing = intent.state == PaymentIntent.State.PROCESSING
            if intent.state == PaymentIntent.State.SUCCEEDED:
                model.state, model.funded = S.FUNDED, model.amount
        if intent.state == PaymentIntent.State.SUCCEEDED:
            self.card_left[intent.pk] = intent.amount
        elif intent.state == PaymentIntent.State.FAILED:
            self.credit += intent.credit_used

    @precondition(lambda self: any(model.processing for model in self.models))
    @rule(minutes=st.integers(0, 10))
    def provider_confirms_late_payments(self, minutes):
        """Time passes and the reconciliation sweep asks the provider about payments still processing."""
        self.clock.shift(timedelta(minutes=minutes))
        run(payments_reconcile, now=timezone.now())
        for model in self.models:
            if not model.processing:
                continue
            intent = PaymentIntent.objects.get(pk=model.intent)
            ready = minutes * 60 >= settings.SANDBOX_LATE_SECONDS and minutes >= 3  # reconcile waits 2 minutes
            if intent.state == PaymentIntent.State.SUCCEEDED:
                model.processing, model.state, model.funded = False, S.FUNDED, model.amount
                self.card_left[intent.pk] = intent.amount
            else:
                assert not ready, f"payment #{intent.pk} is {intent.state} after {minutes} minutes"

    # --- work and review ---

    def attempt(self, index: int, actor: str, name: str, action, **kwargs):
        """Milestone action `name` by `actor` through `action`: refused by the policy, the refusal is checked and
        (None, None) returned; allowed, it runs, and (the milestone's model, the action's result) is returned."""
        milestone, model = self.milestone(index)
        user = self.user(actor)
        verdict = policy.milestone_may(user, milestone, name)
        kwargs = {"milestone_id": model.pk, "actor": user, **kwargs}
        if not verdict:
            self.refused(verdict, action, **kwargs)
            return None, None
        return model, run(action, **kwargs)

    @rule(index=st.integers(0, 4), actor=mostly("freelancer"))
    def submit(self, index, actor):
        model, _ = self.attempt(index, actor, "submit", services.milestone_submit, message="Done", links=[])
        if model:
            model.state, model.deadline = S.SUBMITTED, timezone.now() + settings.REVIEW_PERIOD

    @rule(index=st.integers(0, 4), actor=mostly("freelancer"))
    def withdraw_submission(self, index, actor):
        action = services.milestone_withdraw_submission
        model, _ = self.attempt(index, actor, "withdraw_submission", action, note="Sent by mistake")
        if model:
            model.state, model.deadline = S.FUNDED, None

    @rule(index=st.integers(0, 4), actor=mostly("client"))
    def request_changes(self, index, actor):
        action = services.milestone_request_changes
        model, _ = self.attempt(index, actor, "request_changes", action, note="Please change the colours")
        if model:
            model.state, model.deadline = S.CHANGES_REQUESTED, None
            model.changes_requested += 1

    @rule(index=st.integers(0, 4), actor=mostly("client"), bonus=st.none() | st.integers(100, 900), card=CARDS)
    def approve(self, index, actor, bonus, card):
        """The client approves: the milestone is released at once; a bonus may follow, paid on the provider's page."""
        model, _ = self.attempt(index, actor, "approve", services.milestone_approve)
        if model:
            self.released(model)
            if bonus is not None:
                self.pay_bonus(model, self.user(actor), cents(bonus), card)

    def released(self, model: Model) -> None:
        model.released += model.held
        model.state, model.deadline, model.endings = S.RELEASED, None, model.endings + 1

    def pay_bonus(self, model: Model, user: User, amount: Decimal, card: str) -> None:
        intent = run(
            services.milestone_bonus, milestone_id=model.pk, actor=user, amount=amount, idempotency_key=new_key()
        )
        intent = run(pay, intent=intent, card=card)
        if intent.state == PaymentIntent.State.SUCCEEDED:
            self.bonuses += amount

    @rule(index=st.integers(0, 4), actor=mostly("client"), amount=st.integers(100, 900), card=CARDS)
    def bonus(self, index, actor, amount, card):
        """A bonus on a milestone paid earlier."""
        milestone, model = self.milestone(index)
        user = self.user(actor)
        verdict = policy.milestone_may(user, milestone, "bonus")
        if not verdict:
            kwargs = {"milestone_id": model.pk, "actor": user, "amount": cents(amount), "idempotency_key": new_key()}
            return self.refused(verdict, services.milestone_bonus, **kwargs)
        self.pay_bonus(model, user, cents(amount), card)

    @rule(hours=st.sampled_from([1, 6, 23, 24, 72, 24 * 7, 24 * 13, 24 * 14, 24 * 15]))
    def time_passes(self, hours):
        self.clock.shift(timedelta(hours=hours))

    @rule()
    def sweep(self):
        """The automatic-release sweep (beat runs it every minute): overdue reviews are approved and paid."""
        now = timezone.now()
        overdue = [m for m in self.models if m.state == S.SUBMITTED and m.deadline is not None and m.deadline <= now]
        released, _more = run(services.release_overdue, now=now)
        assert released == len(overdue), (released, overdue)
        for model in overdue:
            self.released(model)

    # --- refunds ---

    @rule(index=st.integers(0, 4), actor=mostly("freelancer"), part=st.none() | st.integers(1, 99))
    def refund(self, index, actor, part):
        """The freelancer refunds all (part None) or a percentage of what is held."""
        milestone, model = self.milestone(index)
        user = self.user(actor)
        verdict = policy.milestone_may(user, milestone, "refund")
        amount = None if part is None else max(CENT, (model.held * part / 100).quantize(CENT))
        kwargs = {"milestone_id": model.pk, "actor": user, "amount": amount}
        if not verdict:
            return self.refused(verdict, services.milestone_refund, **kwargs)
        value = model.held if amount is None or amount >= model.held else amount
        run(services.milestone_refund, **kwargs)
        whole = value == model.held
        self.give_back(model, value)
        model.refunded += value
        if whole:
            model.state, model.deadline = S.REFUNDED, None

    @rule(index=st.integers(0, 4), actor=mostly("client"))
    def request_refund(self, index, actor):
        """The client asks for the money back; the freelancer answers in `answer_change`."""
        model, change = self.attempt(index, actor, "request_refund", services.milestone_refund_request)
        if model:
            model.refund_request = change.pk

    @rule(index=st.integers(0, 4), actor=mostly("client"), part=st.integers(1, 99))
    def release_part(self, index, actor, part):
        milestone, model = self.milestone(index)
        user = self.user(actor)
        verdict = policy.milestone_may(user, milestone, "release_part")
        amount = max(CENT, (model.held * part / 100).quantize(CENT))
        kwargs = {"milestone_id": model.pk, "actor": user, "amount": amount}
        if not verdict:
            return self.refused(verdict, services.milestone_release_part, **kwargs)
        if amount >= model.held:
            with pytest.raises(InvalidAmount):
                run(services.milestone_release_part, **kwargs)
            return
        run(services.milestone_release_part, **kwargs)
        model.released += amount

    # --- disputes ---

    @rule(index=st.integers(0, 4), actor=ACTORS_PARTIES_FIRST)
    def dispute(self, index, actor):
        note = "The work is not what we agreed"
        model, dispute = self.attempt(index, actor, "dispute", services.milestone_dispute, note=note)
        if not model:
            return
        model.dispute, model.dispute_opener, model.dispute_previous = dispute.pk, actor, model.state
        model.dispute_left = None
        if model.state == S.SUBMITTED:
            model.dispute_left = max(model.deadline - timezone.now(), timedelta(0))
        model.state, model.deadline = S.DISPUTED, None

    def open_dispute(self, index: int) -> tuple[Model, Dispute] | tuple[None, None]:
        disputed = [m for m in self.models if m.dispute is not None]
        if not disputed:
            return None, None
        model = disputed[index % len(disputed)]
        return model, Dispute.objects.select_related("milestone__contract").get(pk=model.dispute)

    @precondition(lambda self: any(m.dispute for m in self.models))
    @rule(index=st.integers(0, 4), actor=ACTORS_PARTIES_FIRST)
    def withdraw_dispute(self, index, actor):
        """The opener withdraws: the milestone returns to where it was (a review resumes with its time left)."""
        model, dispute = self.open_dispute(index)
        user = self.user(actor)
        verdict = policy.dispute_may(user, dispute, "withdraw")
        if not verdict:
            return self.refused(verdict, services.dispute_withdraw, dispute_id=dispute.pk, actor=user)
        run(services.dispute_withdraw, dispute_id=dispute.pk, actor=user)
        model.state, model.dispute = model.dispute_previous, None
        if model.state == S.SUBMITTED:
            left = model.dispute_left if model.dispute_left is not None else settings.REVIEW_PERIOD
            model.deadline = timezone.now() + max(left, settings.DISPUTE_MIN_REVIEW_LEFT)

    @precondition(lambda self: any(m.dispute for m in self.models))
    @rule(
        index=st.integers(0, 4),
        actor=mostly("staff"),
        share=st.integers(0, 100),
        waive_fee=st.booleans(),
        data=st.data(),
    )
    def decide_dispute(self, index, actor, share, waive_fee, data):
        """Staff decide: `share` percent to the freelancer and the rest to the client, or all one way."""
        model, dispute = self.open_dispute(index)
        user = self.user(actor)
        verdict = policy.dispute_may(user, dispute, "decide")
        to_freelancer = (model.held * share / 100).quantize(CENT)
        to_client = model.held - to_freelancer
        whole = data.draw(st.sampled_from([None, "release", "refund"]), label="all one way")
        if whole == "release":
            to_freelancer, to_client = model.held, ZERO
        elif whole == "refund":
            to_freelancer, to_client = ZERO, model.held
        if whole is None:
            action = services.dispute_decide
            kwargs = {"dispute_id": dispute.pk, "to_freelancer": to_freelancer, "to_client": to_client}
            kwargs |= {"waive_fee": waive_fee}
        else:
            action, kwargs = services.milestone_resolve_dispute, {"milestone_id": model.pk, "outcome": whole}
        kwargs |= {"actor": user, "note": "Decided on the evidence"}
        if not verdict:
            return self.refused(verdict, action, **kwargs)
        self.settle(model, to_freelancer, to_client, lambda: run(action, **kwargs))

    def settle(self, model: Model, to_freelancer: Decimal, to_client: Decimal, act) -> None:
        act()
        if to_client:
            self.give_back(model, to_client)
        model.refunded += to_client
        model.released += to_freelancer
        model.endings += 1
        model.state = S.RELEASED if to_freelancer else S.REFUNDED
        model.dispute = None

    @precondition(lambda self: any(m.dispute for m in self.models))
    @rule(
        index=st.integers(0, 4),
        proposer=ACTORS_PARTIES_FIRST,
        answerer=ACTORS_PARTIES_FIRST,
        share=st.integers(0, 100),
        accept=st.booleans(),
    )
    def settle_dispute(self, index, proposer, answerer, share, accept):
        """A party proposes a split; the other party accepts it (it executes at once) or declines it."""
        model, dispute = self.open_dispute(index)
        user = self.user(proposer)
        to_freelancer = (model.held * share / 100).quantize(CENT)
        to_client = model.held - to_freelancer
        kwargs = {"dispute_id": dispute.pk, "actor": user, "to_freelancer": to_freelancer, "to_client": to_client}
        verdict = policy.dispute_may(user, dispute, "propose")
        if not verdict:
            return self.refused(verdict, services.dispute_propose, **kwargs)
        proposal = run(services.dispute_propose, **kwargs)
        other = self.user(answerer)
        proposal.dispute = dispute
        verdict = policy.dispute_proposal_may_answer(other, proposal)
        kwargs = {"proposal_id": proposal.pk, "actor": other, "accept": accept}
        if not verdict:
            return self.refused(verdict, services.dispute_proposal_answer, **kwargs)
        if accept:
            self.settle(model, to_freelancer, to_client, lambda: run(services.dispute_proposal_answer, **kwargs))
        else:
            run(services.dispute_proposal_answer, **kwargs)

    # --- the freelancer's earnings ---

    @precondition(lambda self: not self.payouts_set_up)
    @rule()
    def set_up_payouts(self):
        """The freelancer sets up their payout account: pending transfers of their earnings are sent."""
        run(payouts_ready, user=self.users["freelancer"])
        self.payouts_set_up = True

    @rule(part=st.integers(1, 120))
    def withdraw(self, part):
        """The freelancer withdraws a percentage of what they may withdraw (over 100: more than they have)."""
        user = self.users["freelancer"]
        available = user_balances(user)["available"]
        pending = sum(
            Transfer.objects.filter(payee=user, status=Transfer.Status.PENDING).values_list("amount", flat=True), ZERO
        )
        withdrawable = available - pending
        amount = max(CENT, (withdrawable * part / 100).quantize(CENT))
        kwargs = {"user": user, "amount": amount, "idempotency_key": new_key()}
        if not self.payouts_set_up or amount > withdrawable:
            before = self.snapshot()
            with pytest.raises(PayoutError if not self.payouts_set_up else InvalidAmount):
                run(payout_request, **kwargs)
            assert self.snapshot() == before
            return
        payout = run(payout_request, **kwargs)
        assert payout.status == Payout.Status.PAID
        assert user_balances(user)["available"] == available - amount

    # --- after every step ---

    @invariant()
    def the_ledger_holds_together_and_each_party_sees_it(self):
        """After every step (one invariant, so the figures are read once: five queries):

        - every entry balances, and no account that may not go negative is negative;
        - each milestone's escrow hold (its account's balance) equals funded − refunded − released as its entries
          say (`escrow.selectors.hold_summaries`, through `milestones_money`) and as the model counts them, and it
          was released or settled at most once (exactly once if it is paid);
        - the client's credit is what the model says;
        - each milestone's state, the money its page shows and the buttons each party gets match the model;
        - the full escrow audit (what `manage.py escrow_audit` runs, contracts' milestone checks included) finds
          nothing; it reruns whenever a ledger entry, a payment, a payout, a transfer or a milestone changed.
        """
        if self.contract is None:
            return
        references = [Milestone.hold_reference_for(m.pk) for m in self.models]
        with connection.cursor() as cursor:
            cursor.execute(
                LEDGER_SQL,
                {
                    "kinds": list(Account.NON_NEGATIVE_KINDS),
                    "client": self.users["client"].pk,
                    "references": references,
                },
            )
            unbalanced, negative, credit, fingerprint = cursor.fetchone()
            cursor.execute(HOLDS_SQL, {"references": references})
            holds = {reference: (balance, endings) for reference, balance, endings in cursor.fetchall()}
        assert (unbalanced, negative) == (0, 0), f"{unbalanced} unbalanced entries, {negative} negative accounts"
        assert credit == self.credit, (credit, self.credit)

        pending = MilestoneChange.objects.filter(
            milestone=OuterRef("pk"), kind=MilestoneChange.Kind.REFUND, status=MilestoneChange.Status.PENDING
        )
        milestones = list(
            Milestone.objects.filter(contract=self.contract)
            .select_related("contract")
            .annotate(refund_requested=Exists(pending))
            .order_by("position", "id")
        )
        money = milestones_money(milestones)
        assert [m.pk for m in milestones] == [m.pk for m in self.models]
        for model in self.models:  # a refund request applies only while the money is held for work
            if model.state not in WORKING:
                model.refund_request = None
        for milestone, model in zip(milestones, self.models, strict=True):
            shown = money[milestone.pk]
            balance, endings = holds.get(milestone.hold_reference, (ZERO, 0))
            note(f"{model} shown={shown} balance={balance} endings={endings}")
            assert milestone.state == model.state
            assert balance == shown.funded - shown.refunded - shown.released == shown.held == model.held
            assert (shown.funded, shown.refunded, shown.released) == (model.funded, model.refunded, model.released)
            assert endings == model.endings <= 1  # released (or settled) at most once
            assert model.endings == 1 or model.state != S.RELEASED
            assert shown.payment_processing == model.processing
            assert milestone.refund_requested == (model.refund_request is not None)
            for role in ("client", "freelancer"):
                buttons = policy.milestone_actions(
                    self.user(role), milestone, BUTTONS, pending_refund_request=milestone.refund_requested
                )
                assert [b.name for b in buttons] == expected_buttons(role, model, milestone.contract), role
        if fingerprint != self.audited:
            violations = run_audit()
            assert not violations, violations
            self.audited = fingerprint


def expected_buttons(role: str, model: Model, contract: Contract) -> list[str]:
    """The buttons each party should see, written from the product's rules (README), not from the policy."""
    state, active = model.state, contract.is_active
    rounds_left = model.changes_requested < contract.revision_rounds
    shown = []
    if role == "client":
        shown += ["fund"] if state == S.DRAFT and active and not model.processing else []
        shown += ["approve"] if state == S.SUBMITTED and active else []
        shown += ["request_changes"] if state == S.SUBMITTED and active and rounds_left else []
        shown += ["release_part"] if state in WORKING and active else []
        no_request = model.refund_request is None
        shown += ["request_refund"] if state in (S.FUNDED, S.CHANGES_REQUESTED) and active and no_request else []
    else:
        shown += ["submit"] if state in (S.FUNDED, S.CHANGES_REQUESTED) and active else []
        shown += ["withdraw_submission"] if state == S.SUBMITTED and active else []
        shown += ["refund"] if state in WORKING and active else []
    shown += ["dispute"] if state in (*WORKING, S.APPROVED) else []
    return shown


@pytest.mark.django_db
def test_no_sequence_of_actions_moves_money_wrongly():
    ContractMachine.user_ids = {
        "client": UserFactory(name="Clara Client").pk,
        "freelancer": FreelancerFactory(name="Felix Freelancer").pk,
        "staff": UserFactory(name="Sam Staff", is_staff=True).pk,
        "stranger": UserFactory(name="Stella Stranger").pk,
    }
    run_state_machine_as_test(ContractMachine)
