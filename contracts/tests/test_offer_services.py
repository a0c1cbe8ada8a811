from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings

from contracts import services
from contracts.models import Contract, Milestone, Offer
from contracts.tests.factories import make_offer, milestone_terms, terms
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_offer_create_keeps_terms_and_milestones_as_revision_one(client_user, freelancer):
    offer = services.offer_create(
        client=client_user, freelancer=freelancer, terms=terms(), milestones=milestone_terms(3)
    )

    revision = offer.revisions.get()
    assert offer.status == Offer.Status.PENDING
    assert revision.number == 1 and revision.author == client_user
    assert revision.fee_percent == Decimal("10.00")
    assert [m.position for m in revision.milestones.all()] == [1, 2, 3]


def test_no_offer_to_yourself(freelancer):
    with pytest.raises(ValidationError, match="yourself"):
        services.offer_create(client=freelancer, freelancer=freelancer, terms=terms(), milestones=milestone_terms(1))
    assert Offer.objects.count() == 0


def test_no_offer_to_someone_not_working(client_user):
    hirer = UserFactory(wants_to_work=False)

    with pytest.raises(ValidationError, match="not available"):
        services.offer_create(client=client_user, freelancer=hirer, terms=terms(), milestones=milestone_terms(1))


@pytest.mark.parametrize(
    ("milestones", "message"),
    [
        ([], "at least one milestone"),
        (milestone_terms(51), "at most 50 milestones"),
        (milestone_terms(1, "4.99"), "minimum amount"),
        (milestone_terms(1, "5.001"), "two decimal places"),
        (milestone_terms(2, "600000.00"), "must not exceed"),
    ],
)
def test_offer_rules_are_enforced_by_the_service(client_user, freelancer, milestones, message):
    with pytest.raises(ValidationError, match=message):
        services.offer_create(client=client_user, freelancer=freelancer, terms=terms(), milestones=milestones)
    assert Offer.objects.count() == 0  # nothing half-created


def test_freelancer_proposes_changes_then_client_counters_then_freelancer_accepts():
    offer = make_offer()
    first = offer.revisions.get()
    changed = milestone_terms(3)
    changed[1] = replace(changed[1], amount=Decimal("150.00"), key=first.milestones.all()[1].key)

    second = services.offer_propose_revision(
        offer_id=offer.pk, actor=offer.freelancer, terms=terms(), milestones=changed, seen_revision=1
    )
    third = services.offer_propose_revision(
        offer_id=offer.pk, actor=offer.client, terms=terms(revision_rounds=3), milestones=changed, seen_revision=2
    )
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=3)

    assert (second.number, second.author, third.number, third.author) == (2, offer.freelancer, 3, offer.client)
    assert offer.revisions.count() == 3  # every revision is kept
    assert contract.agreed_revision == third
    assert contract.revision_rounds == 3
    assert [m.amount for m in contract.milestones.all()] == [Decimal("100.00"), Decimal("150.00"), Decimal("100.00")]


def test_a_party_cannot_answer_their_own_revision():
    offer = make_offer()

    with pytest.raises(PermissionDenied, match="other party"):
        services.offer_accept(offer_id=offer.pk, actor=offer.client, revision_number=1)
    with pytest.raises(PermissionDenied):
        services.offer_propose_revision(
            offer_id=offer.pk, actor=offer.client, terms=terms(), milestones=milestone_terms(1), seen_revision=1
        )


def test_accepting_a_revision_that_was_superseded_is_refused():
    offer = make_offer()
    services.offer_propose_revision(
        offer_id=offer.pk, actor=offer.freelancer, terms=terms(), milestones=milestone_terms(2), seen_revision=1
    )
    services.offer_propose_revision(
        offer_id=offer.pk, actor=offer.client, terms=terms(), milestones=milestone_terms(3), seen_revision=2
    )

    with pytest.raises(ValidationError, match="changed while you were looking"):
        services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=2)
    assert not Contract.objects.exists()


def test_a_stranger_cannot_touch_an_offer():
    offer = make_offer()
    stranger = UserFactory()

    with pytest.raises(PermissionDenied):
        services.offer_accept(offer_id=offer.pk, actor=stranger, revision_number=1)


def test_accept_creates_contract_with_frozen_copy_of_terms():
    offer = make_offer(count=2, amount="250.00")
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)

    offer.client.name = "Renamed Client"
    offer.client.save()
    contract.refresh_from_db()

    assert contract.client_name != "Renamed Client"
    assert contract.title == "Company website"
    milestones = list(contract.milestones.all())
    assert [(m.state, m.amount, m.fee) for m in milestones] == [("draft", Decimal("250.00"), Decimal("25.00"))] * 2
    assert contract.events.get().kind == "contract_started"
    with pytest.raises(ValidationError, match="accepted"):
        services.offer_propose_revision(
            offer_id=offer.pk, actor=offer.client, terms=terms(), milestones=milestone_terms(1), seen_revision=1
        )


@override_settings(PLATFORM_FEE_PERCENT=Decimal("20.00"))
def test_fee_percent_is_saved_with_the_revision_and_the_contract():
    offer = make_offer(count=1, amount="100.00")
    contract = services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)

    assert contract.fee_percent == Decimal("20.00")
    assert contract.milestones.get().fee == Decimal("20.00")


def test_freelancer_declines_with_a_reason():
    offer = make_offer()

    with pytest.raises(ValidationError, match="why"):
        services.offer_decline(offer_id=offer.pk, actor=offer.freelancer, reason="  ")
    services.offer_decline(offer_id=offer.pk, actor=offer.freelancer, reason="Fully booked until March.")

    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert offer.decline_reason == "Fully booked until March."


def test_only_the_client_withdraws_and_only_while_pending():
    offer = make_offer()
    with pytest.raises(PermissionDenied):
        services.offer_withdraw(offer_id=offer.pk, actor=offer.freelancer)

    services.offer_withdraw(offer_id=offer.pk, actor=offer.client)

    offer.refresh_from_db()
    assert offer.status == Offer.Status.WITHDRAWN
    with pytest.raises(ValidationError):
        services.offer_accept(offer_id=offer.pk, actor=offer.freelancer, revision_number=1)
    assert not Milestone.objects.exists()
