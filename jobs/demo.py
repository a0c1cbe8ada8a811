"""Demo jobs for `manage.py seed_demo`, created through the real actions: open jobs with proposals, an
invitation waiting for the demo freelancer, an invite-only job and a draft. Idempotent: a job the demo client
already has (by title) is left as it is."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from contracts.rules import MilestoneTerms
from marketplace.models import User

from . import services
from .models import Job

CHECKOUT = "Checkout redesign for our Django shop"


def _plan(*rows) -> list[MilestoneTerms]:
    today = timezone.localdate()
    return [
        MilestoneTerms(title=t, deliverable=d, due_date=today + timedelta(days=days), amount=Decimal(a))
        for t, d, days, a in rows
    ]


JOBS = [
    {
        "terms": services.JobTerms(
            title=CHECKOUT,
            description="Our ceramics shop runs on Django. Checkout has four steps and people drop out on the "
            "second. We want one page: address, shipping and payment, with clear errors, on phones first.",
            skills=["django", "python", "ux design"],
            budget_min=Decimal("1500.00"),
            budget_max=Decimal("3000.00"),
        ),
        "plan": _plan(
            ("Flow and wireframes", "The one-page checkout in wireframes, reviewed with you", 7, "500.00"),
            ("Build and ship", "The new checkout live, with tests", 21, "1500.00"),
        ),
        "proposals": [
            (
                "freelancer@demo.test",
                "I rebuilt the checkout of two Django shops last year; both lost fewer buyers afterwards. I'd start "
                "from your analytics, then ship behind a flag so we can compare.",
                _plan(
                    ("Audit and wireframes", "Where people drop out, and the new flow", 5, "450.00"),
                    ("One-page checkout", "Built, tested and behind a feature flag", 18, "1400.00"),
                    ("Rollout", "Switched on for everyone after a week of comparison", 28, "350.00"),
                ),
            ),
            (
                "priya@demo.test",
                "I design checkouts people finish. I'd do the research and the Figma flow; your developer or "
                "mine builds it.",
                _plan(
                    ("Research", "Five customer interviews and a drop-out analysis", 7, "600.00"),
                    ("Figma flow", "The checkout for phone and desktop, ready to build", 14, "900.00"),
                ),
            ),
        ],
        "invite": [],
    },
    {
        "terms": services.JobTerms(
            title="Quarterly sales forecast",
            description="Forecast next quarter's sales per product line from three years of order data (CSV), "
            "with a one-page summary for the owners.",
            skills=["python", "pandas", "statistics"],
            budget_min=Decimal("900.00"),
            budget_max=Decimal("900.00"),
        ),
        "plan": [],
        "proposals": [
            (
                "lena@demo.test",
                "Forecasting is most of what I do. You get a notebook you can re-run and a summary in plain words.",
                _plan(("Forecast and summary", "The notebook, the forecast and a one-page summary", 12, "900.00")),
            ),
        ],
        "invite": ["freelancer@demo.test"],
    },
    {
        "terms": services.JobTerms(
            title="Launch emails in English and Italian",
            description="Five emails for our spring launch, in English and Italian, in our voice.",
            skills=["copywriting", "translation"],
            budget_min=Decimal("400.00"),
            budget_max=Decimal("700.00"),
            visibility=Job.Visibility.INVITE_ONLY,
        ),
        "plan": [],
        "proposals": [],
        "invite": ["marco@demo.test"],
    },
]

DRAFT = services.JobTerms(
    title="Mobile app prototype",
    description="A clickable prototype of a booking app for our studio (draft: still writing this).",
    skills=["flutter"],
    budget_min=Decimal("2000.00"),
    budget_max=Decimal("4000.00"),
)


def seed_jobs(*, client: User) -> None:
    existing = set(Job.objects.filter(client=client).values_list("title", flat=True))
    for spec in JOBS:
        if spec["terms"].title in existing:
            continue
        job = services.job_create(actor=client, terms=spec["terms"], plan=spec["plan"], publish=True)
        for email in spec["invite"]:
            services.invitation_create(actor=client, job_id=job.pk, freelancer=User.objects.get(email=email))
        for email, letter, plan in spec["proposals"]:
            freelancer = User.objects.get(email=email)
            services.proposal_create(actor=freelancer, job_id=job.pk, cover_letter=letter, milestones=plan)
    if DRAFT.title not in existing:
        services.job_create(actor=client, terms=DRAFT, plan=[], publish=False)
