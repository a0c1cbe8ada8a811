"""Who may leave and read feedback, and when: the one place these rules live.

Verdicts are contracts.policy's (allowed, code, reason, kind); services enforce them, pages use them to
choose what to show. Double-blind: a party always sees their own feedback; the other party's, and the
public, see it only once its window is published (both wrote, or the window closed).
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contracts.policy import ALLOW, NOT_PARTY, Verdict, contract_role
from marketplace.formats import format_date

from .models import Feedback, FeedbackWindow


def party_role(window: FeedbackWindow, actor) -> str | None:
    """ "client" or "freelancer" for the contract's parties, None for anyone else (staff included)."""
    role = contract_role(window.contract, actor)
    return role if role in ("client", "freelancer") else None


def feedback_may_leave(actor, window: FeedbackWindow, *, written_roles, now=None) -> Verdict:
    """A party writes feedback once, after the contract ended and before the window closes or publishes.

    `written_roles`: the roles that have already written on this window.
    """
    now = now or timezone.now()
    role = party_role(window, actor)
    if role is None:
        return NOT_PARTY
    if window.contract.is_active:
        return Verdict(False, "contract_active", _("Feedback opens when the contract ends."), "when")
    if role in written_roles:
        return Verdict(
            False, "already_written", _("You already left feedback on this contract; it cannot be changed."), "when"
        )
    if window.is_published or now >= window.closes_at:
        ended = _("The feedback period ended on %(date)s.") % {"date": format_date(window.closes_at)}
        return Verdict(False, "window_closed", ended, "when")
    return ALLOW


def feedback_visible(viewer, feedback: Feedback, window: FeedbackWindow) -> bool:
    """Its author always; anyone else only once the window is published."""
    return window.is_published or (viewer.pk is not None and viewer.pk == feedback.author_id)


def feedback_may_read_private_note(viewer, feedback: Feedback) -> bool:
    """The private note is for the platform: its author and staff read it, never the other party."""
    return viewer.pk is not None and (viewer.pk == feedback.author_id or viewer.is_staff)
