"""The offer rules (PRODUCT.md "Offers and scope"), in one place for forms and services alike."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError

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


def check_milestones(milestones: list[MilestoneTerms]) -> None:
    """Count and total limits for a set of milestones (each one's own fields are checked by the form)."""
    if not milestones:
        raise ValidationError("Add at least one milestone.")
    if len(milestones) > settings.OFFER_MAX_MILESTONES:
        raise ValidationError(f"An offer can have at most {settings.OFFER_MAX_MILESTONES} milestones.")
    for terms in milestones:
        check_milestone_amount(terms.amount)
    total = sum((m.amount for m in milestones), Decimal("0"))
    if total > settings.OFFER_MAX_TOTAL:
        raise ValidationError(f"The total must not exceed {settings.OFFER_MAX_TOTAL:,}.")


def fee_breakdown(milestones, fee_percent: Decimal) -> dict:
    """Total, platform fee and what the freelancer receives, summed per milestone (fees rounded per milestone)."""
    total = sum((m.amount for m in milestones), Decimal("0.00"))
    fee = sum((platform_fee(m.amount, fee_percent) for m in milestones), Decimal("0.00"))
    return {"total": total, "fee": fee, "receives": total - fee, "fee_percent": fee_percent}
