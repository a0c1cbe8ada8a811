"""Demo feedback for `manage.py seed_demo`: ended contracts whose feedback is published, so profiles and the
directory show ratings. Created through the real actions; idempotent."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from contracts import services as contract_services
from contracts.models import Contract
from contracts.rules import MilestoneTerms, OfferTerms
from escrow.sandbox.testing import pay
from marketplace.models import User

from . import services
from .models import CRITERIA, Role

DEMO_ENDED = [
    # (freelancer email, title, amount, client's stars per criterion, client's comment, freelancer's comment)
    (
        "freelancer@demo.test",
        "Booking form for the dental practice",
        "1800.00",
        (5, 5, 4, 5),
        "Felix understood the booking rules on the first call and shipped a week early. Tests included.",
        "Clara answered every question the same day and reviewed each milestone quickly.",
    ),
    (
        "priya@demo.test",
        "Dashboard redesign research",
        "650.00",
        (4, 5, 4, 4),
        "Priya's interviews changed what we built. The Figma file was tidy and easy to hand over.",
        "A clear brief and fair feedback rounds.",
    ),
]


def _ended_contract(*, client: User, freelancer: User, title: str, amount: str) -> Contract:
    offer = contract_services.offer_create(
        client=client,
        freelancer=freelancer,
        terms=OfferTerms(
            title=title,
            scope=f"{title}: one milestone, delivered and reviewed.",
            acceptance_criteria="Delivered, reviewed and approved.",
            revision_rounds=1,
        ),
        milestones=[
            MilestoneTerms(
                title="The whole job",
                deliverable="Everything in the scope",
                due_date=timezone.localdate() + timedelta(days=10),
                amount=Decimal(amount),
            )
        ],
    )
    contract = contract_services.offer_accept(offer_id=offer.pk, actor=freelancer, revision_number=1)
    milestone = contract.milestones.get()
    intent = contract_services.milestones_fund(
        contract_id=contract.pk,
        milestone_ids=[milestone.pk],
        actor=client,
        idempotency_key=f"demo-fund-ended-{milestone.pk}",
    )
    pay(intent)  # the demo client pays on the sandbox's page
    contract_services.milestone_submit(
        milestone_id=milestone.pk, actor=freelancer, message="All done: see the link.", links=["https://example.com"]
    )
    contract_services.milestone_approve(milestone_id=milestone.pk, actor=client, note="Thank you!")
    return contract_services.contract_end(contract_id=contract.pk, actor=client)


def seed_feedback(*, client: User) -> None:
    for email, title, amount, stars, client_says, freelancer_says in DEMO_ENDED:
        freelancer = User.objects.filter(email=email).first()
        if freelancer is None or Contract.objects.filter(client=client, title=title).exists():
            continue
        contract = _ended_contract(client=client, freelancer=freelancer, title=title, amount=amount)
        client_scores = {key: value for (key, _, _), value in zip(CRITERIA[Role.CLIENT], stars, strict=True)}
        services.feedback_leave(contract_id=contract.pk, actor=client, scores=client_scores, comment=client_says)
        services.feedback_leave(
            contract_id=contract.pk,
            actor=freelancer,
            scores={key: 5 for key, _, _ in CRITERIA[Role.FREELANCER]},
            comment=freelancer_says,
        )
