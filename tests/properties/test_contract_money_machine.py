"""A property-based proof that no sequence of actions moves money wrongly (Hypothesis stateful testing).

A `RuleBasedStateMachine` drives one contract through random sequences of what its people and the platform
can do: an offer (countered or not), funding (good, declined, short or unreachable cards, with or without
credit), submissions, approvals, change requests, partial releases, whole and partial refunds, refund requests
and their answers, disputes (withdrawn by their opener, settled by the parties, or decided by staff all one way
or part each way), cancellations, added milestones, bonuses, withdrawals, time passing and the
automatic-release sweep. Each action is tried by a random person (client, freelancer, staff or an
outsider): the machine keeps its own model of what should happen and checks the real actions in
`contracts.services` against it.

After every step it checks (the invariants listed in the README):
1. the ledger balances (every entry and all postings sum to zero) and no account that may not go negative
   does (the escrow audit's own checks); at the end of every run the whole audit (`escrow_audit`: holds
   funded and released at most once, charges and payouts recorded, the milestone-level checks) passes;
2. each milestone's escrow hold equals its funded minus refunded minus released amount (from the model);
3. each milestone's hold is emptied at most once (one release or settlement entry), and a milestone in the
   released state has been;
4. the freelancer's available earnings and the client's credit equal what the model expects;
5. each milestone's state is the model's, and the actions each party is offered on it are exactly those the
   state machine allows that party in that state.

Each run happens in a savepoint rolled back at its end, with the clock frozen (time-machine) and moved only by
the "time passes" step. Size (HYPOTHESIS_PROFILE): "ci", what `make test` runs, has HYPOTHESIS_CI_EXAMPLES
(100) runs of up to HYPOTHESIS_CI_STEPS (50) steps; "full" 500 × 50 (the size first asked for: about five
times as long), "deep" 5000 × 100, "dev" 20 × 30.
"""

import itertools
import os
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_fsm import TransitionNotAllowed
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts import policy, services
from contracts.models import Milestone, MilestoneChange
from contracts.tests.factories import milestone_terms, terms
from escrow.audit import check_entries_balance, check_ledger_sums_to_zero, check_no_negative_balances
from escrow.errors import EscrowError
from escrow.gateways import CardDetails, SandboxGateway
from escrow.models import Entry
from escrow.selectors import hold_balances, release_quote, user_balances
from escrow.services import payout_request
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.money import platform_fee, to_money
from marketplace.tests.factories import FreelancerFactory, UserFactory

S = Milestone.State
ZERO = Decimal("0.00")
REFUSED = (PermissionDenied, TransitionNotAllowed, ValidationError, EscrowError)
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
CARDS = {
    "good": "4242424242424242",
    "declined": SandboxGateway.DECLINED,
    "insufficient": SandboxGateway.INSUFFICIENT_FUNDS,
    "unreachable": SandboxGateway.UNREACHABLE,
}
REFUNDABLE = (S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED)
DISPUTABLE = (S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED)
MAX_MILESTONES = 6
REVIEW_SECONDS = django_settings.REVIEW_PERIOD.total_seconds()
# Which role may take each milestone action, from which states (the model; the code must agree).
MODEL_RULES = {
    "fund": ({"client"}, (S.DRAFT,)),
    "submit": ({"freelancer"}, (S.FUNDED, S.CHANGES_REQUESTED)),
    "approve": ({"client"}, (S.SUBMITTED,)),
    "request_changes": ({"client"}, (S.SUBMITTED,)),
    "withdraw_submission": ({"freelancer"}, (S.SUBMITTED,)),
    "refund": ({"freelancer"}, REFUNDABLE),
    "request_refund": ({"client"}, (S.FUNDED, S.CHANGES_REQUESTED)),
    "dispute": ({"client", "freelancer"}, DISPUTABLE),
    "cancel": ({"staff"}, (S.DRAFT,)),
    "resolve_release": ({"staff"}, (S.DISPUTED,)),
    "resolve_refund": ({"staff"}, (S.DISPUTED,)),
    "release_part": ({"client"}, (S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED)),
}
SHOWN_TO_PARTIES = (*policy.PARTY_BUTTONS, "dispute")

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("HYPOTHESIS_CI_EXAMPLES", "100")),
    stateful_step_count=int(os.environ.get("HYPOTHESIS_CI_STEPS", "50")),
    deadline=None,
    derandomize=True,  # the same runs every time in CI: a failure is reproducible, never a fluke
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=20, stateful_step_count=30)
# Larger runs explore new sequences each time (not derandomized).
settings.register_profile(
    "full", parent=settings.get_profile("ci"), max_examples=500, stateful_step_count=50, derandomize=False
)
settings.register_profile(
    "deep", parent=settings.get_profile("ci"), max_examples=5000, stateful_step_count=100, derandomize=False
)

amounts = st.decimals(min_value=Decimal("5.00"), max_value=Decimal("2000.00"), places=2)
keys = (f"key-{n}" for n in itertools.count())
DONE = Counter()  # how often each action succeeded: the test checks the machine reached every kind of step


ACTIONS = {}  # name -> (method, when, weight, strategies): what people (and time) can do next


def action(*, when=lambda self: True, weight=3, **strategies):
    """Register a step of the machine: taken, when `when(machine)`, with a chance that grows with `weight`."""

    def register(method):
        ACTIONS[method.__name__] = (method, when, weight, strategies)
        return method

    return register


class ModelMilestone:
    def __init__(self, milestone: Milestone):
        self.pk = milestone.pk
        self.amount = milestone.amount
        self.fee = milestone.fee
        self.reference = milestone.hold_reference
        self.state = S.DRAFT
        self.funded = ZERO
        self.refunded = ZERO
        self.released = ZERO
        self.rounds_used = 0
        self.deadline = None  # the pending submission's automatic-release time
        self.final_entries = 0  # the one release or settlement entry that empties the hold
        self.dispute = None  # (dispute id, opener's role, state before it, review time left) while disputed

    def __repr__(self):
        return f"<milestone #{self.pk} {self.state}, {self.amount}, held {self.held}>"

    @property
    def held(self) -> Decimal:
        return self.funded - self.refunded - self.released


class ContractMoneyMachine(RuleBasedStateMachine):
    """One contract, its two parties, a staff member and an outsider; see the module docstring."""

    def __init__(self):
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown; emails and tasks (on_commit) never run.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.clock = time_machine.travel(START, tick=False)
        self.now = self.clock.start()  # a Traveller: time_passes shifts it
        self.client = UserFactory(name="Clara Client")
        self.freelancer = FreelancerFactory(name="Felix Freelancer")
        self.staff = UserFactory(name="Sam Staff", is_staff=True)
        self.outsider = UserFactory(name="Olga Outsider")
        self.people = {
            "client": self.client,
            "freelancer": self.freelancer,
            "staff": self.staff,
            "outsider": self.outsider,
        }
        self.milestones: list[ModelMilestone] = []
        self.credit = ZERO  # the client's credit from refunds
        self.available = ZERO  # the freelancer's withdrawable earnings
        self.refund_requests: dict[int, int] = {}  # milestone pk -> pending change id

    def teardown(self):
        try:
            if self.milestones:  # the full audit (every escrow and milestone check) once per run, at its end
                assert_ledger_consistent()
        finally:
            self._roll_back()

    def _roll_back(self):
        self.clock.stop()
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- the offer ---

    @initialize(
        amounts_=st.lists(amounts, min_size=1, max_size=4),
        countered=st.booleans(),
        rounds=st.integers(min_value=0, max_value=2),
        refund_to=st.sampled_from(["credit", "card"]),
    )
    def agree_on_an_offer(self, amounts_, countered, rounds, refund_to):
        self.client.refund_to = refund_to
        self.client.save(update_fields=["refund_to"])
        milestones = [
            replace(m, amount=amount) for m, amount in zip(milestone_terms(len(amounts_)), amounts_, strict=True)
        ]
        offer = services.offer_create(
            client=self.client, freelancer=self.freelancer, terms=terms(revision_rounds=rounds), milestones=milestones
        )
        if countered:  # the freelancer asks 10% more on the first milestone; the client accepts that
            first = milestones[0]
            milestones[0] = replace(first, amount=to_money(first.amount * Decimal("1.1")))
            services.offer_propose_revision(
                offer_id=offer.pk,
                actor=self.freelancer,
                terms=terms(revision_rounds=rounds),
                milestones=milestones,
                seen_revision=1,
            )
            contract = services.offer_accept(offer_id=offer.pk, actor=self.client, revision_number=2)
        else:
            contract = services.offer_accept(offer_id=offer.pk, actor=self.freelancer, revision_number=1)
        self.contract = contract
        self.revision_rounds = rounds
        self.milestones = [ModelMilestone(m) for m in contract.milestones.order_by("position")]
        assert [m.amount for m in self.milestones] == [m.amount for m in milestones]

    # --- one step: someone does something (one rule, so each step's choice is weighted, not left to chance) ---

    @rule(data=st.data())
    def someone_acts(self, data):
        possible = [name for name, (_m, when, weight, _s) in ACTIONS.items() if when(self) for _ in range(weight)]
        name = data.draw(st.sampled_from(possible), label="action")
        method, _when, _weight, strategies = ACTIONS[name]
        arguments = {key: data.draw(strategy, label=key) for key, strategy in strategies.items()}
        if "data" in method.__code__.co_varnames[: method.__code__.co_argcount]:
            arguments["data"] = data
        method(self, **arguments)

    # --- helpers ---

    def attempt(self, allowed: bool, action, *, refused=REFUSED):
        """Run `action`; it must succeed when the model allows it and be refused (changing nothing) otherwise."""
        if allowed:
            result = action()
            DONE[action.__qualname__.split(".")[-3]] += 1
            return result
        with pytest.raises(refused):
            action()
        DONE["refused " + action.__qualname__.split(".")[-3]] += 1
        return None

    @staticmethod
    def may(role: str, name: str, m: ModelMilestone) -> bool:
        roles, states = MODEL_RULES[name]
        return role in roles and m.state in states

    def any_in(self, states) -> bool:
        """Whether some milestone is in one of `states`: rules run when they could apply (to a fitting milestone
        most of the time, to any milestone sometimes: refusals are checked too)."""
        return any(m.state in states for m in self.milestones)

    def pick(self, data, name: str) -> ModelMilestone:
        """Mostly a milestone the action could apply to (so runs get far), sometimes any milestone at all."""
        states = MODEL_RULES[name][1] if name in MODEL_RULES else (S.RELEASED,)
        candidates = [m for m in self.milestones if m.state in states]
        if candidates and data.draw(st.integers(0, 4), label="apt") > 0:
            return data.draw(st.sampled_from(candidates), label="milestone")
        return data.draw(st.sampled_from(self.milestones), label="milestone")

    def release(self, m: ModelMilestone):
        """Approval (by the client or the sweep): everything still held, the fee as quoted up front."""
        fee, net = release_quote(amount=m.amount, fee=m.fee, held=m.held)
        m.released += m.held
        self.available += net
        m.state = S.RELEASED
        m.deadline = None
        m.final_entries += 1

    @staticmethod
    def fee_on(m: ModelMilestone, value: Decimal) -> Decimal:
        """The fee on releasing part of a hold: at the hold's own rate (fee / amount)."""
        return min(platform_fee(value, percent=m.fee * 100 / m.amount), value)

    def settle(self, m: ModelMilestone, to_freelancer: Decimal, to_client: Decimal):
        """A dispute ends with the hold split in one entry (all one way, or part each way)."""
        assert to_freelancer + to_client == m.held
        self.available += to_freelancer - (self.fee_on(m, to_freelancer) if to_freelancer else ZERO)
        m.released += to_freelancer
        m.refunded += to_client
        if self.client.refund_to == "credit":
            self.credit += to_client
        m.state = S.RELEASED if to_freelancer else S.REFUNDED
        m.final_entries += 1
        m.dispute = None

    def refunded(self, m: ModelMilestone, value: Decimal, *, whole: bool):
        m.refunded += value
        if self.client.refund_to == "credit":
            self.credit += value
        if whole:
            m.state = S.REFUNDED
            m.deadline = None

    # --- rules: the contract grows ---

    @action(
        when=lambda self: len(self.milestones) < MAX_MILESTONES,
        weight=1,
        role=st.sampled_from(["client", "freelancer", "outsider"]),
        amount=amounts,
        accepted=st.booleans(),
    )
    def add_milestone(self, role, amount, accepted):
        """The client adds a milestone; the freelancer proposes one, which the client accepts or declines."""
        (new_terms,) = milestone_terms(1)
        new_terms = replace(new_terms, amount=amount)

        def act():
            return services.milestone_add(contract_id=self.contract.pk, actor=self.people[role], terms=new_terms)

        result = self.attempt(role != "outsider", act)
        if isinstance(result, MilestoneChange):
            services.milestone_change_decide(change_id=result.pk, actor=self.client, accept=accepted)
            if not accepted:
                return
        if result is not None:
            milestone = self.contract.milestones.order_by("-id").first()
            assert milestone.amount == amount and milestone.state == S.DRAFT
            self.milestones.append(ModelMilestone(milestone))

    # --- rules: money in ---

    @action(
        when=lambda self: self.any_in((S.DRAFT,)),
        role=st.sampled_from(["client"] * 6 + ["freelancer", "outsider"]),
        card=st.sampled_from(["good", "good", "good", "declined", "insufficient", "unreachable"]),
        use_credit=st.booleans(),
    )
    def fund(self, data, role, card, use_credit):
        drafts = [m for m in self.milestones if m.state == S.DRAFT]
        pool = drafts if data.draw(st.integers(0, 4), label="apt") > 0 else self.milestones
        chosen = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique_by=id), label="milestones")
        total = sum((m.amount for m in chosen), ZERO)
        credit_used = min(self.credit, total) if use_credit else ZERO
        paid = role == "client" and all(m.state == S.DRAFT for m in chosen)
        paid = paid and (card == "good" or credit_used == total)
        card_details = CardDetails(number=CARDS[card], exp_month=12, exp_year=2099, cvc="123")

        def act():
            return services.milestones_fund(
                contract_id=self.contract.pk,
                milestone_ids=[m.pk for m in chosen],
                actor=self.people[role],
                card=card_details,
                idempotency_key=next(keys),
                use_credit=use_credit,
            )

        result = self.attempt(paid, act)
        if result is not None:
            assert result.credit_used == credit_used and result.charged == total - credit_used
            self.credit -= credit_used
            for m in chosen:
                m.funded = m.amount
                m.state = S.FUNDED

    # --- rules: the work and its review ---

    @action(
        when=lambda self: self.any_in((S.FUNDED, S.CHANGES_REQUESTED)),
        role=st.sampled_from(["freelancer"] * 4 + ["client", "staff"]),
    )
    def submit(self, data, role):
        m = self.pick(data, "submit")
        allowed = self.may(role, "submit", m)

        def act():
            return services.milestone_submit(milestone_id=m.pk, actor=self.people[role], message="Done.", links=[])

        if self.attempt(allowed, act) is not None:
            m.state = S.SUBMITTED
            m.deadline = time.time() + django_settings.REVIEW_PERIOD.total_seconds()

    @action(
        when=lambda self: self.any_in((S.SUBMITTED,)), role=st.sampled_from(["client"] * 4 + ["freelancer", "staff"])
    )
    def approve(self, data, role):
        m = self.pick(data, "approve")
        allowed = self.may(role, "approve", m)
        act = lambda: services.milestone_approve(milestone_id=m.pk, actor=self.people[role])  # noqa: E731
        if self.attempt(allowed, act) is not None:
            self.release(m)

    @action(when=lambda self: self.any_in((S.SUBMITTED,)), role=st.sampled_from(["client"] * 4 + ["freelancer"]))
    def request_changes(self, data, role):
        m = self.pick(data, "request_changes")
        allowed = self.may(role, "request_changes", m) and m.rounds_used < self.revision_rounds

        def act():
            return services.milestone_request_changes(milestone_id=m.pk, actor=self.people[role], note="Fix it.")

        if self.attempt(allowed, act) is not None:
            m.state = S.CHANGES_REQUESTED
            m.rounds_used += 1
            m.deadline = None

    @action(when=lambda self: self.any_in((S.SUBMITTED,)), role=st.sampled_from(["freelancer"] * 4 + ["client"]))
    def withdraw_submission(self, data, role):
        m = self.pick(data, "withdraw_submission")
        allowed = self.may(role, "withdraw_submission", m)

        def act():
            return services.milestone_withdraw_submission(milestone_id=m.pk, actor=self.people[role])

        if self.attempt(allowed, act) is not None:
            m.state = S.FUNDED
            m.deadline = None

    @action(
        when=lambda self: self.any_in((S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED)),
        role=st.sampled_from(["client"] * 4 + ["freelancer"]),
        share=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1.00"), places=2),
    )
    def release_part(self, data, role, share):
        """The client releases part of a milestone now (less than everything: the rest stays held)."""
        m = self.pick(data, "release_part")
        value = max(Decimal("0.01"), (m.held * share).quantize(Decimal("0.01"), ROUND_DOWN))
        allowed = self.may(role, "release_part", m) and value < m.held

        def act():
            return services.milestone_release_part(milestone_id=m.pk, actor=self.people[role], amount=value)

        if self.attempt(allowed, act) is not None:
            m.released += value
            self.available += value - self.fee_on(m, value)

    # --- rules: refunds ---

    @action(
        when=lambda self: self.any_in(REFUNDABLE),
        role=st.sampled_from(["freelancer"] * 4 + ["client", "staff"]),
        share=st.one_of(st.none(), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1.00"), places=2)),
    )
    def refund(self, data, role, share):
        m = self.pick(data, "refund")
        allowed = self.may(role, "refund", m)
        value = None if share is None else max(Decimal("0.01"), (m.held * share).quantize(Decimal("0.01"), ROUND_DOWN))
        whole = value is None or value >= m.held
        amount = m.held if whole else value
        if allowed and self.client.refund_to == "card":
            # Money that came from credit goes back as credit only: the card refund may be refused then.
            try:
                services.milestone_refund(milestone_id=m.pk, actor=self.people[role], amount=value)
            except EscrowError:
                return
            self.refunded(m, amount, whole=whole)
            return
        act = lambda: services.milestone_refund(milestone_id=m.pk, actor=self.people[role], amount=value)  # noqa: E731
        if self.attempt(allowed, act) is not None:
            self.refunded(m, amount, whole=whole)

    @action(
        when=lambda self: self.any_in((S.FUNDED, S.CHANGES_REQUESTED)),
        role=st.sampled_from(["client"] * 4 + ["freelancer"]),
    )
    def request_refund(self, data, role):
        m = self.pick(data, "request_refund")
        pending = MilestoneChange.objects.filter(
            milestone_id=m.pk, kind=MilestoneChange.Kind.REFUND, status=MilestoneChange.Status.PENDING
        ).exists()
        allowed = self.may(role, "request_refund", m) and not pending
        act = lambda: services.milestone_refund_request(milestone_id=m.pk, actor=self.people[role])  # noqa: E731
        change = self.attempt(allowed, act)
        if change is not None:
            self.refund_requests[m.pk] = change.pk

    @action(
        when=lambda self: self.refund_requests,
        role=st.sampled_from(["freelancer"] * 4 + ["client"]),
        accept=st.booleans(),
    )
    def answer_refund_request(self, data, role, accept):
        pk = data.draw(st.sampled_from(sorted(self.refund_requests)))
        change_id = self.refund_requests[pk]
        m = next(m for m in self.milestones if m.pk == pk)
        change = MilestoneChange.objects.get(pk=change_id)
        allowed = role == "freelancer" and change.status == MilestoneChange.Status.PENDING
        if accept:
            allowed = allowed and m.state in REFUNDABLE
        act = lambda: services.milestone_change_decide(change_id=change_id, actor=self.people[role], accept=accept)  # noqa: E731
        if allowed and accept and self.client.refund_to == "card":
            try:
                act()
            except EscrowError:
                return
        elif self.attempt(allowed, act) is None:
            return
        del self.refund_requests[pk]
        if accept:
            self.refunded(m, m.held, whole=True)

    # --- rules: disputes and staff ---

    @action(
        when=lambda self: self.any_in(DISPUTABLE), role=st.sampled_from(["client", "freelancer", "staff", "outsider"])
    )
    def dispute(self, data, role):
        m = self.pick(data, "dispute")
        allowed = self.may(role, "dispute", m)

        def act():
            return services.milestone_dispute(milestone_id=m.pk, actor=self.people[role], note="Not as agreed.")

        if (result := self.attempt(allowed, act)) is not None:
            remaining = max(m.deadline - time.time(), 0) if m.state == S.SUBMITTED else None
            m.dispute = (result.pk, role, m.state, remaining)
            m.state = S.DISPUTED
            m.deadline = None

    @action(
        when=lambda self: self.any_in((S.DISPUTED,)),
        role=st.sampled_from(["staff"] * 4 + ["client", "freelancer"]),
        outcome=st.sampled_from(["release", "refund"]),
    )
    def resolve_dispute(self, data, role, outcome):
        m = self.pick(data, "resolve_release")
        allowed = self.may(role, f"resolve_{outcome}", m)

        def act():
            return services.milestone_resolve_dispute(
                milestone_id=m.pk, actor=self.people[role], outcome=outcome, note="Decided on the record."
            )

        split = (m.held, ZERO) if outcome == "release" else (ZERO, m.held)
        self.attempt_settlement(allowed, act, m, *split)

    def attempt_settlement(self, allowed, act, m, to_freelancer, to_client):
        """A dispute's money moves: money that came from credit goes back to a card only up to what the card
        paid, so a card refund may be refused then (and changes nothing)."""
        if allowed and to_client and self.client.refund_to == "card":
            try:
                act()
            except EscrowError:
                return
            DONE[act.__qualname__.split(".")[-3]] += 1
            self.settle(m, to_freelancer, to_client)
            return
        if self.attempt(allowed, act) is not None:
            self.settle(m, to_freelancer, to_client)

    @action(
        when=lambda self: self.any_in((S.DISPUTED,)),
        role=st.sampled_from(["staff"] * 4 + ["client"]),
        share=st.decimals(min_value=Decimal("0.00"), max_value=Decimal("1.00"), places=2),
    )
    def staff_split_a_dispute(self, data, role, share):
        """Staff decide a dispute part each way (any split of what is held), with written reasons."""
        m = data.draw(st.sampled_from([m for m in self.milestones if m.state == S.DISPUTED]), label="milestone")
        to_freelancer = (m.held * share).quantize(Decimal("0.01"), ROUND_DOWN)
        to_client = m.held - to_freelancer

        def act():
            return services.dispute_decide(
                dispute_id=m.dispute[0],
                actor=self.people[role],
                to_freelancer=to_freelancer,
                to_client=to_client,
                note="Part each way.",
            )

        self.attempt_settlement(role == "staff", act, m, to_freelancer, to_client)

    @action(
        when=lambda self: self.any_in((S.DISPUTED,)),
        proposer=st.sampled_from(["client", "freelancer"]),
        answerer=st.sampled_from(["client", "freelancer", "freelancer", "client", "staff"]),
        share=st.decimals(min_value=Decimal("0.00"), max_value=Decimal("1.00"), places=2),
        accept=st.booleans(),
    )
    def the_parties_settle(self, data, proposer, answerer, share, accept):
        """One party proposes a split of what is held; the other accepts (it executes) or declines."""
        candidates = [m for m in self.milestones if m.state == S.DISPUTED]
        m = data.draw(st.sampled_from(candidates), label="milestone")
        to_freelancer = (m.held * share).quantize(Decimal("0.01"), ROUND_DOWN)
        to_client = m.held - to_freelancer
        proposal = services.dispute_propose(
            dispute_id=m.dispute[0], actor=self.people[proposer], to_freelancer=to_freelancer, to_client=to_client
        )
        DONE["dispute_propose"] += 1
        allowed = answerer in ("client", "freelancer") and answerer != proposer

        def act():
            return services.dispute_proposal_answer(proposal_id=proposal.pk, actor=self.people[answerer], accept=accept)

        if not accept or not allowed:
            self.attempt(allowed, act)
            return
        self.attempt_settlement(allowed, act, m, to_freelancer, to_client)

    @action(
        when=lambda self: self.any_in((S.DISPUTED,)),
        role=st.sampled_from(["client", "freelancer", "staff"]),
    )
    def withdraw_the_dispute(self, data, role):
        """Only the opener withdraws; the milestone returns to where it was, and a review resumes."""
        candidates = [m for m in self.milestones if m.state == S.DISPUTED]
        m = data.draw(st.sampled_from(candidates), label="milestone")
        dispute_id, opener, previous, remaining = m.dispute
        allowed = role == opener

        def act():
            return services.dispute_withdraw(dispute_id=dispute_id, actor=self.people[role])

        if self.attempt(allowed, act) is not None:
            m.state, m.dispute = previous, None
            if previous == S.SUBMITTED:
                left = max(remaining or REVIEW_SECONDS, django_settings.DISPUTE_MIN_REVIEW_LEFT.total_seconds())
                m.deadline = time.time() + left

    @action(when=lambda self: self.any_in((S.DRAFT,)), weight=1, role=st.sampled_from(["staff", "client"]))
    def cancel(self, data, role):
        m = self.pick(data, "cancel")
        allowed = self.may(role, "cancel", m)
        act = lambda: services.milestone_cancel(milestone_id=m.pk, actor=self.people[role])  # noqa: E731
        if self.attempt(allowed, act) is not None:
            m.state = S.CANCELLED

    # --- rules: after release ---

    @action(
        when=lambda self: self.any_in((S.RELEASED,)),
        role=st.sampled_from(["client"] * 4 + ["freelancer"]),
        amount=st.decimals(min_value=Decimal("1.00"), max_value=Decimal("200.00"), places=2),
        card=st.sampled_from(["good", "good", "declined"]),
    )
    def bonus(self, data, role, amount, card):
        m = self.pick(data, "bonus")
        allowed = role == "client" and m.state == S.RELEASED and card == "good"
        card_details = CardDetails(number=CARDS[card], exp_month=12, exp_year=2099, cvc="123")

        def act():
            return services.milestone_bonus(
                milestone_id=m.pk, actor=self.people[role], amount=amount, card=card_details, idempotency_key=next(keys)
            )

        if self.attempt(allowed, act) is not None:
            self.available += amount - platform_fee(amount, self.contract.fee_percent)

    @action(
        when=lambda self: self.available > 0,
        share=st.decimals(min_value=Decimal("0.00"), max_value=Decimal("1.50"), places=2),
    )
    def withdraw(self, share):
        amount = to_money(self.available * share)
        allowed = ZERO < amount <= self.available

        def act():
            return payout_request(user=self.freelancer, amount=amount, idempotency_key=next(keys))

        if self.attempt(allowed, act, refused=EscrowError) is not None:
            self.available -= amount

    # --- rules: people who are not the ones to act ---

    @action(
        weight=1,
        role=st.sampled_from(["outsider", "staff"]),
        name=st.sampled_from([*MODEL_RULES, "bonus"]),
    )
    def someone_else_tries(self, data, role, name):
        """An outsider tries anything, staff try what only parties do: always refused, nothing changes."""
        if role == "staff" and name in policy.STAFF_ACTIONS:
            name = "approve"
        m = data.draw(st.sampled_from(self.milestones), label="milestone")
        actor = self.people[role]
        card = CardDetails(number=CARDS["good"], exp_month=12, exp_year=2099, cvc="123")
        calls = {
            "fund": lambda: services.milestones_fund(
                contract_id=self.contract.pk, milestone_ids=[m.pk], actor=actor, card=card, idempotency_key=next(keys)
            ),
            "submit": lambda: services.milestone_submit(milestone_id=m.pk, actor=actor, message="Mine.", links=[]),
            "approve": lambda: services.milestone_approve(milestone_id=m.pk, actor=actor),
            "request_changes": lambda: services.milestone_request_changes(milestone_id=m.pk, actor=actor, note="x"),
            "withdraw_submission": lambda: services.milestone_withdraw_submission(milestone_id=m.pk, actor=actor),
            "refund": lambda: services.milestone_refund(milestone_id=m.pk, actor=actor),
            "request_refund": lambda: services.milestone_refund_request(milestone_id=m.pk, actor=actor),
            "dispute": lambda: services.milestone_dispute(milestone_id=m.pk, actor=actor, note="x"),
            "cancel": lambda: services.milestone_cancel(milestone_id=m.pk, actor=actor),
            "resolve_release": lambda: services.milestone_resolve_dispute(
                milestone_id=m.pk, actor=actor, outcome="release", note="x"
            ),
            "resolve_refund": lambda: services.milestone_resolve_dispute(
                milestone_id=m.pk, actor=actor, outcome="refund", note="x"
            ),
            "release_part": lambda: services.milestone_release_part(
                milestone_id=m.pk, actor=actor, amount=Decimal("0.01")
            ),
            "bonus": lambda: services.milestone_bonus(
                milestone_id=m.pk, actor=actor, amount=Decimal("10.00"), card=card, idempotency_key=next(keys)
            ),
        }
        with pytest.raises(REFUSED):
            calls[name]()
        DONE["refused someone_else_tries"] += 1

    # --- rules: time and the platform ---

    @action(
        when=lambda self: self.any_in((S.SUBMITTED,)), hours=st.sampled_from([1, 23, 24 * 3, 24 * 7, 24 * 13, 24 * 15])
    )
    def time_passes(self, hours):
        self.now.shift(timedelta(hours=hours))

    @action(when=lambda self: self.any_in((S.SUBMITTED,)))
    def the_release_sweep_runs(self):
        released, _more = services.release_overdue()
        due = [m for m in self.milestones if m.state == S.SUBMITTED and m.deadline <= time.time()]
        assert released == len(due)
        for m in due:
            self.release(m)
        DONE["automatic release"] += len(due)

    # --- invariants, after every step ---

    @invariant()
    def the_ledger_balances_with_no_negative_balance(self):
        # The escrow audit's own checks; the rest of the audit (funded and released once, milestone checks,
        # charges and payouts recorded) runs at the end of every run, in teardown.
        violations = check_entries_balance() + check_ledger_sums_to_zero() + check_no_negative_balances()
        assert violations == []

    @invariant()
    def money_is_where_the_model_says(self):
        held = hold_balances([m.reference for m in self.milestones])
        releases = Counter(
            Entry.objects.filter(
                kind__in=[Entry.Kind.RELEASE, Entry.Kind.SETTLEMENT], hold__reference__in=held
            ).values_list("hold__reference", flat=True)
        )
        for m in self.milestones:
            assert held[m.reference] == m.held >= 0, f"milestone {m.pk}: escrow holds {held[m.reference]}"
            # Emptied at most once (one release or settlement entry), exactly when the model says so.
            assert releases[m.reference] == m.final_entries <= 1
            if m.state == S.RELEASED:
                assert m.final_entries == 1 and m.held == 0
        client_money = user_balances(self.client)
        freelancer_money = user_balances(self.freelancer)
        assert client_money["credit"] == self.credit >= 0
        assert freelancer_money["available"] == self.available >= 0
        assert freelancer_money["in_escrow_as_payee"] == sum((m.held for m in self.milestones), ZERO)

    @invariant()
    def each_party_sees_the_state_and_actions_the_machine_allows(self):
        for milestone in Milestone.objects.filter(contract=self.contract).select_related("contract"):
            m = next(m for m in self.milestones if m.pk == milestone.pk)
            assert milestone.state == m.state
            for role in ("client", "freelancer"):
                pending = m.pk in self.refund_requests
                offered = {
                    a.name
                    for a in policy.milestone_actions(
                        self.people[role], milestone, SHOWN_TO_PARTIES, pending_refund_request=pending
                    )
                }
                expected = {name for name in SHOWN_TO_PARTIES if self.may(role, name, m)}
                if m.rounds_used >= self.revision_rounds:
                    expected.discard("request_changes")
                if m.pk in self.refund_requests:
                    expected.discard("request_refund")
                assert offered == expected, (role, m.state, offered, expected)


@pytest.mark.django_db
def test_no_sequence_of_actions_moves_money_wrongly():
    """Hypothesis' state machine, inside pytest-django's database (see ContractMoneyMachine)."""
    from hypothesis.stateful import run_state_machine_as_test

    profile = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    DONE.clear()
    run_state_machine_as_test(ContractMoneyMachine, settings=profile)
    # The runs reached every kind of step, succeeding and refused (else the proof would be about little).
    succeeded = {name for name in DONE if not name.startswith("refused ")}
    expected = {"fund", "submit", "approve", "refund", "dispute", "resolve_dispute", "bonus", "withdraw"}
    assert expected <= succeeded, dict(DONE)
    assert {"refused fund", "refused someone_else_tries"} <= set(DONE), dict(DONE)
