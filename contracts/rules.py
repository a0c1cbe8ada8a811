"""The offer and milestone rules, in one place: actions enforce them, forms reuse them to show errors early."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from marketplace.money import platform_fee


@dataclass(frozen=True)
class OfferTerms:
    title: str
    scope: str
    acceptance_criteria: str
    revision_rounds: int
    message: str = ""


@dataclass(frozen=True)
class MilestoneTerms:
    title: str
    deliverable: str
    due_date: date
    amount: Decimal
    key: uuid.UUID = field(default_factory=uuid.uuid4)

    def as_payload(self) -> dict:
        return {
            "title": self.title,
            "deliverable": self.deliverable,
            "due_date": self.due_date.isoformat(),
            "amount": str(self.amount),
        }

    @classmethod
    def from_payload(cls, payload: dict) -> "MilestoneTerms":
        return cls(
            title=payload["title"],
            deliverable=payload["deliverable"],
            due_date=date.fromisoformat(payload["due_date"]),
            amount=Decimal(payload["amount"]),
        )


def check_milestone_amount(amount: Decimal) -> None:
    if amount < settings.MILESTONE_MIN_AMOUNT:
        raise ValidationError(f"The minimum amount for a milestone is {settings.MILESTONE_MIN_AMOUNT}.")
    if amount.as_tuple().exponent < -2:
        raise ValidationError("Use at most two decimal places.")


REVISION_ROUNDS_MAX = 10
TITLE_MAX = 120
LINKS_MAX = 20


def check_due_date(due_date: date) -> None:
    if due_date < timezone.localdate():
        raise ValidationError("The delivery date can’t be in the past.")


def check_milestone_terms(terms: MilestoneTerms) -> None:
    """One milestone's own fields. Actions call this, so no interface can store what a form would refuse."""
    if not terms.title.strip() or len(terms.title) > TITLE_MAX:
        raise ValidationError(f"A milestone needs a title of at most {TITLE_MAX} characters.")
    if not terms.deliverable.strip():
        raise ValidationError("Describe the milestone's deliverable.")
    check_due_date(terms.due_date)
    check_milestone_amount(terms.amount)


def check_offer_terms(terms: OfferTerms) -> None:
    if not terms.title.strip() or len(terms.title) > TITLE_MAX:
        raise ValidationError(f"An offer needs a title of at most {TITLE_MAX} characters.")
    if not terms.scope.strip() or not terms.acceptance_criteria.strip():
        raise ValidationError("Describe the scope of work and what success looks like.")
    if not 0 <= terms.revision_rounds <= REVISION_ROUNDS_MAX:
        raise ValidationError(f"Revision rounds must be between 0 and {REVISION_ROUNDS_MAX}.")


_http_link = URLValidator(schemes=["http", "https"])


def check_links(links: list[str]) -> list[str]:
    """Submission links: http(s) only (never `javascript:`), at most LINKS_MAX. Returns them stripped."""
    cleaned = [link.strip() for link in links if link and link.strip()]
    if len(cleaned) > LINKS_MAX:
        raise ValidationError(f"Add at most {LINKS_MAX} links.")
    for link in cleaned:
        try:
            _http_link(link)
        except ValidationError:
            raise ValidationError(f"“{link[:80]}” is not a valid http(s) link.") from None
    return cleaned


def check_milestones(milestones: list[MilestoneTerms]) -> None:
    """Count and total limits for a set of milestones, and each one's own fields."""
    if not milestones:
        raise ValidationError("Add at least one milestone.")
    if len(milestones) > settings.OFFER_MAX_MILESTONES:
        raise ValidationError(f"An offer can have at most {settings.OFFER_MAX_MILESTONES} milestones.")
    for terms in milestones:
        check_milestone_terms(terms)
    total = sum((m.amount for m in milestones), Decimal("0"))
    if total > settings.OFFER_MAX_TOTAL:
        raise ValidationError(f"The total must not exceed {settings.OFFER_MAX_TOTAL:,}.")


def fee_breakdown(milestones, fee_percent: Decimal) -> dict:
    """Total, platform fee and what the freelancer receives, summed per milestone (fees rounded per milestone)."""
    total = sum((m.amount for m in milestones), Decimal("0.00"))
    fee = sum((platform_fee(m.amount, fee_percent) for m in milestones), Decimal("0.00"))
    return {"total": total, "fee": fee, "receives": total - fee, "fee_percent": fee_percent}
