"""Funding, approval with release, refunds and bonuses: milestones and the escrow ledger move together."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_fsm import TransitionNotAllowed

from contracts import services
from contracts.audit import milestone_checks
from contracts.models import ContractEvent, Milestone
from contracts.tests.factories import act, make_contract, set_state
from escrow.errors import AlreadyProcessed
from escrow.gateways import CardDeclined
from escrow.models import Account, Charge, Entry
from escrow.selectors import hold_balance, user_balances
from escrow.tests.factories import DECLINED_CARD, CardFactory, new_key

pytestmark = pytest.mark.django_db
S = Milestone.State


@pytest.fixture
def contract():
    return make_contract(count=3, amount="200.00")


def fund(contract, *milestones, key=None, card=None, use_credit=False):
    return services.milestones_fund(
        contract_id=contract.pk,
        milestone_ids=[m.pk for m in milestones],
        actor=contract.client,
        card=card or CardFactory(),
        idempotency_key=key or new_key(),
        use_credit=use_credit,
    )


def submit(milestone):
    return act(milestone_id=milestone.pk, actor=milestone.contract.freelancer, name="submit")


def test_client_funds_a_milestone(contract, gateway, assert_ledger_consistent):
    first = contract.milestones.first()

    result = fund(contract, first)

    first.refresh_from_db()
    assert first.state == S.FUNDED
    assert result.charged == Decimal("200.00") and result.charge.last4 == "4242"
    assert hold_balance(first.hold_reference) == Decimal("200.00")
    assert ContractEvent.objects.filter(kind="fund", milestone=first, actor=contract.client).exists()
    assert len(gateway.charges) == 1
    assert_ledger_consistent()


def test_several_milestones_with_one_charge(contract, gateway, assert_ledger_consistent):
    milestones = list(contract.milestones.all())

    result = fund(contract, *milestones)

    assert result.charged == Decimal("600.00")
    assert Charge.objects.count() == 1 and len(gateway.charges) == 1
    assert set(contract.milestones.values_list("state", flat=True)) == {S.FUNDED}
    assert_ledger_consistent()


def test_a_declined_card_funds_nothing_and_a_replay_shows_the_same_error(contract, gateway, assert_ledger_consistent):
    first = contract.milestones.first()
    key = new_key()

    for _ in range(2):
        with pytest.raises(CardDeclined):
            fund(contract, first, key=key, card=CardFactory(number=DECLINED_CARD))

    first.refresh_from_db()
    assert first.state == S.DRAFT
    assert not Entry.objects.exists()
    assert Charge.objects.get().status == Charge.Status.FAILED
    assert len(gateway.charges) == 1  # the replay did not call the provider again
    assert_ledger_consistent()


def test_the_same_form_twice_charges_once(contract, gateway, assert_ledger_consistent):
    first = contract.milestones.first()
    key = new_key()

    one = fund(contract, first, key=key)
    two = fund(contract, first, key=key)

    assert one == two and two.replayed
    assert len(gateway.charges) == 1
    assert_ledger_consistent()


def test_funding_a_funded_milestone_with_a_new_form_is_refused(contract, gateway):
    first = contract.milestones.first()
    fund(contract, first)

    with pytest.raises(AlreadyProcessed):
        fund(contract, first)
    assert len(gateway.charges) == 1


def test_only_the_client_funds(contract):
    first = contract.milestones.first()

    with pytest.raises(PermissionDenied):
        services.milestones_fund(
            contract_id=contract.pk,
            milestone_ids=[first.pk],
            actor=contract.freelancer,
            card=CardFactory(),
            idempotency_key=new_key(),
        )


def test_approval_releases_the_payment_minus_the_fee_exactly_once(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund(contract, first)
    submit(first)

    released = services.milestone_approve(milestone_id=first.pk, actor=contract.client)

    assert released.state == S.RELEASED
    assert user_balances(contract.freelancer)["available"] == Decimal("180.00")
    fees = Account.objects.get(kind=Account.Kind.PLATFORM_FEES)
    assert fees.postings.get().amount == Decimal("20.00")
    assert hold_balance(first.hold_reference) == 0
    assert [e.kind for e in ContractEvent.objects.filter(milestone=first).order_by("id")][-2:] == ["approve", "release"]
    with pytest.raises(TransitionNotAllowed):
        services.milestone_approve(milestone_id=first.pk, actor=contract.client)
    assert_ledger_consistent()


def test_a_second_release_is_refused_by_the_database_whatever_the_code_path(contract):
    from django.db import IntegrityError, transaction

    from escrow.services import hold_release

    first = contract.milestones.first()
    fund(contract, first)
    submit(first)
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)

    with pytest.raises(AlreadyProcessed):
        hold_release(reference=first.hold_reference, actor=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(reference=f"release:{first.hold_reference}", kind=Entry.Kind.RELEASE, memo="again")


@pytest.mark.parametrize(("refund_to", "credit"), [("credit", Decimal("200.00")), ("card", Decimal("0.00"))])
def test_freelancer_refunds_a_whole_milestone_where_the_client_chose(
    contract, gateway, assert_ledger_consistent, refund_to, credit
):
    contract.client.refund_to = refund_to
    contract.client.save()
    first = contract.milestones.first()
    fund(contract, first)

    refunded = services.milestone_refund(milestone_id=first.pk, actor=contract.freelancer)

    assert refunded.state == S.REFUNDED
    assert user_balances(contract.client)["credit"] == credit
    assert len(gateway.refunds) == (1 if refund_to == "card" else 0)
    assert_ledger_consistent()


def test_partial_refund_keeps_the_milestone_funded_and_release_pays_the_rest(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund(contract, first)

    services.milestone_refund(milestone_id=first.pk, actor=contract.freelancer, amount=Decimal("50.00"))
    first.refresh_from_db()
    assert first.state == S.FUNDED
    assert hold_balance(first.hold_reference) == Decimal("150.00")
    assert_ledger_consistent()

    submit(first)
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)
    assert user_balances(contract.freelancer)["available"] == Decimal("135.00")  # 150 less a 10% fee
    assert user_balances(contract.client)["credit"] == Decimal("50.00")
    assert_ledger_consistent()


def test_the_client_cannot_refund_directly(contract):
    first = contract.milestones.first()
    fund(contract, first)

    with pytest.raises(PermissionDenied):
        services.milestone_refund(milestone_id=first.pk, actor=contract.client)


def test_client_asks_for_a_refund_the_freelancer_agrees_and_the_contract_can_end(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund(contract, first)
    with pytest.raises(ValidationError):
        services.contract_end(contract_id=contract.pk, actor=contract.client)

    change = services.milestone_refund_request(milestone_id=first.pk, actor=contract.client)
    services.milestone_change_decide(change_id=change.pk, actor=contract.freelancer, accept=True)
    services.contract_end(contract_id=contract.pk, actor=contract.client)

    first.refresh_from_db()
    assert first.state == S.REFUNDED
    assert user_balances(contract.client)["credit"] == Decimal("200.00")
    assert_ledger_consistent()


def test_credit_from_a_refund_pays_the_next_milestone_first(contract, gateway, assert_ledger_consistent):
    first, second = list(contract.milestones.all())[:2]
    fund(contract, first)
    services.milestone_refund(milestone_id=first.pk, actor=contract.freelancer, amount=Decimal("80.00"))

    result = fund(contract, second, use_credit=True)

    assert (result.credit_used, result.charged) == (Decimal("80.00"), Decimal("120.00"))
    assert user_balances(contract.client)["credit"] == 0
    assert_ledger_consistent()


def test_bonus_on_a_released_milestone(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund(contract, first)
    submit(first)
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)

    services.milestone_bonus(
        milestone_id=first.pk, actor=contract.client, amount=Decimal("50.00"), card=CardFactory(), idempotency_key="b1"
    )

    assert user_balances(contract.freelancer)["available"] == Decimal("225.00")  # 180 + 45
    assert_ledger_consistent()


def test_the_audit_reports_a_milestone_whose_state_disagrees_with_the_ledger(contract):
    first = contract.milestones.first()
    set_state(first, S.FUNDED)  # funded without money: what a bug would look like

    violations = milestone_checks()

    assert violations == [f"Milestone #{first.pk} (funded) has no funding entry in escrow."]


def test_the_audit_reports_each_kind_of_milestone_disagreement(contract):
    first, second, third = contract.milestones.all()[:3]
    fund(contract, first, second)
    set_state(first, S.RELEASED)  # released in the contract, never in the ledger
    set_state(second, S.DRAFT)  # a hold for a milestone that says it was never funded
    set_state(third, S.REFUNDED)  # refunded without ever being funded

    violations = milestone_checks()

    assert violations == [
        f"Milestone #{first.pk} (released) still holds 200.00 in escrow.",
        f"Milestone #{first.pk} (released) has no release entry.",
        f"Milestone #{second.pk} (draft) has an escrow hold although it was never funded.",
        f"Milestone #{third.pk} (refunded) has no funding entry in escrow.",
    ]


def test_the_audit_passes_partly_refunded_and_released_milestones(contract):
    first, second = contract.milestones.all()[:2]
    fund(contract, first, second)
    submit(first)
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)

    assert milestone_checks() == []
    set_state(second, S.SUBMITTED)
    assert milestone_checks() == []  # still held in full: a held state

    set_state(first, S.FUNDED)
    assert milestone_checks() == [
        f"Milestone #{first.pk} (funded) holds 0.00 in escrow; expected 200.00.",
        f"Milestone #{first.pk} (funded) was released in the ledger but not in the contract.",
    ]
