"""Every write of feedback: open a contract's window, leave feedback, publish, and the sweep.

Lock order: the window row only (feedback never locks contracts); a freelancer's rating row after it. The
platform's scheduled work (reminders, publication at the close) acts as `contracts.policy.SYSTEM`.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import Contract
from marketplace.formats import format_datetime
from marketplace.models import User
from messaging.services import notify

from . import policy
from .models import CRITERIA, Feedback, FeedbackWindow, FreelancerRating, Role

REMINDER_DAYS = (1, 10)  # days after the window opens
COMMENT_MAX = 2000


def window_times(contract: Contract) -> tuple:
    """(opens_at, closes_at) of a contract's window: from its end, for FEEDBACK_WINDOW."""
    return contract.ended_at, contract.ended_at + settings.FEEDBACK_WINDOW


def feedback_window_open(*, contract: Contract) -> FeedbackWindow:
    """The window of an ended contract, created on first need (idempotent; safe when two callers race)."""
    if contract.is_active or contract.ended_at is None:
        raise ValidationError(_("Feedback opens when the contract ends."))
    opens_at, closes_at = window_times(contract)
    window, _created = FeedbackWindow.objects.get_or_create(
        contract=contract, defaults={"opens_at": opens_at, "closes_at": closes_at}
    )
    window.contract = contract
    return window


def _lock_window(contract_id: int) -> FeedbackWindow:
    contract = Contract.objects.select_related("client", "freelancer").get(pk=contract_id)
    window = feedback_window_open(contract=contract)
    locked = FeedbackWindow.objects.select_for_update(of=("self",)).get(pk=window.pk)
    locked.contract = contract
    return locked


def check_scores(role: str, scores: dict) -> dict[str, int]:
    """Every criterion of the role rated 1–5 (whole stars); nothing else."""
    keys = [key for key, _label, _help in CRITERIA[role]]
    if set(scores) != set(keys):
        raise ValidationError(_("Rate every criterion with 1 to 5 stars."))
    checked = {}
    for key in keys:
        value = scores[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ValidationError(_("Rate every criterion with 1 to 5 stars."))
        checked[key] = value
    return checked


def _mean(scores: dict[str, int]) -> Decimal:
    return (Decimal(sum(scores.values())) / len(scores)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def feedback_url(contract_id: int) -> str:
    return reverse("feedback:contract", args=[contract_id])


@transaction.atomic
def feedback_leave(*, contract_id: int, actor: User, scores: dict, comment: str, private_note: str = "") -> Feedback:
    """A party's feedback on an ended contract: once, within the window. The second one publishes both."""
    window = _lock_window(contract_id)
    written = set(window.feedback.values_list("role", flat=True))
    policy.feedback_may_leave(actor, window, written_roles=written).enforce()
    role = policy.party_role(window, actor)
    scores = check_scores(role, scores)
    comment = (comment or "").strip()
    private_note = (private_note or "").strip()
    if not comment:
        raise ValidationError(_("Write a public comment: a sentence or two about working together."))
    if len(comment) > COMMENT_MAX or len(private_note) > COMMENT_MAX:
        raise ValidationError(_("Comments can be at most %(max)d characters long.") % {"max": COMMENT_MAX})
    contract = window.contract
    feedback = Feedback.objects.create(
        window=window,
        role=role,
        author=actor,
        subject=contract.freelancer if role == Role.CLIENT else contract.client,
        scores=scores,
        rating=_mean(scores),
        comment=comment,
        private_note=private_note,
    )
    if len(written) + 1 == len(Role.values):
        _publish(window)
    else:
        other = contract.freelancer if role == Role.CLIENT else contract.client
        closes = timezone.localtime(window.closes_at, other.timezone)
        notify(
            user=other,
            kind="contract",
            text=f"{actor.name} left feedback on “{contract.title}”. Leave yours by {closes:%b %-d, %Y} "
            "to see it: neither of you sees the other's until both have written or the period ends.",
            url=feedback_url(contract.pk),
        )
    return feedback


def _publish(window: FeedbackWindow, now=None) -> None:
    """Make both feedbacks visible at once (caller holds the window lock) and refresh the freelancer's rating."""
    window.published_at = now or timezone.now()
    window.save(update_fields=["published_at"])
    contract = window.contract
    written = list(window.feedback.values_list("role", flat=True))
    if Role.CLIENT in written:
        freelancer_rating_refresh(user_id=contract.freelancer_id)
    if written:
        for user in (contract.client, contract.freelancer):
            notify(
                user=user,
                kind="contract",
                text=lambda: (
                    _("Feedback on “%(title)s” is now published: you can read what was written.")
                    % {"title": contract.title}
                ),
                url=feedback_url(contract.pk),
            )


def freelancer_rating_refresh(*, user_id: int) -> FreelancerRating | None:
    """Recompute a freelancer's rating from their published feedback from clients (row locked while it runs)."""
    FreelancerRating.objects.get_or_create(user_id=user_id, defaults={"average": Decimal("0"), "count": 0})
    rating = FreelancerRating.objects.select_for_update(of=("self",)).get(user_id=user_id)
    totals = Feedback.objects.filter(
        subject_id=user_id, role=Role.CLIENT, window__published_at__isnull=False
    ).aggregate(average=Avg("rating"), count=Count("id"))
    if not totals["count"]:
        rating.delete()
        return None
    rating.average = Decimal(totals["average"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    rating.count = totals["count"]
    rating.save(update_fields=["average", "count", "updated_at"])
    return rating


# --- the sweep (feedback.tasks runs it on the beat schedule) ---


def _open_missing_windows(*, batch_size: int) -> int:
    ended = list(
        Contract.objects.filter(
            status=Contract.Status.ENDED, ended_at__isnull=False, feedback_window__isnull=True
        ).order_by("ended_at", "id")[:batch_size]
    )
    for contract in ended:
        feedback_window_open(contract=contract)
    return len(ended)


def _lock_window_skip(window_id: int) -> FeedbackWindow | None:
    return (
        FeedbackWindow.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contract__client", "contract__freelancer")
        .filter(pk=window_id)
        .first()
    )


def _remind(window: FeedbackWindow, days: int, now) -> None:
    contract = window.contract
    written = set(window.feedback.values_list("role", flat=True))
    for role, user in ((Role.CLIENT, contract.client), (Role.FREELANCER, contract.freelancer)):
        if role in written:
            continue
        notify(
            user=user,
            kind="reminder",
            text=partial(_reminder_text, contract=contract, window=window, role=role),
            url=feedback_url(contract.pk),
        )


def _reminder_text(*, contract, window: FeedbackWindow, role: str) -> str:
    """In the recipient's language and timezone (messaging.services.notify renders it for them)."""
    values = {"title": contract.title, "date": format_datetime(window.closes_at, zone=True)}
    if role == Role.CLIENT:
        return (
            _(
                "Leave feedback on “%(title)s” by %(date)s. It stays hidden from the freelancer until you have both "
                "written or the period ends."
            )
            % values
        )
    return (
        _(
            "Leave feedback on “%(title)s” by %(date)s. It stays hidden from the client until you have both written "
            "or the period ends."
        )
        % values
    )


def send_feedback_reminders(*, now, batch_size: int) -> int:
    """Remind the parties who have not written, on day 1 and day 10 of the window, each once."""
    due = Q()
    for days in REMINDER_DAYS:
        due |= Q(**{f"reminded_day{days}_at__isnull": True, "opens_at__lte": now - timedelta(days=days)})
    candidates = list(
        FeedbackWindow.objects.filter(due, published_at__isnull=True, closes_at__gt=now)
        .order_by("opens_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    sent = 0
    for window_id in candidates:
        with transaction.atomic():
            window = _lock_window_skip(window_id)
            if window is None or window.is_published or window.closes_at <= now:
                continue
            unsent = [
                days
                for days in REMINDER_DAYS
                if getattr(window, f"reminded_day{days}_at") is None and window.opens_at + timedelta(days=days) <= now
            ]
            if not unsent:
                continue
            # After downtime only the latest reminder goes out; the earlier ones are marked as passed.
            for days in unsent:
                setattr(window, f"reminded_day{days}_at", now)
            window.save(update_fields=[f"reminded_day{days}_at" for days in unsent])
            _remind(window, max(unsent), now)
            sent += 1
    return sent


def publish_closed_windows(*, now, batch_size: int) -> int:
    """Publish every window whose period ended (whatever was written by then)."""
    candidates = list(
        FeedbackWindow.objects.filter(published_at__isnull=True, closes_at__lte=now)
        .order_by("closes_at")
        .values_list("pk", flat=True)[:batch_size]
    )
    published = 0
    for window_id in candidates:
        with transaction.atomic():
            window = _lock_window_skip(window_id)
            if window is None or window.is_published or window.closes_at > now:
                continue
            _publish(window, now)
            published += 1
    return published


def feedback_sweep(*, now=None, batch_size: int = 100) -> tuple[dict, bool]:
    """Open windows for newly ended contracts, send the day-1 and day-10 reminders, publish closed windows.

    Idempotent: a second run finds nothing to do. Returns (counts, whether a batch came back full).
    """
    now = now or timezone.now()
    counts = {
        "opened": _open_missing_windows(batch_size=batch_size),
        "reminded": send_feedback_reminders(now=now, batch_size=batch_size),
        "published": publish_closed_windows(now=now, batch_size=batch_size),
    }
    return counts, any(count >= batch_size for count in counts.values())
