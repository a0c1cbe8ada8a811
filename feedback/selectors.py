"""Reads of feedback: a contract's feedback page, what a user still has to write, and freelancers' track
records (rating, number of ratings, recent public comments, completed contracts, an earnings band).

Every function runs a fixed number of queries, whatever the number of feedbacks, contracts or postings.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contracts.models import Contract, Milestone
from contracts.policy import contract_role
from escrow.selectors import earnings_by_user
from marketplace.formats import format_money_compact
from marketplace.models import User

from . import policy
from .models import CRITERIA, Feedback, FeedbackWindow, Role
from .services import window_times

RECENT_COMMENTS = 5
# (at least, label): the earnings band shown instead of the exact amount.
EARNINGS_BANDS = (Decimal("1000000"), Decimal("100000"), Decimal("10000"), Decimal("1000"), Decimal("100"))


def earnings_band(amount: Decimal) -> str:
    """ "$1K+ earned", "Under $100 earned", in the active language (amounts in settings.CURRENCY)."""
    for threshold in EARNINGS_BANDS:
        if amount >= threshold:
            return _("%(amount)s+ earned") % {"amount": format_money_compact(threshold)}
    if amount >= Decimal("0.01"):
        return _("Under %(amount)s earned") % {"amount": format_money_compact(EARNINGS_BANDS[-1])}
    return _("No earnings yet")


# --- a contract's feedback page ---


def _window_for(contract: Contract) -> FeedbackWindow:
    """The contract's window, or (before the sweep or a first feedback created it) the one it will have."""
    window = FeedbackWindow.objects.filter(contract=contract).first()
    if window is None:
        opens_at, closes_at = window_times(contract)
        window = FeedbackWindow(contract=contract, opens_at=opens_at, closes_at=closes_at)
    window.contract = contract
    return window


def contract_feedback_page(*, contract: Contract, user: User) -> dict:
    """Everything the feedback page of an ended contract shows to one of its parties (3 queries)."""
    role = contract_role(contract, user)
    if contract.is_active or contract.ended_at is None:
        return {"contract": contract, "role": role, "window": None}
    window = _window_for(contract)
    feedbacks = list(window.feedback.select_related("author")) if window.pk else []
    mine = next((f for f in feedbacks if f.role == role), None)
    theirs = next((f for f in feedbacks if f.role != role), None)
    verdict = policy.feedback_may_leave(user, window, written_roles={f.role for f in feedbacks})
    return {
        "contract": contract,
        "role": role,
        "window": window,
        "mine": mine,
        "theirs": theirs if theirs and policy.feedback_visible(user, theirs, window) else None,
        "other_has_written": theirs is not None,
        "may_leave": verdict,
        "criteria": CRITERIA[role],
        "other_name": contract.freelancer_name if role == Role.CLIENT else contract.client_name,
    }


def feedback_due(*, user: User, limit: int = 20) -> list[Contract]:
    """Ended contracts whose feedback window is open and the user has not written yet (one query)."""
    now = timezone.now()
    written = Feedback.objects.filter(window__contract=OuterRef("pk"), author=user)
    return list(
        Contract.objects.filter(Q(client=user) | Q(freelancer=user), status=Contract.Status.ENDED)
        .filter(ended_at__gt=now - settings.FEEDBACK_WINDOW)
        .exclude(feedback_window__published_at__isnull=False)
        .exclude(Exists(written))
        .annotate(closes_at=F("ended_at") + settings.FEEDBACK_WINDOW)
        .order_by("ended_at", "id")[:limit]
    )


# --- freelancers' track records ---


def with_ratings(freelancers: QuerySet[User]) -> QuerySet[User]:
    """`rating_average` and `rating_count` on each freelancer (None/None without published ratings), joined."""
    return freelancers.annotate(
        rating_average=F("freelancer_rating__average"), rating_count=F("freelancer_rating__count")
    )


def order_by_rating(freelancers: QuerySet[User]) -> QuerySet[User]:
    """Best rated first (then most rated); freelancers without ratings last, by name."""
    return with_ratings(freelancers).order_by(
        F("rating_average").desc(nulls_last=True), F("rating_count").desc(nulls_last=True), "name", "id"
    )


@dataclass
class TrackRecord:
    rating: Decimal | None = None
    ratings: int = 0
    completed: int = 0
    earned: Decimal = Decimal("0.00")
    comments: list = field(default_factory=list)

    @property
    def earnings_band(self) -> str:
        return earnings_band(self.earned)

    @property
    def stars(self) -> int:
        """The rating rounded to whole stars, for the star row."""
        return int((self.rating or 0) + Decimal("0.5"))


def _completed_contracts(user_ids) -> dict[int, int]:
    """Ended contracts in which something was paid to the freelancer, per freelancer (one query)."""
    paid = Milestone.objects.filter(contract=OuterRef("pk"), state=Milestone.State.RELEASED)
    rows = (
        Contract.objects.filter(freelancer_id__in=user_ids, status=Contract.Status.ENDED)
        .filter(Exists(paid))
        .values("freelancer_id")
        .annotate(total=Count("id"))
        .order_by()
    )
    return {row["freelancer_id"]: row["total"] for row in rows}


def track_records(freelancers) -> list[User]:
    """Set `track_record` on each freelancer of a page (from `with_ratings`): two queries for any page size."""
    freelancers = list(freelancers)
    ids = [f.pk for f in freelancers]
    completed = _completed_contracts(ids)
    earned = earnings_by_user(ids)
    for freelancer in freelancers:
        freelancer.track_record = TrackRecord(
            rating=getattr(freelancer, "rating_average", None),
            ratings=getattr(freelancer, "rating_count", None) or 0,
            completed=completed.get(freelancer.pk, 0),
            earned=earned[freelancer.pk],
        )
    return freelancers


def recent_public_comments(*, freelancer: User, limit: int = RECENT_COMMENTS) -> list[Feedback]:
    """The newest published feedback clients left on the freelancer, with its contract (one query)."""
    return list(
        Feedback.objects.filter(subject=freelancer, role=Role.CLIENT, window__published_at__isnull=False)
        .select_related("window__contract")
        .order_by("-window__published_at", "-id")[:limit]
    )


def freelancer_track_record(freelancer: User) -> TrackRecord:
    """A profile page's track record, recent comments included (three queries)."""
    record = track_records([freelancer])[0].track_record
    record.comments = recent_public_comments(freelancer=freelancer)
    return record
