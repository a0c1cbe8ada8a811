"""Money pages, each a confirmation first: fund, approve and release (with a bonus), refund."""

import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from contracts import policy, selectors, services
from contracts.forms import (
    ApproveForm,
    FundForm,
    RefundForm,
)
from contracts.models import Milestone
from escrow.errors import EscrowError
from escrow.forms import CardForm
from escrow.selectors import user_balances
from marketplace.accounts import verified_email_required
from marketplace.money import format_money

from .common import posted_int, refusals_as_pages

# --- money pages: fund, approve and release, refund ---


def _new_key() -> str:
    return uuid.uuid4().hex


@verified_email_required  # logged in, with a confirmed email address
@refusals_as_pages
def milestones_fund(request, contract_id):
    """Confirm amount and fees, then pay one or several draft milestones into escrow with one charge."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    posted = request.method == "POST"
    asked = request.POST.getlist("milestones") if posted else request.GET.getlist("milestone")
    for milestone in contract.milestones.filter(pk__in=[posted_int(pk) for pk in asked]):
        milestone.contract = contract
        policy.milestone_may(request.user, milestone, "fund").enforce()  # the GET refuses like the POST
    if policy.contract_role(contract, request.user) != "client":
        raise PermissionDenied("Only the client funds milestones.")
    policy.contract_may_change(request.user, contract).enforce()
    drafts = contract.milestones.filter(state=Milestone.State.DRAFT).order_by("position")
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
    """Confirm what escrow holds, the fee and what the freelancer receives; optionally add a bonus."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "approve").enforce()  # a GET is refused like the POST
    posted = request.method == "POST"
    form = ApproveForm(request.POST if posted else None, initial={"idempotency_key": _new_key()})
    card_form = CardForm(request.POST if posted else None)
    if posted and form.is_valid():
        bonus = form.cleaned_data["bonus"]
        if not bonus or card_form.is_valid():
            try:
                services.milestone_approve(
                    milestone_id=milestone.pk,
                    actor=request.user,
                    note=form.cleaned_data["note"],
                    bonus=bonus,
                    card=card_form.card_details() if bonus else None,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except EscrowError as error:  # the bonus card failed: nothing was approved or charged
                card_form.add_error(None, f"{error.user_message} Nothing was approved; try again or remove the bonus.")
                form = ApproveForm(request.POST)
                form.data = form.data.copy()
                form.data["idempotency_key"] = _new_key()
                form.is_valid()
            else:
                money = selectors.milestone_money(milestone)
                text = f"Approved. {format_money(money.received)} was released to {contract.freelancer_name}."
                if bonus:
                    quote = services.bonus_quote(bonus, contract.fee_percent)
                    text += (
                        f" Bonus of {format_money(quote['amount'])} paid ({format_money(quote['received'])} to them)."
                    )
                messages.success(request, text)
                return redirect(milestone.get_absolute_url())
    context = {
        "contract": contract,
        "milestone": milestone,
        "money": milestone.money,
        "form": form,
        "card_form": card_form,
        "fee_percent": contract.fee_percent,
        "bonus_quote": services.bonus_quote(_typed_bonus(form) or BONUS_EXAMPLE, contract.fee_percent),
    }
    return render(request, "contracts/milestone_approve.html", context)


BONUS_EXAMPLE = Decimal("50.00")


def _typed_bonus(form):
    """The bonus the client typed, once it parsed (to show what it pays), else None."""
    return form.cleaned_data.get("bonus") if form.is_bound and hasattr(form, "cleaned_data") else None


@login_required
@refusals_as_pages
def milestone_refund(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "refund").enforce()
    remaining = milestone.money.held
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
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    services.milestone_refund_request(milestone_id=milestone.pk, actor=request.user)
    messages.success(request, "You asked for a refund. The money returns when the freelancer agrees.")
    return redirect(contract)
