"""Milestone actions that move no money: submit work, withdraw it, request changes, dispute, cancel;
and the review-period sweeps (automatic approval, reminders).

Each action: lock the milestone row, enforce the policy for the actor, run the transition, record the
event (thread + notifications after commit). The sweeps are idempotent passes over the database, declared
in marketplace/schedules.py: nothing waits 14 days in the broker. Rows are locked with SKIP LOCKED and
re-checked, so a sweep never blocks on (or races) a client acting on the same milestone, and running a
sweep twice changes nothing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from contracts import policy
from contracts.events import EventKind
from contracts.models import Milestone, Submission, SubmissionFile, submission_upload_to
from contracts.policy import SYSTEM
from contracts.rules import check_links
from escrow.errors import EscrowError
from escrow.services import holds_release
from marketplace.models import User
from marketplace.uploads import files_removed_on_failure, validate_uploads
from messaging.services import threads_lock_available

from .record import lock_milestone, record, recording_in_bulk, refund_requests_close, run_transition

logger = logging.getLogger(__name__)

S = Milestone.State
REMINDER_DAYS = (7, 3, 1)


def milestone_submit(*, milestone_id: int, actor: User, message: str, links: list[str], files=()) -> Submission:
    """The freelancer submits work: a numbered, frozen submission that starts a full review period."""
    files = list(files)
    message = (message or "").strip()
    if not message:
        raise ValidationError("Describe what you are delivering.")
    links = check_links(list(links))
    uploads = validate_uploads(files)  # before any lock: reading large files takes a while
    with files_removed_on_failure() as saved, transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "submit").enforce()
        number = (milestone.submissions.aggregate(last=Max("number"))["last"] or 0) + 1
        deadline = timezone.now() + settings.REVIEW_PERIOD
        run_transition(milestone, actor=actor, name="submit", data={"submission": number, "review_deadline": deadline})
        submission = Submission.objects.create(
            milestone=milestone,
            number=number,
            submitted_by=actor,
            message=message,
            links=links,
            review_deadline=deadline,
        )
        for upload, file in zip(uploads, files, strict=True):
            file.seek(0)
            stored = default_storage.save(submission_upload_to(submission, upload.name), file)
            saved.append(stored)
            SubmissionFile.objects.create(
                submission=submission,
                file=stored,
                name=upload.name,
                content_type=upload.content_type,
                size=upload.size,
                sha256=upload.sha256,
            )
        return submission


def _simple_action(*, milestone_id: int, actor, name: str, note: str = "") -> Milestone:
    note = (note or "").strip()
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        verdict = policy.milestone_may(actor, milestone, name)
        verdict.enforce()
        if policy.MILESTONE_ACTIONS[name].note and not note:
            raise ValidationError("Please add a note explaining this.")
        return run_transition(milestone, actor=actor, name=name, note=note)


def milestone_request_changes(*, milestone_id: int, actor: User, note: str) -> Milestone:
    """The client asks for changes: the clock stops; the next submission starts a full new period."""
    return _simple_action(milestone_id=milestone_id, actor=actor, name="request_changes", note=note)


def milestone_withdraw_submission(*, milestone_id: int, actor: User, note: str = "") -> Milestone:
    """The freelancer takes back a submission sent by mistake, before the client acts: the clock stops."""
    return _simple_action(milestone_id=milestone_id, actor=actor, name="withdraw_submission", note=note)


def milestone_cancel(*, milestone_id: int, actor: User, note: str = "") -> Milestone:
    """Staff cancel a future milestone (parties remove one by agreement, or by ending the contract)."""
    return _simple_action(milestone_id=milestone_id, actor=actor, name="cancel", note=note)


# --- the sweeps (contracts.tasks runs them on the beat schedule) ---


def release_overdue(*, now=None, batch_size: int | None = None) -> tuple[int, bool]:
    """Approve and release submitted milestones whose review deadline has passed, in one bounded batch
    (settings.RELEASE_SWEEP_BATCH unless `batch_size` says).

    Returns (how many were released, whether more may remain). Catches up after any downtime:
    everything overdue is found, whatever its age. A disputed milestone is never released: its
    state is no longer `submitted`.

    The batch is found and locked by `_lock_due`, then released in bulk (`_release_in_bulk`): a constant
    number of statements for the whole batch, one commit. Should anything in the bulk path fail, the
    batch is rolled back and released again one milestone at a time, each in its own savepoint, so one
    bad milestone never holds back the others behind it (it would be first in every batch).
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.RELEASE_SWEEP_BATCH
    try:
        with transaction.atomic(), recording_in_bulk():
            locked, due = _lock_due(now=now, batch_size=batch_size)
            released = _release_in_bulk(due)
    except Exception:
        logger.exception("Bulk release of a batch failed; releasing it one milestone at a time")
        with transaction.atomic(), recording_in_bulk() as batch:
            locked, due = _lock_due(now=now, batch_size=batch_size)
            released = _release_one_by_one(due, batch)
    # More may remain when the batch was full, or when it left milestones whose thread another worker's
    # batch held (they are free once that batch commits). A batch in which nothing could be released ends
    # the chain: beat tries again in a minute.
    return released, released > 0 and (len(locked) == batch_size or len(due) < len(locked))


def _lock_due(*, now, batch_size: int) -> tuple[list[Milestone], list[Milestone]]:
    """(the milestones locked, those of them due for automatic approval now). Caller is in a transaction.

    One statement finds and locks the batch: the milestone rows only (`of=("self",)`), SKIP LOCKED, so a
    milestone someone holds right now (a client approving it, another worker's batch) is left to them;
    the LIMIT counts only rows this sweep locked, so sweeps on several workers take disjoint batches.
    Their threads are locked next (the free ones only), before any escrow row, as in a single approval.
    """
    locked = list(
        Milestone.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contract__offer")  # the thread, the parties: their ids are enough
        .filter(
            state=S.SUBMITTED,
            submissions__status=Submission.Status.PENDING,
            submissions__review_deadline__lte=now,
        )
        .order_by("submissions__review_deadline")[:batch_size]
    )
    # The threads next, as a single approval takes them before the escrow rows (the one lock order),
    # and only those free right now: a milestone whose thread someone holds waits for the next batch.
    threads = threads_lock_available(thread_ids=[m.contract.offer.thread_id for m in locked])
    # Read again now that the rows are locked: the join above may have seen a submission that a
    # withdrawal (and a new submission) replaced just before the lock.
    deadlines = dict(
        Submission.objects.filter(milestone__any=locked, status=Submission.Status.PENDING).values_list(
            "milestone_id", "review_deadline"
        )
    )
    due = []
    for milestone in locked:
        deadline = deadlines.get(milestone.pk)
        thread_id = milestone.contract.offer.thread_id
        if deadline is None or deadline > now or (thread_id is not None and thread_id not in threads):
            continue
        if policy.milestone_may(SYSTEM, milestone, "approve"):
            due.append(milestone)
    return locked, due


def _release_in_bulk(due: list[Milestone]) -> int:
    """Approve and release `due` (locked, policy checked) as `approve_and_release` does each, in bulk.

    Escrow releases every hold in one call (`holds_release`: one balanced entry per milestone, each with
    its unique `release:` reference, so the database still refuses a second release); a hold escrow
    refuses leaves its milestone as it was, for the next sweep. The machine runs both transitions on each
    milestone in memory (its own checks), then one UPDATE saves the states, one closes the submissions,
    and the events are recorded as one by one (`recording_in_bulk` writes them, with their thread lines,
    and notifies after commit).
    """
    from .money import released_data  # money builds on these actions, not the other way

    ready = [m for m in due if can_proceed(m.approve)]
    outcomes = holds_release(references=[m.hold_reference for m in ready], actor=None)
    now = timezone.now()
    released = []
    for milestone in ready:
        outcome = outcomes[milestone.hold_reference]
        if isinstance(outcome, EscrowError):
            logger.warning("Automatic release of milestone %s refused: %s", milestone.pk, outcome)
            continue
        milestone.approve()
        milestone.release()
        milestone.state_changed_at = now
        contract = milestone.contract
        record(
            contract=contract,
            milestone=milestone,
            actor=SYSTEM,
            kind=EventKind.APPROVE,
            from_state=S.SUBMITTED,
            to_state=S.APPROVED,
        )
        record(
            contract=contract,
            milestone=milestone,
            actor=SYSTEM,
            kind=EventKind.RELEASE,
            from_state=S.APPROVED,
            to_state=S.RELEASED,
            data=released_data(outcome),
        )
        released.append(milestone)
    if released:
        saved = Milestone.objects.filter(pk__any=released, state=S.SUBMITTED).update(
            state=S.RELEASED, state_changed_at=now
        )
        if saved != len(released):  # cannot happen under our locks; if it did, roll the money back too
            raise RuntimeError(f"{len(released) - saved} milestone(s) of the batch changed state under the lock")
        Submission.objects.filter(milestone__any=released, status=Submission.Status.PENDING).update(
            status=Submission.Status.AUTO_APPROVED, closed_at=now
        )
        refund_requests_close([m.pk for m in released])
    return len(released)


def _release_one_by_one(due: list[Milestone], batch) -> int:
    """Each milestone by the same action as a client's approval, as the system actor, in its own savepoint
    (the fallback when the bulk path failed)."""
    from .money import approve_and_release

    released = 0
    for milestone in due:
        mark = batch.mark()
        try:
            with transaction.atomic():
                approve_and_release(milestone, actor=SYSTEM)
        except (EscrowError, TransitionNotAllowed) as error:
            batch.discard_since(mark)  # its savepoint is rolled back; the next sweep tries again
            logger.warning("Automatic release of milestone %s refused: %s", milestone.pk, error)
            continue
        except Exception:
            batch.discard_since(mark)
            logger.exception("Automatic release of milestone %s failed", milestone.pk)
            continue
        released += 1
    return released


def send_review_reminders(*, now=None) -> int:
    """Remind the client 7, 3 and 1 days before automatic approval, each at most once per submission."""
    now = now or timezone.now()
    sent = 0
    pending = list(
        Submission.objects.filter(
            status=Submission.Status.PENDING,
            milestone__state=S.SUBMITTED,
            review_deadline__gt=now,
            review_deadline__lte=now + timedelta(days=max(REMINDER_DAYS)),
        ).values_list("pk", flat=True)
    )
    for submission_id in pending:
        with transaction.atomic():
            submission = (
                Submission.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("milestone__contract__offer__thread", "milestone__contract__client")
                .order_by()
                .filter(pk=submission_id, status=Submission.Status.PENDING)
                .first()
            )
            if submission is None:
                continue
            left = submission.review_deadline - now
            unsent = [
                days
                for days in REMINDER_DAYS
                if left <= timedelta(days=days) and getattr(submission, f"reminded_{days}d_at") is None
            ]
            if not unsent:
                continue
            # After downtime only the nearest reminder goes out; the earlier ones are marked as passed.
            for days in unsent:
                setattr(submission, f"reminded_{days}d_at", now)
            submission.save(update_fields=[f"reminded_{days}d_at" for days in unsent])
            milestone = submission.milestone
            record(
                contract=milestone.contract,
                milestone=milestone,
                actor=SYSTEM,
                kind=EventKind.REVIEW_REMINDER,
                data={"review_deadline": submission.review_deadline, "days": min(unsent)},
            )
            sent += 1
    return sent
