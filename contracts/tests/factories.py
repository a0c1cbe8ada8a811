"""Offers and contracts for tests, built through the real services where the path matters."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from contracts import services
from contracts.models import Contract, Milestone, Offer, OfferRevision
from contracts.rules import MilestoneTerms, OfferTerms
from marketplace.money import platform_fee
from marketplace.tests.factories import FreelancerFactory, UserFactory


def terms(**overrides) -> OfferTerms:
    values = {
        "title": "Company website",
        "scope": "Design and build a five-page website.",
        "acceptance_criteria": "All pages live and approved by the client.",
        "revision_rounds": 2,
    }
    return OfferTerms(**{**values, **overrides})


def milestone_terms(count=3, amount="100.00") -> list[MilestoneTerms]:
    today = timezone.localdate()
    return [
        MilestoneTerms(
            title=f"Milestone {i}",
            deliverable=f"Deliverable {i}",
            due_date=today + timedelta(days=7 * i),
            amount=Decimal(amount),
        )
        for i in range(1, count + 1)
    ]


def make_offer(*, client=None, freelancer=None, count=3, amount="100.00") -> Offer:
    client = client or UserFactory()
    freelancer = freelancer or FreelancerFactory()
    return services.offer_create(
        client=client, freelancer=freelancer, terms=terms(), milestones=milestone_terms(count, amount)
    )


def make_contract(*, client=None, freelancer=None, count=3, amount="100.00") -> Contract:
    offer = make_offer(client=client, freelancer=freelancer, count=count, amount=amount)
    return services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)


def set_state(milestone: Milestone, state: str) -> Milestone:
    """Put a milestone in a state for a test (the field is protected against assignment)."""
    Milestone.objects.filter(pk=milestone.pk).update(state=state)
    return Milestone.objects.select_related("contract").get(pk=milestone.pk)


class ContractFactory(factory.django.DjangoModelFactory):
    """A contract created directly (for query-count tests that need many of them quickly)."""

    class Meta:
        model = Contract

    client = factory.SubFactory(UserFactory)
    freelancer = factory.SubFactory(FreelancerFactory)
    offer = factory.LazyAttribute(
        lambda o: Offer.objects.create(client=o.client, freelancer=o.freelancer, status=Offer.Status.ACCEPTED)
    )
    agreed_revision = factory.LazyAttribute(
        lambda o: OfferRevision.objects.create(
            offer=o.offer,
            number=1,
            author=o.client,
            title="Contract",
            scope="Scope",
            acceptance_criteria="Done",
            revision_rounds=2,
            fee_percent=Decimal("10.00"),
        )
    )
    client_name = factory.LazyAttribute(lambda o: o.client.name)
    freelancer_name = factory.LazyAttribute(lambda o: o.freelancer.name)
    title = factory.Sequence(lambda n: f"Contract {n}")
    scope = "Scope"
    acceptance_criteria = "Done"
    revision_rounds = 2
    fee_percent = Decimal("10.00")


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    contract = factory.SubFactory(ContractFactory)
    position = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Milestone {n}")
    deliverable = "A deliverable"
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=14))
    amount = Decimal("100.00")
    fee = factory.LazyAttribute(lambda o: platform_fee(o.amount, o.contract.fee_percent))


GOOD_CARD = "4242 4242 4242 4242"


def fund_milestones(contract: Contract, *milestones: Milestone, key: str | None = None, card: str = GOOD_CARD):
    """The client starts paying the milestones and pays on the sandbox's hosted page with `card` (the
    success card by default; `key`: the form's idempotency key, a fresh one by default). Returns escrow's
    payment intent, succeeded once the provider confirmed (the milestones are then funded)."""
    from escrow.sandbox.testing import pay
    from escrow.tests.factories import new_key

    intent = services.milestones_fund(
        contract_id=contract.pk,
        milestone_ids=[m.pk for m in milestones],
        actor=contract.client,
        idempotency_key=key or new_key(),
    )
    return pay(intent, card)


def act(*, milestone_id: int, actor, name: str, note: str = ""):
    """Take the milestone action `name` through its real action in contracts.services (tests' shorthand)."""
    if name == "submit":
        return services.milestone_submit(milestone_id=milestone_id, actor=actor, message=note or "Done", links=[])
    if name == "approve":
        return services.milestone_approve(milestone_id=milestone_id, actor=actor, note=note)
    if name == "refund":
        return services.milestone_refund(milestone_id=milestone_id, actor=actor)
    if name in ("resolve_release", "resolve_refund"):
        outcome = name.removeprefix("resolve_")
        return services.milestone_resolve_dispute(milestone_id=milestone_id, actor=actor, outcome=outcome, note=note)
    if name == "fund":
        from escrow.sandbox.testing import pay
        from escrow.tests.factories import new_key

        milestone = Milestone.objects.select_related("contract").get(pk=milestone_id)
        pay(
            services.milestones_fund(
                contract_id=milestone.contract_id, milestone_ids=[milestone_id], actor=actor, idempotency_key=new_key()
            )
        )
        return Milestone.objects.get(pk=milestone_id)
    if name in services.NOTE_ACTIONS:
        return services.NOTE_ACTIONS[name](milestone_id=milestone_id, actor=actor, note=note)
    raise ValueError(f"No action {name!r}")
