"""The audit trail and the record in the parties' thread: every change is written to both, and the
people its kind names are notified (contracts.events.SPECS). Callers hold their locks; side effects
(emails) leave after commit through messaging.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from contracts.events import SPECS, EventKind, event_link, event_recipients, event_text, notification_text
from contracts.models import Contract, ContractEvent, Milestone, Offer, Submission
from contracts.notifications import notify_parties
from contracts.policy import SYSTEM, action_says
from marketplace.models import User
from messaging.services import event_post, thread_set_notice

# --- the one lock order of the contracts domain ------------------------------------------------------
# contract row -> milestone rows (by position, id) -> change, dispute and proposal rows -> escrow rows
# (hold, charge, then accounts) -> the messaging thread. Every select_for_update names `of=("self",)`, so
# a query that joins another table (milestones' default ordering joins the contract) never locks its rows.


def lock_contract(contract_id: int) -> Contract:
    return Contract.objects.select_for_update(of=("self",)).get(pk=contract_id)


def lock_milestone(milestone_id: int) -> Milestone:
    """Lock the milestone row (only that row) and read its contract in the same statement."""
    return Milestone.objects.select_for_update(of=("self",)).select_related("contract").get(pk=milestone_id)


def as_user(actor) -> User | None:
    """The user recorded as having acted: None when the platform itself acted."""
    return None if actor is SYSTEM else actor


def record(
    *,
    contract: Contract,
    kind: EventKind,
    actor,
    milestone: Milestone | None = None,
    from_state: str = "",
    to_state: str = "",
    note: str = "",
    data: dict | None = None,
) -> ContractEvent:
    """Write the audit row, post it into the parties' thread and notify whom its kind names."""
    # Stored as JSON (Decimals and datetimes as strings); the object in hand reads the same as a fetched one.
    data = json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder))
    event = ContractEvent.objects.create(
        contract=contract,
        milestone=milestone,
        actor=as_user(actor),
        kind=EventKind(kind).value,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data,
    )
    spec = SPECS[EventKind(kind)]
    link = event_link(event)
    thread = contract.offer.thread
    if spec.in_thread and thread is not None:
        event_post(thread=thread, text=event_text(event), actor=as_user(actor), link_url=link)
    recipients = event_recipients(event)
    if recipients:
        notify_parties(recipients=recipients, text=notification_text(event), url=link, kind=spec.category)
    return event


def offer_event(offer: Offer, actor: User, text: str, link_url: str = "") -> None:
    """A step of the negotiation (before there is a contract): into the thread, and to the other party."""
    link_url = link_url or offer.get_absolute_url()
    if offer.thread is not None:
        event_post(thread=offer.thread, text=text, actor=actor, link_url=link_url)
    others = [user for user in (offer.client, offer.freelancer) if user.pk != actor.pk]
    notify_parties(recipients=others, text=text, url=link_url)


# --- running a transition ----------------------------------------------------------------------------

# What happens to the submission under review when the milestone leaves `submitted`.
SUBMISSION_OUTCOME = {
    Milestone.State.FUNDED: Submission.Status.WITHDRAWN,
    Milestone.State.CHANGES_REQUESTED: Submission.Status.CHANGES_REQUESTED,
    Milestone.State.APPROVED: Submission.Status.APPROVED,
    Milestone.State.REFUNDED: Submission.Status.CLOSED,
    Milestone.State.DISPUTED: Submission.Status.CLOSED,
}


def run_transition(milestone: Milestone, *, actor, name: str, note: str = "", data: dict | None = None, **kwargs):
    """Run transition `name`, save, close the submission it ends, record the event.

    Precondition: the caller holds the milestone's row lock and has enforced the policy for `actor`.
    The machine's own state and conditions are checked again here, as a last guard.
    """
    method = getattr(milestone, name)
    if not can_proceed(method):  # (a transition whose target is its return value is checked here too)
        state = milestone.get_state_display().lower()
        raise TransitionNotAllowed(f"This milestone is {state}: you can't {action_says(name)} now.")
    from_state = milestone.state
    method(**kwargs)
    milestone.state_changed_at = timezone.now()
    milestone.save()
    if from_state == Milestone.State.SUBMITTED:
        _close_submission(milestone, automatic=actor is SYSTEM)
    record(
        contract=milestone.contract,
        milestone=milestone,
        actor=actor,
        kind=EventKind(name),
        from_state=from_state,
        to_state=milestone.state,
        note=note,
        data=data,
    )
    refresh_notice(milestone.contract)
    return milestone


def _close_submission(milestone: Milestone, *, automatic: bool) -> None:
    """Stop the review clock: the submission is answered, withdrawn or overtaken (caller holds the lock)."""
    status = SUBMISSION_OUTCOME[milestone.state]
    if status == Submission.Status.APPROVED and automatic:
        status = Submission.Status.AUTO_APPROVED
    changes = {"status": status, "closed_at": timezone.now()}
    if status == Submission.Status.WITHDRAWN:
        changes["review_deadline"] = None  # withdrawn: the deadline is cleared
    milestone.submissions.filter(status=Submission.Status.PENDING).update(**changes)


FUNDED_NOTICE = (
    "Delivering work through messages does not start the review period — use “Submit work” on the milestone."
)


def refresh_notice(contract: Contract) -> None:
    """While a milestone is funded, the message box says that only Submit work starts a review."""
    thread = contract.offer.thread
    if thread is None:
        return
    funded = contract.milestones.filter(state__in=[Milestone.State.FUNDED, Milestone.State.CHANGES_REQUESTED])
    notice = FUNDED_NOTICE if funded.exists() else ""
    if thread.notice != notice:
        thread_set_notice(thread=thread, text=notice)


def next_position(contract: Contract) -> int:
    return (contract.milestones.aggregate(last=Max("position"))["last"] or 0) + 1
