"""Money pages, each a confirmation first: fund, approve and release (with a bonus), refund."""

import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from contracts import policy, selectors, services
from contracts.forms import (
    ApproveForm,
    FundForm,
    RefundForm,
)
from contracts.models import Milestone
from escrow.errors import EscrowError
from escrow.selectors import payment_for_key, user_balances
from marketplace.accounts import verified_email_required
from marketplace.money import format_money

from .common import flash_done, posted_int, refusals_as_pages

# --- money pages: fund, approve and release, refund ---


def _new_key() -> str:
    return uuid.uuid4().hex


@verified_email_required  # logged in, with a confirmed email address
@refusals_as_pages
def milestones_fund(request, contract_id):
    """Confirm amount and fees, then go to the provider's hosted page to pay one or several draft milestones.

    No card field on this page: the provider's page takes the card and sends the client back to escrow's
    return URL, which comes back to the contract. The milestones are funded once the provider confirms.
    """
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    posted = request.method == "POST"
    asked = request.POST.getlist("milestones") if posted else request.GET.getlist("milestone")
    for milestone in contract.milestones.filter(pk__in=[posted_int(pk) for pk in asked]):
        milestone.contract = contract
        verdict = policy.milestone_may(request.user, milestone, "fund")
        # The same form posted again (a double click) continues its payment: the action answers it.
        key = request.POST.get("idempotency_key", "")
        if not verdict and not (posted and payment_for_key(payer=request.user, idempotency_key=key)):
            verdict.enforce()  # the GET refuses like the POST
    if policy.contract_role(contract, request.user) != "client":
        raise PermissionDenied("Only the client funds milestones.")
    policy.contract_may_change(request.user, contract).enforce()
    draft_rows = contract.milestones.filter(state=Milestone.State.DRAFT).order_by("position")
    drafts = list(draft_rows)
    processing = selectors.milestones_money(drafts)
    fundable = [m for m in drafts if not processing[m.pk].payment_processing]
    initial = {"milestones": request.GET.getlist("milestone") or [m.pk for m in fundable[:1]]}
    # Every draft is a valid choice: a double-clicked form (same key) finds its milestones processing.
    form = FundForm(
        request.POST if posted else None, drafts=draft_rows, initial={**initial, "idempotency_key": _new_key()}
    )
    credit = user_balances(request.user)["credit"]
    payment_error = ""
    if posted and form.is_valid():
        try:
            intent = services.milestones_fund(
                contract_id=contract.pk,
                milestone_ids=[m.pk for m in form.cleaned_data["milestones"]],
                actor=request.user,
                idempotency_key=form.cleaned_data["idempotency_key"],
                use_credit=form.cleaned_data["use_credit"],
            )
        except EscrowError as error:
            payment_error = error.user_message
            form = FundForm(request.POST, drafts=draft_rows)
            form.data = form.data.copy()
            form.data["idempotency_key"] = _new_key()  # keep the choice, with a fresh key for the retry
        else:
            if intent.state == intent.State.SUCCEEDED:
                messages.success(
                    request, policy.MILESTONE_ACTIONS["fund"].done_message(amount=format_money(intent.credit_used))
                )
                return redirect(contract)
            if intent.state == intent.State.REQUIRES_ACTION:
                return redirect(intent.redirect_url)  # the provider's hosted page
            return redirect("escrow:payment_status", intent.pk)
    selected = {str(pk) for pk in (form["milestones"].value() or [])}
    context = {
        "contract": contract,
        "form": form,
        "payment_error": payment_error,
        "credit": credit,
        "drafts": fundable,
        "processing": [m for m in drafts if processing[m.pk].payment_processing],
        "selected": selected,
    }
    return render(request, "contracts/milestones_fund.html", context)


@login_required
@refusals_as_pages
def milestone_approve(request, contract_id, milestone_id):
    """Confirm what escrow holds, the fee and what the freelancer receives; optionally add a bonus, paid on
    the provider's page after the approval (a declined bonus card never un-approves)."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "approve").enforce()  # a GET is refused like the POST
    posted = request.method == "POST"
    form = ApproveForm(request.POST if posted else None, initial={"idempotency_key": _new_key()})
    if posted and form.is_valid():
        bonus = form.cleaned_data["bonus"]
        services.milestone_approve(milestone_id=milestone.pk, actor=request.user, note=form.cleaned_data["note"])
        money = selectors.milestone_money(milestone)
        flash_done(request, "approve", milestone, amount=money.received)
        if bonus:
            try:
                intent = services.milestone_bonus(
                    milestone_id=milestone.pk,
                    actor=request.user,
                    amount=bonus,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except EscrowError as error:
                messages.warning(request, f"The bonus was not started: {error.user_message}")
            else:
                return redirect(intent.redirect_url or reverse("escrow:payment_status", args=[intent.pk]))
        return redirect(milestone.get_absolute_url())
    context = {
        "contract": contract,
        "milestone": milestone,
        "money": milestone.money,
        "form": form,
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
        flash_done(request, "refund", milestone, amount=amount)
        return redirect(milestone.get_absolute_url())
    context = {"contract": contract, "milestone": milestone, "form": form, "remaining": remaining}
    context["card_limit"] = selectors.refund_card_limit(milestone)
    return render(request, "contracts/milestone_refund.html", context)


@login_required
@require_POST
@refusals_as_pages
def milestone_refund_request(request, contract_id, milestone_id):
    """The client asks the freelancer to refund a funded milestone (e.g. to end the contract)."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    services.milestone_refund_request(milestone_id=milestone.pk, actor=request.user)
    flash_done(request, "request_refund", milestone)
    return redirect(contract)
