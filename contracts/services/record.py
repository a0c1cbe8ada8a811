"""The audit trail and the record in the parties' thread: every change is written to both, and the
people its kind names are notified (contracts.events.SPECS). Callers hold their locks; side effects
(emails) leave after commit through messaging.
"""

import contextvars
import json
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max
from django.utils import timezone, translation
from django_fsm import TransitionNotAllowed, can_proceed

from contracts.emails import event_email, offer_email
from contracts.events import (
    SPECS,
    EventKind,
    event_link,
    event_links,
    event_recipient_ids,
    event_recipients,
    event_text,
    notification_text,
)
from contracts.models import Contract, ContractEvent, Milestone, MilestoneChange, Offer, Submission
from contracts.notifications import notify_parties
from contracts.policy import SYSTEM, action_says
from marketplace.bulk import insert_objects
from marketplace.i18n import recipient_locale
from marketplace.models import User
from messaging.models import Notification
from messaging.services import EventLine, NotificationItem, event_post, events_post, notify_many, thread_set_notice

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


class BulkRecord:
    """The events recorded inside `recording_in_bulk()`, written together when the block ends."""

    def __init__(self):
        self.events: list[ContractEvent] = []

    def mark(self) -> int:
        return len(self.events)

    def discard_since(self, mark: int) -> None:
        """Drop what was recorded after `mark` (its savepoint rolled its other writes back)."""
        del self.events[mark:]

    def flush(self) -> list[ContractEvent]:
        events, self.events = self.events, []
        _events_insert(events)
        in_thread = [
            event
            for event in events
            if SPECS[EventKind(event.kind)].in_thread and event.contract.offer.thread_id is not None
        ]
        with translation.override(settings.LANGUAGE_CODE):  # as `thread_line`, once for the whole batch
            lines = [
                EventLine(
                    thread_id=event.contract.offer.thread_id, text=event_text(event), actor=event.actor, link_url=link
                )
                for event, link in zip(in_thread, event_links(in_thread), strict=True)
            ]
        events_post(lines=lines)
        to_notify = [event.pk for event in events if event_recipient_ids(event)]
        if to_notify:
            from contracts.tasks import notify_events  # tasks import the services

            notify_events.delay_on_commit(to_notify)
        return events


EVENT_FIELDS = (
    "contract_id",
    "milestone_id",
    "actor_id",
    "kind",
    "from_state",
    "to_state",
    "note",
    "data",
    "created_at",
)


def _events_insert(events: list[ContractEvent]) -> None:
    """Save a batch's events in one INSERT (marketplace.bulk): each event object gets its id and time."""
    now = timezone.now()
    for event in events:
        event.created_at = now
    insert_objects(events, EVENT_FIELDS)


_bulk: contextvars.ContextVar[BulkRecord | None] = contextvars.ContextVar("contracts_bulk_record", default=None)


@contextmanager
def recording_in_bulk():
    """Inside (a sweep's batch, in its transaction), `record` collects the events instead of writing each.

    When the block ends without an error they are written at once: one INSERT for the events, one for
    their thread lines (`messaging.services.events_post`), and their notifications are sent after commit
    by a task (`notify_events`), off the sweep's path. Callers that roll one item back (a savepoint)
    drop its events with `discard_since(mark)`. On an error nothing is written.
    """
    batch = BulkRecord()
    token = _bulk.set(batch)
    try:
        yield batch
    finally:
        _bulk.reset(token)
    batch.flush()


def events_notify(*, event_ids: list[int]) -> int:
    """Notify whom each event's kind names (the sweep's events, after commit). Safe to run twice: a
    recipient who already has this notification is skipped."""
    events = list(
        ContractEvent.objects.filter(pk__in=event_ids)
        .select_related("contract__client", "contract__freelancer", "milestone", "actor")
        .order_by("pk")
    )
    if not events:
        return 0
    links = event_links(events)
    since = min(event.created_at for event in events)
    sent_before = set(
        Notification.objects.filter(url__in=links, created_at__gte=since).values_list("user_id", "url", "text")
    )
    items = []
    max_length = Notification._meta.get_field("text").max_length
    for event, link in zip(events, links, strict=True):
        kind = SPECS[EventKind(event.kind)].category
        for user in event_recipients(event):
            with recipient_locale(user):  # the text as this recipient's notification says it
                text = " ".join(notification_text(event).split())[:max_length]
            if (user.pk, link, text) not in sent_before:
                items.append(NotificationItem(user=user, kind=kind, text=text, url=link, mail=event_email(event, user)))
    notify_many(items=items)  # one email per recipient for the whole batch, as one action
    return len(items)


def thread_line(event) -> str:
    """The event's line in the parties' thread. Both parties read the same stored line, whatever language
    each reads the site in: it is written in the site's default language (the activity list and the
    notifications are rendered in each reader's own)."""
    with translation.override(settings.LANGUAGE_CODE):
        return event_text(event)


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
    event = ContractEvent(
        contract=contract,
        milestone=milestone,
        actor=as_user(actor),
        kind=EventKind(kind).value,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data,
    )
    batch = _bulk.get()
    if batch is not None:
        batch.events.append(event)  # written, posted and notified when the batch ends
        return event
    event.save()
    spec = SPECS[EventKind(kind)]
    link = event_link(event)
    thread = contract.offer.thread
    if spec.in_thread and thread is not None:
        event_post(thread=thread, text=thread_line(event), actor=as_user(actor), link_url=link)
    recipients = event_recipients(event)
    if recipients:
        # Rendered for each recipient in their own language and timezone (messaging.services.notify).
        notify_parties(
            recipients=recipients,
            text=lambda: notification_text(event),
            url=link,
            kind=spec.category,
            mail=partial(event_email, event),
        )
    return event


def offer_event(
    offer: Offer, actor: User, text: str, link_url: str = "", *, step: str, title: str, note: str = ""
) -> None:
    """A step of the negotiation (before there is a contract): into the thread (with the actor's note), and
    to the other party; the email names the `step` and quotes the note (contracts.emails.offer_email)."""
    link_url = link_url or offer.get_absolute_url()
    line = f"{text} {note}".strip() if note else text
    if offer.thread is not None:
        event_post(thread=offer.thread, text=line, actor=actor, link_url=link_url)
    others = [user for user in (offer.client, offer.freelancer) if user.pk != actor.pk]
    notify_parties(
        recipients=others,
        text=line,
        url=link_url,
        mail=lambda user: offer_email(step=step, title=title, text=text, actor=actor, note=note),
    )


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
    if not can_proceed(milestone.refund, check_conditions=False):  # a refund request applies while one could run
        refund_requests_close([milestone.pk])
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
    if {from_state, milestone.state} & NOTICE_STATES:  # only these change what the notice says
        refresh_notice(milestone.contract)
    return milestone


def refund_requests_close(milestone_ids: list[int]) -> None:
    """Mark the pending refund requests of these milestones obsolete (caller holds the milestones' locks): once a
    milestone can no longer be refunded (released, refunded, disputed, cancelled), the dispute or the payment
    decided instead."""
    MilestoneChange.objects.filter(
        milestone_id__any=milestone_ids, kind=MilestoneChange.Kind.REFUND, status=MilestoneChange.Status.PENDING
    ).update(status=MilestoneChange.Status.OBSOLETE, decided_at=timezone.now())


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


NOTICE_STATES = {Milestone.State.FUNDED, Milestone.State.CHANGES_REQUESTED}


def refresh_notice(contract: Contract) -> None:
    """While a milestone is funded, the message box says that only Submit work starts a review."""
    thread = contract.offer.thread
    if thread is None:
        return
    funded = contract.milestones.filter(state__in=NOTICE_STATES)
    notice = FUNDED_NOTICE if funded.exists() else ""
    if thread.notice != notice:
        thread_set_notice(thread=thread, text=notice)


def next_position(contract: Contract) -> int:
    return (contract.milestones.aggregate(last=Max("position"))["last"] or 0) + 1
