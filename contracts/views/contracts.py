"""Contract pages: the contract, milestone actions, changes by consent, ending."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import policy, selectors, services
from contracts.forms import (
    ContractMilestoneForm,
    NoteForm,
)
from contracts.models import Contract, Milestone, MilestoneChange
from contracts.templatetags.contract_tags import milestone_action_url
from marketplace.caching import user_page

from .common import flash_done, refusals_as_pages

# --- contracts ---


@login_required
def contract_list(request):
    status = request.GET.get("status")
    if status is not None and status not in Contract.Status.values:
        # An unknown filter shows everything at the list's own address: the cached page is kept once, not once for each
        # made-up value (marketplace.caching.PAGE_PARAMETERS).
        return redirect("contracts:contract_list")
    main = user_page(request, "contracts/_contract_list.html", lambda: _contract_list(request, status))
    return render(request, "contracts/contract_list.html", {"main": main})


def _contract_list(request, status: str | None) -> dict:
    page = Paginator(selectors.contract_list(user=request.user, status=status), 20).get_page(request.GET.get("page"))
    page.object_list = selectors.contracts_money(page.object_list)
    return {"page": page, "status": status}


@login_required
def contract_detail(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    main = user_page(
        request,
        "contracts/_contract_detail.html",
        lambda: selectors.contract_page(contract=contract, user=request.user),
    )
    return render(request, "contracts/contract_detail.html", {"contract": contract, "main": main})


@login_required
@refusals_as_pages
def milestone_action(request, contract_id, milestone_id, name):
    """The shared page of the actions that need only a note (request changes, withdraw, dispute)."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    action = policy.MILESTONE_ACTIONS.get(name)
    if action is None or name not in services.NOTE_ACTIONS:
        if action is not None and action.page:  # an action with its own page
            return redirect(milestone_action_url(contract, milestone, name))
        raise Http404("Unknown action.")
    policy.milestone_may(request.user, milestone, name).enforce()  # a GET is refused like the POST
    note_label, note_help = action.note or ("Note (optional)", "")
    form = NoteForm(request.POST if request.method == "POST" else None)
    form.fields["note"].label = note_label
    form.fields["note"].help_text = note_help
    form.fields["note"].required = action.note is not None
    if request.method == "POST" and form.is_valid():
        result = services.NOTE_ACTIONS[name](
            milestone_id=milestone.pk, actor=request.user, note=form.cleaned_data["note"]
        )
        flash_done(request, name, milestone)
        return redirect(result.get_absolute_url() if name == "dispute" else milestone.get_absolute_url())
    context = {"contract": contract, "milestone": milestone, "form": form, "label": action.label}
    return render(request, "contracts/milestone_action.html", context)


@login_required
@refusals_as_pages
def milestone_add(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    policy.contract_may_add_milestone(request.user, contract, milestone_count=contract.milestones.count()).enforce()
    form = ContractMilestoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        result = services.milestone_add(contract_id=contract.pk, actor=request.user, terms=form.terms())
        if isinstance(result, MilestoneChange):
            messages.success(request, _("Your new milestone was proposed. It is added when the client accepts."))
        else:
            messages.success(
                request, _("Milestone “%(title)s” added. Fund it when work should start.") % {"title": result.title}
            )
        return redirect(contract)
    context = {
        "contract": contract,
        "form": form,
        "heading": "Add a milestone",
        "role": policy.contract_role(contract, request.user),
    }
    return render(request, "contracts/milestone_form.html", context)


@login_required
@refusals_as_pages
def milestone_edit(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "propose_edit").enforce()
    initial = {f: getattr(milestone, f) for f in ("title", "deliverable", "due_date", "amount")}
    form = ContractMilestoneForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.milestone_change_propose(
            contract_id=contract.pk,
            actor=request.user,
            kind=MilestoneChange.Kind.EDIT,
            milestone_id=milestone.pk,
            terms=form.terms(),
        )
        flash_done(request, "propose_edit", milestone)
        return redirect(contract)
    context = {"contract": contract, "form": form, "heading": f"Propose changes to “{milestone.title}”"}
    return render(request, "contracts/milestone_form.html", context)


@login_required
@require_POST
@refusals_as_pages
def milestone_remove(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    services.milestone_change_propose(
        contract_id=contract.pk, actor=request.user, kind=MilestoneChange.Kind.DELETE, milestone_id=milestone_id
    )
    flash_done(request, "propose_remove", selectors.milestone_for_party(contract=contract, milestone_id=milestone_id))
    return redirect(contract)


@login_required
@require_POST
@refusals_as_pages
def milestone_move(request, contract_id, milestone_id, direction):
    """Propose moving a future milestone one place up or down."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    if direction not in ("up", "down"):
        raise Http404("Unknown direction.")
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "propose_move").enforce()
    order = list(
        contract.milestones.filter(state=Milestone.State.DRAFT).order_by("position", "id").values_list("pk", flat=True)
    )
    index = order.index(milestone_id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(order):
        raise ValidationError("That milestone cannot move further.")
    order[index], order[other] = order[other], order[index]
    services.milestone_change_propose(
        contract_id=contract.pk, actor=request.user, kind=MilestoneChange.Kind.REORDER, order=order
    )
    flash_done(request, "propose_move", milestone)
    return redirect(contract)


@login_required
@refusals_as_pages
def change_decide(request, contract_id, change_id, decision):
    """Answer a proposed change. Accepting a refund moves money, so it is confirmed on its own page first."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    change = get_object_or_404(contract.changes.select_related("milestone"), pk=change_id)
    change.contract = contract
    if decision not in ("accept", "decline", "withdraw"):
        raise Http404("Unknown decision.")
    if request.method != "POST":
        if decision != "accept" or change.kind != MilestoneChange.Kind.REFUND:
            return HttpResponseNotAllowed(["POST"])
        policy.change_may_accept(request.user, change).enforce()  # the confirmation page refuses like the POST
        milestone = selectors.milestone_for_party(contract=contract, milestone_id=change.milestone_id)
        context = {"contract": contract, "change": change, "milestone": milestone, "remaining": milestone.money.held}
        context["card_limit"] = selectors.refund_card_limit(milestone)
        return render(request, "contracts/refund_confirm.html", context)
    if decision == "withdraw":
        services.milestone_change_withdraw(change_id=change.pk, actor=request.user)
        messages.info(request, _("You withdrew your proposal."))
    else:
        accept = decision == "accept"
        services.milestone_change_decide(change_id=change.pk, actor=request.user, accept=accept)
        messages.success(
            request, _("Change accepted and applied.") if accept else _("You declined the proposed change.")
        )
    return redirect(contract)


@login_required
@refusals_as_pages
def contract_end(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    if request.method == "POST":
        services.contract_end(contract_id=contract.pk, actor=request.user)
        messages.info(request, _("The contract has ended. Future milestones were cancelled."))
        return redirect(contract)
    page = selectors.contract_page(contract=contract, user=request.user)
    if not page["can_end"]:
        open_money = sum(1 for m in page["milestones"] if m.state in Milestone.OPEN_MONEY_STATES)
        policy.contract_may_end(request.user, contract, open_money=open_money).enforce()
    return render(request, "contracts/contract_end.html", page)
