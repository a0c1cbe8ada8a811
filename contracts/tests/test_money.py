"""Funding, approval with release, refunds and bonuses: milestones and the escrow ledger move together."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_fsm import TransitionNotAllowed

from contracts import policy, services
from contracts.audit import milestone_checks
from contracts.models import ContractEvent, Milestone
from contracts.selectors import milestone_money
from contracts.tests.factories import GOOD_CARD, act, make_contract, set_state
from escrow.errors import AlreadyProcessed
from escrow.models import Account, Entry
from escrow.sandbox.models import Checkout, Refund
from escrow.sandbox.testing import pay
from escrow.selectors import hold_balance, user_balances
from escrow.tests.factories import new_key

DECLINED_CARD = "4000 0000 0000 0002"

pytestmark = pytest.mark.django_db
S = Milestone.State


@pytest.fixture
def contract():
    return make_contract(count=3, amount="200.00")


def fund(contract, *milestones, key=None, card=GOOD_CARD, use_credit=False):
    """Start the payment as the fund page does, and pay on the sandbox's page (the provider confirms)."""
    return pay(start(contract, *milestones, key=key, use_credit=use_credit), card)


def start(contract, *milestones, key=None, use_credit=False, actor=None):
    return services.milestones_fund(
        contract_id=contract.pk,
        milestone_ids=[m.pk for m in milestones],
        actor=actor or contract.client,
        idempotency_key=key or new_key(),
        use_credit=use_credit,
    )


def submit(milestone):
    return act(milestone_id=milestone.pk, actor=milestone.contract.freelancer, name="submit")


def test_a_milestone_is_funded_only_when_the_provider_confirms(contract, assert_ledger_consistent):
    first = contract.milestones.first()

    intent = start(contract, first)

    first.refresh_from_db()
    assert first.state == S.DRAFT and intent.state == "requires_action"
    assert milestone_money(first).payment_processing
    assert not ContractEvent.objects.filter(kind="fund").exists()
    assert_ledger_consistent()

    intent = pay(intent)

    first.refresh_from_db()
    assert first.state == S.FUNDED and intent.card_label == "Visa •••• 4242"
    assert hold_balance(first.hold_reference) == Decimal("200.00")
    assert ContractEvent.objects.filter(kind="fund", milestone=first, actor=contract.client).exists()
    assert not milestone_money(first).payment_processing
    assert_ledger_consistent()


def test_while_a_payment_processes_nothing_can_be_funded_submitted_or_changed(contract):
    first = contract.milestones.first()
    start(contract, first)
    first = Milestone.objects.select_related("contract").get(pk=first.pk)

    for actor, name in [
        (contract.client, "fund"),
        (contract.freelancer, "submit"),
        (contract.client, "propose_edit"),
        (contract.freelancer, "propose_remove"),
    ]:
        verdict = policy.milestone_may(actor, first, name)
        assert (verdict.allowed, verdict.code) == (False, "payment_processing"), name
    with pytest.raises(TransitionNotAllowed, match="Payment processing"):
        start(contract, first)  # a second tab (another key)
    with pytest.raises(TransitionNotAllowed, match="Payment processing"):
        services.milestone_submit(milestone_id=first.pk, actor=contract.freelancer, message="Done", links=[])


def test_several_milestones_with_one_payment(contract, assert_ledger_consistent):
    milestones = list(contract.milestones.all())

    intent = fund(contract, *milestones)

    assert intent.amount == Decimal("600.00") and Checkout.objects.count() == 1
    assert set(contract.milestones.values_list("state", flat=True)) == {S.FUNDED}
    assert_ledger_consistent()


def test_a_declined_card_funds_nothing_and_the_client_can_pay_again(contract, assert_ledger_consistent):
    first = contract.milestones.first()

    intent = fund(contract, first, card=DECLINED_CARD)

    first.refresh_from_db()
    assert intent.state == "failed" and intent.failure_code == "card_declined"
    assert first.state == S.DRAFT and not Entry.objects.exists()
    assert not milestone_money(first).payment_processing
    assert fund(contract, first).state == "succeeded"
    assert_ledger_consistent()


def test_the_same_form_twice_opens_one_payment(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    key = new_key()

    one = start(contract, first, key=key)
    two = start(contract, first, key=key)

    assert one == two and Checkout.objects.count() == 1
    pay(one)
    assert start(contract, first, key=key).state == "succeeded"  # a replay after confirmation
    assert_ledger_consistent()


def test_funding_a_funded_milestone_with_a_new_form_is_refused(contract):
    first = contract.milestones.first()
    fund(contract, first)

    with pytest.raises(TransitionNotAllowed):
        start(contract, first)
    assert Checkout.objects.count() == 1


def test_only_the_client_funds(contract):
    with pytest.raises(PermissionDenied):
        start(contract, contract.milestones.first(), actor=contract.freelancer)


def test_a_payment_confirmed_after_the_milestone_was_cancelled_goes_back_as_credit(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    intent = start(contract, first)
    set_state(first, S.CANCELLED)  # staff cancelled it meanwhile (the policy refuses it while processing)

    pay(intent)

    assert user_balances(contract.client)["credit"] == Decimal("200.00")
    assert hold_balance(first.hold_reference) == 0
    assert_ledger_consistent()


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
    contract, assert_ledger_consistent, refund_to, credit, django_capture_on_commit_callbacks
):
    contract.client.refund_to = refund_to
    contract.client.save()
    first = contract.milestones.first()
    fund(contract, first)

    with django_capture_on_commit_callbacks(execute=True):  # the card refund is called after commit
        refunded = services.milestone_refund(milestone_id=first.pk, actor=contract.freelancer)

    assert refunded.state == S.REFUNDED
    assert user_balances(contract.client)["credit"] == credit
    assert Refund.objects.count() == (1 if refund_to == "card" else 0)
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


def test_credit_from_a_refund_pays_the_next_milestone_first(contract, assert_ledger_consistent):
    first, second = list(contract.milestones.all())[:2]
    fund(contract, first)
    services.milestone_refund(milestone_id=first.pk, actor=contract.freelancer, amount=Decimal("80.00"))

    intent = fund(contract, second, use_credit=True)

    assert (intent.credit_used, intent.amount) == (Decimal("80.00"), Decimal("120.00"))
    assert user_balances(contract.client)["credit"] == 0
    assert_ledger_consistent()


def test_bonus_on_a_released_milestone(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund(contract, first)
    submit(first)
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)

    intent = services.milestone_bonus(
        milestone_id=first.pk, actor=contract.client, amount=Decimal("50.00"), idempotency_key="b1"
    )
    assert not ContractEvent.objects.filter(kind="bonus").exists()  # nothing until the provider confirms
    pay(intent)

    assert user_balances(contract.freelancer)["available"] == Decimal("225.00")  # 180 + 45
    assert ContractEvent.objects.get(kind="bonus").data == {"amount": "50.00", "fee": "5.00", "received": "45.00"}
    assert_ledger_consistent()


def test_a_declined_bonus_never_un_approves(contract, assert_ledger_consistent):
    first = contract.milestones.first()
    fund(contract, first)
    submit(first)
    services.milestone_approve(milestone_id=first.pk, actor=contract.client)

    intent = services.milestone_bonus(
        milestone_id=first.pk, actor=contract.client, amount=Decimal("50.00"), idempotency_key="b2"
    )
    assert pay(intent, DECLINED_CARD).state == "failed"

    first.refresh_from_db()
    assert first.state == S.RELEASED
    assert user_balances(contract.freelancer)["available"] == Decimal("180.00")
    assert not ContractEvent.objects.filter(kind="bonus").exists()
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
