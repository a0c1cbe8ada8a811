"""Quiet contracts and overdue milestones: the platform notices silence and asks the parties.

- A contract with nothing in escrow and no activity for QUIET_CONTRACT_ASK_AFTER asks both parties whether to
  end it (a CONTRACT_QUIET event; its notification links to a page with "End the contract" / "Keep it open").
  "Keep it open" is itself activity. If nothing happens until QUIET_CONTRACT_END_AFTER (and at least the
  difference since the question), the platform ends the contract as SYSTEM through `contract_end`, which opens
  the feedback window.
- A funded milestone with no submission OVERDUE_MILESTONE_PROMPT_AFTER past its estimated delivery date (and
  funded at least that long) prompts both parties once: the freelancer to submit or refund, the client to
  message or open a dispute.

Activity is the newest of: the contract's start, any contract event except the platform's own prompts
(contracts.events.PROMPT_KINDS), and any message a person wrote in the thread. Everything the sweep did is a
recorded contract event, which is what makes a second run do nothing. The sweep (contracts.tasks) is declared
in marketplace/schedules.py; each contract or milestone is handled in its own transaction, locked with SKIP
LOCKED and re-checked against contracts.policy.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from contracts import policy
from contracts.events import PROMPT_KINDS, EventKind
from contracts.models import Contract, ContractEvent, Milestone
from contracts.policy import SYSTEM
from marketplace.models import User
from messaging.models import Message

from .record import lock_contract, record

S = Milestone.State


def _latest(queryset, order: str = "-created_at"):
    return Subquery(queryset.order_by(order).values("created_at")[:1])


def with_quiet_facts(contracts):
    """Annotate `last_activity`, `asked_at` (the latest "end this quiet contract?") and `open_money`."""
    events = ContractEvent.objects.filter(contract=OuterRef("pk"))
    messages = Message.objects.filter(thread=OuterRef("offer__thread"), kind=Message.Kind.MESSAGE)
    return contracts.annotate(
        last_activity=Greatest(
            "created_at",
            Coalesce(_latest(events.exclude(kind__in=PROMPT_KINDS)), "created_at"),
            Coalesce(_latest(messages, "-id"), "created_at"),  # the newest message: by the (thread, id) index
        ),
        asked_at=_latest(events.filter(kind=EventKind.CONTRACT_QUIET)),
        open_money=Exists(Milestone.objects.filter(contract=OuterRef("pk"), state__in=Milestone.OPEN_MONEY_STATES)),
    )


def quiet_facts(contract: Contract, *, now=None) -> dict:
    """{"last_activity", "asked_at", "now"} for contracts.policy (one query)."""
    row = with_quiet_facts(Contract.objects.filter(pk=contract.pk)).values("last_activity", "asked_at").get()
    return {**row, "now": now or timezone.now()}


def quiet_question_pending(contract: Contract) -> bool:
    """Were both parties asked whether to end the contract, with nothing happening since?"""
    facts = quiet_facts(contract)
    return contract.is_active and facts["asked_at"] is not None and facts["asked_at"] >= facts["last_activity"]


@transaction.atomic
def contract_keep_open(*, contract_id: int, actor: User) -> Contract:
    """A party answers "keep it open": recorded (and so activity), the other party is told."""
    contract = lock_contract(contract_id)
    policy.contract_may_keep_open(actor, contract, asked=quiet_question_pending(contract)).enforce()
    record(contract=contract, actor=actor, kind=EventKind.CONTRACT_KEPT_OPEN)
    return contract


# --- the sweep ---


def _ask(contract_id: int, now) -> bool:
    with transaction.atomic():
        contract = (
            Contract.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("offer__thread", "client", "freelancer")
            .filter(pk=contract_id)
            .first()
        )
        if contract is None:
            return False
        facts = quiet_facts(contract, now=now)
        open_money = contract.milestones.filter(state__in=Milestone.OPEN_MONEY_STATES).count()
        if not policy.contract_may_ask_quiet(SYSTEM, contract, open_money=open_money, quiet=facts):
            return False
        notice = settings.QUIET_CONTRACT_END_AFTER - settings.QUIET_CONTRACT_ASK_AFTER
        ends_at = max(facts["last_activity"] + settings.QUIET_CONTRACT_END_AFTER, now + notice)
        record(
            contract=contract,
            actor=SYSTEM,
            kind=EventKind.CONTRACT_QUIET,
            data={"quiet_since": facts["last_activity"], "ends_at": ends_at},
        )
        return True


def _end(contract_id: int) -> bool:
    from .changes import contract_end  # contract_end asks this module for the quiet facts

    try:
        contract_end(contract_id=contract_id, actor=SYSTEM)
    except (PermissionDenied, TransitionNotAllowed, ValidationError):
        return False  # something happened since the candidates were read: the policy said no
    return True


def _prompt_overdue(milestone_id: int, now) -> bool:
    with transaction.atomic():
        milestone = (
            Milestone.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("contract")
            .order_by()
            .filter(pk=milestone_id)
            .first()
        )
        if milestone is None or not milestone_is_overdue(milestone, now=now):
            return False
        if milestone.events.filter(kind=EventKind.OVERDUE_FREELANCER).exists():
            return False
        data = {"due_date": milestone.due_date}
        for kind in (EventKind.OVERDUE_FREELANCER, EventKind.OVERDUE_CLIENT):
            record(contract=milestone.contract, milestone=milestone, actor=SYSTEM, kind=kind, data=data)
        return True


def milestone_is_overdue(milestone: Milestone, *, now) -> bool:
    """Funded, nothing submitted, OVERDUE_MILESTONE_PROMPT_AFTER past its delivery date and funded that long."""
    after = settings.OVERDUE_MILESTONE_PROMPT_AFTER
    return (
        milestone.state == S.FUNDED
        and milestone.contract.is_active
        and milestone.due_date <= timezone.localdate(now) - after
        and (milestone.state_changed_at is None or milestone.state_changed_at <= now - after)
    )


def quiet_contracts_sweep(*, now=None, batch_size: int = 50) -> tuple[dict, bool]:
    """Ask about quiet contracts, end those still quiet, prompt about overdue funded milestones.

    Returns ({"asked", "ended", "prompted"}, whether a batch of candidates came back full).
    """
    now = now or timezone.now()
    ask_after, end_after = settings.QUIET_CONTRACT_ASK_AFTER, settings.QUIET_CONTRACT_END_AFTER
    quiet = with_quiet_facts(Contract.objects.filter(status=Contract.Status.ACTIVE)).filter(open_money=False)
    to_ask = list(
        quiet.filter(last_activity__lte=now - ask_after)
        .filter(Q(asked_at__isnull=True) | Q(asked_at__lt=F("last_activity")))
        .order_by("last_activity", "id")
        .values_list("pk", flat=True)[:batch_size]
    )
    to_end = list(
        quiet.filter(last_activity__lte=now - end_after, asked_at__gte=F("last_activity"))
        .filter(asked_at__lte=now - (end_after - ask_after))
        .order_by("last_activity", "id")
        .values_list("pk", flat=True)[:batch_size]
    )
    after = settings.OVERDUE_MILESTONE_PROMPT_AFTER
    prompted = ContractEvent.objects.filter(milestone=OuterRef("pk"), kind=EventKind.OVERDUE_FREELANCER)
    overdue = list(
        Milestone.objects.filter(
            state=S.FUNDED, contract__status=Contract.Status.ACTIVE, due_date__lte=timezone.localdate(now) - after
        )
        .filter(Q(state_changed_at__isnull=True) | Q(state_changed_at__lte=now - after))
        .exclude(Exists(prompted))
        .order_by("due_date", "id")
        .values_list("pk", flat=True)[:batch_size]
    )
    counts = {
        "asked": sum(_ask(pk, now) for pk in to_ask),
        "ended": sum(_end(pk) for pk in to_end),
        "prompted": sum(_prompt_overdue(pk, now) for pk in overdue),
    }
    more = any(len(ids) == batch_size for ids in (to_ask, to_end, overdue))
    return counts, more
