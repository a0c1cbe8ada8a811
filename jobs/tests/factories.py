"""Jobs and proposals for tests, built through the real actions."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from contracts.rules import MilestoneTerms
from jobs import services
from jobs.models import Job, Proposal
from marketplace.tests.factories import FreelancerFactory, UserFactory


def job_terms(**overrides) -> services.JobTerms:
    values = {
        "title": "Online shop in Django",
        "description": "A small shop with a cart, checkout and an admin for products.",
        "skills": ["django", "python"],
        "budget_min": Decimal("500.00"),
        "budget_max": Decimal("1500.00"),
    }
    return services.JobTerms(**{**values, **overrides})


def plan(*amounts: str) -> list[MilestoneTerms]:
    today = timezone.localdate()
    return [
        MilestoneTerms(
            title=f"Step {i}", deliverable=f"Deliverable {i}", due_date=today + timedelta(days=7 * i), amount=Decimal(a)
        )
        for i, a in enumerate(amounts or ("300.00", "400.00"), start=1)
    ]


def make_job(*, client=None, publish=True, **overrides) -> Job:
    return services.job_create(actor=client or UserFactory(), terms=job_terms(**overrides), plan=[], publish=publish)


def make_proposal(
    *, job=None, freelancer=None, amounts=("300.00", "400.00"), cover_letter="I built five shops."
) -> Proposal:
    job = job or make_job()
    return services.proposal_create(
        actor=freelancer or FreelancerFactory(), job_id=job.pk, cover_letter=cover_letter, milestones=plan(*amounts)
    )
