"""Demo offers and contracts for `manage.py seed_demo`, created through the real services."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from escrow.sandbox.testing import pay
from messaging.services import message_post

from . import services
from .models import Contract, Milestone, Offer, Submission
from .rules import MilestoneTerms, OfferTerms

WEBSITE = "Company website redesign"
SHOP = "Online shop for handmade ceramics"
BRAND = "Brand identity package"


def _milestones(*rows) -> list[MilestoneTerms]:
    today = timezone.localdate()
    return [
        MilestoneTerms(
            title=title, deliverable=deliverable, due_date=today + timedelta(days=days), amount=Decimal(amount)
        )
        for title, deliverable, days, amount in rows
    ]


DEMO_REVIEW_MINUTES = 5


def _seed_review_in_progress(contract) -> None:
    """The first milestone funded (sandbox card) and submitted, its review ending a few minutes after
    `make run` starts, so a person can watch the beat schedule release it automatically."""
    first = contract.milestones.order_by("position").first()
    if first.state == Milestone.State.DRAFT:
        intent = services.milestones_fund(
            contract_id=contract.pk,
            milestone_ids=[first.pk],
            actor=contract.client,
            idempotency_key=f"demo-fund-{first.pk}",
        )
        pay(intent)  # the demo client pays on the sandbox's page
        services.milestone_submit(
            milestone_id=first.pk,
            actor=contract.freelancer,
            message="Wireframes and the visual design for all five pages are in the Figma file.",
            links=["https://www.figma.com/file/demo-wireframes"],
        )
    soon = timezone.now() + timedelta(minutes=DEMO_REVIEW_MINUTES)
    Submission.objects.filter(milestone=first, status=Submission.Status.PENDING, review_deadline__gt=soon).update(
        review_deadline=soon
    )


def seed_contracts(*, client, freelancer) -> None:
    """An active contract, and an offer waiting for the client's answer. Idempotent."""
    if not Contract.objects.filter(client=client, title=WEBSITE).exists():
        offer = services.offer_create(
            client=client,
            freelancer=freelancer,
            terms=OfferTerms(
                title=WEBSITE,
                scope="Redesign the five pages of our company website and build them in Django templates.",
                acceptance_criteria="All pages live, responsive, and scoring 90+ in Lighthouse accessibility.",
                revision_rounds=2,
            ),
            milestones=_milestones(
                ("Wireframes and visual design", "Figma file with all five pages", 7, "400.00"),
                ("Templates and styling", "Responsive templates merged into the repository", 21, "900.00"),
                ("Launch and handover", "Site deployed, handover notes", 30, "300.00"),
            ),
        )
        message_post(
            thread=offer.thread,
            sender=freelancer,
            body="Thanks for the offer! Do you have brand guidelines I should follow?",
        )
        message_post(
            thread=offer.thread,
            sender=client,
            body="Yes — here they are: https://example.com/brand-guidelines.pdf\nColours and fonts are on page 3.",
        )
        services.offer_accept(offer_id=offer.pk, actor=freelancer, revision_number=1)
    _seed_review_in_progress(Contract.objects.get(client=client, title=WEBSITE))
    _seed_every_state(client=client, freelancer=freelancer)

    if not Offer.objects.filter(client=client, revisions__title=SHOP).exists():
        rows = _milestones(
            ("Shop design", "Designs for catalogue, product and checkout pages", 10, "500.00"),
            ("Catalogue and cart", "Products, variants and a working cart", 24, "750.00"),
            ("Checkout", "Payment and order emails", 35, "450.00"),
        )
        terms = OfferTerms(
            title=SHOP,
            scope="A small online shop with a catalogue, a cart and a checkout.",
            acceptance_criteria="A customer can buy a product end to end in test mode.",
            revision_rounds=2,
        )
        offer = services.offer_create(client=client, freelancer=freelancer, terms=terms, milestones=rows)
        revised = list(rows)  # same keys: the diff shows which milestone changed
        revised[1] = replace(rows[1], amount=Decimal("900.00"))
        services.offer_propose_revision(
            offer_id=offer.pk,
            actor=freelancer,
            terms=replace(terms, message="Product variants need more work than planned; I adjusted the catalogue."),
            milestones=revised,
            seen_revision=1,
        )


def _seed_every_state(*, client, freelancer) -> None:
    """A contract with a milestone in every state a person can meet, and a pending refund request,
    so that every page can be looked at. Everything goes through the real actions."""
    if Contract.objects.filter(client=client, title=BRAND).exists():
        return
    rows = [
        ("Logo", "Logo in three variants", "released"),
        ("Colour palette", "Palette with accessibility notes", "refunded"),
        ("Typography", "Type scale and font licences", "partially refunded"),
        ("Business cards", "Print-ready business cards", "changes requested"),
        ("Letterhead", "Letterhead template", "disputed"),
        ("Social media kit", "Profile and cover images", "refund requested"),
        ("Brand guidelines", "A PDF with the rules of the brand", "draft"),
    ]
    offer = services.offer_create(
        client=client,
        freelancer=freelancer,
        terms=OfferTerms(
            title=BRAND,
            scope="A complete brand identity: logo, colours, type, print and social media assets.",
            acceptance_criteria="Every asset delivered in source and export formats.",
            revision_rounds=2,
        ),
        milestones=_milestones(*((title, what, 10 + 3 * i, "130.00") for i, (title, what, _) in enumerate(rows))),
    )
    contract = services.offer_accept(offer_id=offer.pk, actor=freelancer, revision_number=1)
    m = {row[2]: milestone for row, milestone in zip(rows, contract.milestones.order_by("position"), strict=True)}
    intent = services.milestones_fund(
        contract_id=contract.pk,
        milestone_ids=[milestone.pk for state, milestone in m.items() if state != "draft"],
        actor=client,
        idempotency_key=f"demo-fund-brand-{contract.pk}",
    )
    pay(intent)

    def submit(milestone, text="First version attached as a link."):
        services.milestone_submit(
            milestone_id=milestone.pk, actor=freelancer, message=text, links=["https://example.com/brand/preview"]
        )

    submit(m["released"])
    services.milestone_approve(milestone_id=m["released"].pk, actor=client, note="Lovely work, thank you!")
    services.milestone_refund(milestone_id=m["refunded"].pk, actor=freelancer)
    services.milestone_refund(milestone_id=m["partially refunded"].pk, actor=freelancer, amount=Decimal("30.00"))
    submit(m["changes requested"])
    services.milestone_request_changes(
        milestone_id=m["changes requested"].pk, actor=client, note="Please use the darker blue from the palette."
    )
    submit(m["disputed"])
    services.milestone_dispute(
        milestone_id=m["disputed"].pk, actor=client, note="The letterhead does not match the agreed deliverable."
    )
    services.milestone_refund_request(milestone_id=m["refund requested"].pk, actor=client)
