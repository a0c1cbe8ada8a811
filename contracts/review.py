"""Submit work and the review period: submissions, the review clock, reminders and automatic release.

The automatic jobs are idempotent sweeps over the database (declared in marketplace/schedules.py):
nothing waits 14 days in the broker. Each milestone is handled in its own transaction, its row
locked with SKIP LOCKED and its state re-checked, so a sweep never blocks on (or races) a client
approving the same milestone at that moment, and running a sweep twice changes nothing.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from marketplace.models import User
from marketplace.money import format_money
from marketplace.uploads import files_removed_on_failure, validate_uploads

from .models import Milestone, Submission, SubmissionFile, submission_upload_to
from .notifications import notify_parties
from .services import milestone_approve, milestone_transition

S = Milestone.State
REMINDER_DAYS = (7, 3, 1)


def milestone_url(milestone: Milestone) -> str:
    return reverse("contracts:milestone_detail", args=[milestone.contract_id, milestone.pk])


def milestone_submit(*, milestone_id: int, actor: User, message: str, links: list[str], files=()) -> Submission:
    """The freelancer submits work: a numbered, frozen submission that starts a full review period."""
    files = list(files)
    uploads = validate_uploads(files)  # before any lock: reading large files takes a while
    if not message.strip():
        raise ValidationError("Describe what you are delivering.")
    with files_removed_on_failure() as saved, transaction.atomic():
        milestone = milestone_transition(milestone_id=milestone_id, actor=actor, name="submit")
        number = (milestone.submissions.aggregate(last=Max("number"))["last"] or 0) + 1
        submission = Submission.objects.create(
            milestone=milestone,
            number=number,
            submitted_by=actor,
            message=message.strip(),
            links=list(links),
            review_deadline=timezone.now() + settings.REVIEW_PERIOD,
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
        contract = milestone.contract
        notify_parties(
            recipients=[contract.client],
            text=f"{contract.freelancer_name} submitted work on “{milestone.title}” (submission {number}). "
            f"Review it within {settings.REVIEW_PERIOD.days} days, or it is approved and paid automatically.",
            url=milestone_url(milestone),
        )
        return submission


def milestone_request_changes(*, milestone_id: int, actor: User, note: str) -> Milestone:
    """The client asks for changes: the clock stops; the next submission starts a full new period."""
    with transaction.atomic():
        milestone = milestone_transition(milestone_id=milestone_id, actor=actor, name="request_changes", note=note)
        contract = milestone.contract
        notify_parties(
            recipients=[contract.freelancer],
            text=f"{contract.client_name} requested changes on “{milestone.title}”: {note.strip()[:300]}",
            url=milestone_url(milestone),
        )
        return milestone


def milestone_review_approve(*, milestone_id: int, actor: User | None, note: str = "") -> Milestone:
    """Approve (the client, or the sweep when actor is None) and release the payment."""
    with transaction.atomic():
        milestone = milestone_approve(milestone_id=milestone_id, actor=actor, note=note)
        contract = milestone.contract
        paid = format_money(milestone.receives)
        if actor is None:
            notify_parties(
                recipients=[contract.client, contract.freelancer],
                text=f"The review period for “{milestone.title}” ended without an answer: it was approved and "
                f"{paid} was released automatically to {contract.freelancer_name}.",
                url=milestone_url(milestone),
            )
        else:
            notify_parties(
                recipients=[contract.freelancer],
                text=f"{contract.client_name} approved “{milestone.title}”: {paid} was released to your wallet.",
                url=milestone_url(milestone),
            )
        return milestone


# --- the sweeps (contracts.tasks runs them on the beat schedule) ---


def release_overdue(*, now=None, batch_size: int = 50) -> tuple[int, bool]:
    """Approve and release submitted milestones whose review deadline has passed, in one bounded batch.

    Returns (how many were released, whether more may remain). Catches up after any downtime:
    everything overdue is found, whatever its age. A disputed milestone is never released: its
    state is no longer `submitted`.
    """
    now = now or timezone.now()
    candidates = list(
        Submission.objects.filter(
            status=Submission.Status.PENDING, review_deadline__lte=now, milestone__state=S.SUBMITTED
        )
        .order_by("review_deadline")
        .values_list("milestone_id", flat=True)[:batch_size]
    )
    released = 0
    for milestone_id in candidates:
        with transaction.atomic():
            # Skip a milestone someone else holds right now (the client approving it, another sweep).
            locked = Milestone.objects.select_for_update(skip_locked=True).filter(pk=milestone_id).first()
            if locked is None or locked.state != S.SUBMITTED:
                continue
            submission = locked.submissions.filter(status=Submission.Status.PENDING).first()
            if submission is None or submission.review_deadline > now:
                continue
            milestone_review_approve(milestone_id=milestone_id, actor=None)
            released += 1
    return released, len(candidates) == batch_size


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
                .select_related("milestone__contract")
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
            client = milestone.contract.client
            deadline = f"{timezone.localtime(submission.review_deadline, client.timezone):%b %-d, %Y %H:%M %Z}"
            notify_parties(
                recipients=[client],
                kind="reminder",
                text=f"Reminder: “{milestone.title}” is approved and paid automatically on {deadline} "
                "unless you approve it or request changes before then.",
                url=milestone_url(milestone),
            )
            sent += 1
    return sent
