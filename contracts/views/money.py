"""Money pages, each a confirmation first: fund, approve and release (with a bonus), refund."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from contracts import review, selectors, services
from contracts.forms import (
    ApproveForm,
    FundForm,
    RefundForm,
)
from contracts.models import Milestone, MilestoneChange
from escrow.errors import EscrowError
from escrow.forms import CardForm
from escrow.selectors import hold_balance, user_balances
from marketplace.money import format_money

from .common import refusals_as_pages

# --- money pages: fund, approve and release, refund ---


def _new_key() -> str:
    return uuid.uuid4().hex


@login_required
@refusals_as_pages
def milestones_fund(request, contract_id):
    """Confirm amount and fees, then pay one or several draft milestones into escrow with one charge."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    if contract.role_of(request.user) != "client":
        raise PermissionDenied("Only the client funds milestones.")
    drafts = contract.milestones.filter(state=Milestone.State.DRAFT).order_by("position")
    posted = request.method == "POST"
    initial = {"milestones": request.GET.getlist("milestone") or list(drafts.values_list("pk", flat=True)[:1])}
    form = FundForm(request.POST if posted else None, drafts=drafts, initial={**initial, "idempotency_key": _new_key()})
    card_form = CardForm(request.POST if posted else None)
    credit = user_balances(request.user)["credit"]
    if posted and form.is_valid():
        chosen = form.cleaned_data["milestones"]
        to_charge = sum(m.amount for m in chosen) - (credit if form.cleaned_data["use_credit"] else 0)
        if to_charge <= 0 or card_form.is_valid():
            try:
                result = services.milestones_fund(
                    contract_id=contract.pk,
                    milestone_ids=[m.pk for m in chosen],
                    actor=request.user,
                    card=card_form.card_details() if to_charge > 0 else None,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    use_credit=form.cleaned_data["use_credit"],
                )
            except EscrowError as error:
                card_form.add_error(None, error.user_message)
                form = FundForm(request.POST, drafts=drafts)  # keep the choice, with a fresh key for the retry
                form.data = form.data.copy()
                form.data["idempotency_key"] = _new_key()
            else:
                messages.success(request, _funded_message(result))
                return redirect(contract)
    selected = {str(pk) for pk in (form["milestones"].value() or [])}
    context = {"contract": contract, "form": form, "card_form": card_form, "credit": credit, "drafts": drafts}
    context["selected"] = selected
    return render(request, "contracts/milestones_fund.html", context)


def _funded_message(result) -> str:
    parts = [f"Funded: {format_money(result.total)} is now held in escrow."]
    if result.credit_used:
        parts.append(f"{format_money(result.credit_used)} came from your credit.")
    if result.charge is not None:
        parts.append(f"{format_money(result.charged)} was charged to {result.charge.card_label}.")
    return " ".join(parts)


@login_required
@refusals_as_pages
def milestone_approve(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = get_object_or_404(contract.milestones, pk=milestone_id)
    posted = request.method == "POST"
    form = ApproveForm(request.POST if posted else None, initial={"idempotency_key": _new_key()})
    card_form = CardForm(request.POST if posted else None)
    if posted and form.is_valid():
        bonus = form.cleaned_data["bonus"]
        if not bonus or card_form.is_valid():
            review.milestone_review_approve(
                milestone_id=milestone.pk, actor=request.user, note=form.cleaned_data["note"]
            )
            messages.success(
                request, f"Approved. {format_money(milestone.receives)} was released to {contract.freelancer_name}."
            )
            if bonus:
                try:
                    services.milestone_bonus(
                        milestone_id=milestone.pk,
                        actor=request.user,
                        amount=bonus,
                        card=card_form.card_details(),
                        idempotency_key=form.cleaned_data["idempotency_key"],
                    )
                except EscrowError as error:
                    messages.warning(request, f"The bonus was not paid: {error.user_message}")
                else:
                    messages.success(request, f"Bonus of {format_money(bonus)} paid. Thank you!")
            return redirect(milestone.get_absolute_url())
    context = {"contract": contract, "milestone": milestone, "form": form, "card_form": card_form}
    return render(request, "contracts/milestone_approve.html", context)


@login_required
@refusals_as_pages
def milestone_refund(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = get_object_or_404(contract.milestones, pk=milestone_id)
    if contract.role_of(request.user) != "freelancer":
        raise PermissionDenied("Only the freelancer refunds a milestone; the client can ask for a refund.")
    remaining = hold_balance(milestone.hold_reference)
    form = RefundForm(request.POST if request.method == "POST" else None, remaining=remaining)
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        services.milestone_refund(milestone_id=milestone.pk, actor=request.user, amount=amount)
        messages.success(request, f"{format_money(amount)} was refunded to {contract.client_name}.")
        return redirect(milestone.get_absolute_url())
    context = {"contract": contract, "milestone": milestone, "form": form, "remaining": remaining}
    return render(request, "contracts/milestone_refund.html", context)


@login_required
@require_POST
@refusals_as_pages
def milestone_refund_request(request, contract_id, milestone_id):
    """The client asks the freelancer to refund a funded milestone (e.g. to end the contract)."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    services.milestone_change_propose(
        contract_id=contract.pk, actor=request.user, kind=MilestoneChange.Kind.REFUND, milestone_id=milestone_id
    )
    messages.success(request, "You asked for a refund. The money returns when the freelancer agrees.")
    return redirect(contract)
