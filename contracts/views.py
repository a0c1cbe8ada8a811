"""Thin views: parse the input, call one service, flash a message, redirect.

`@refusals_as_pages` turns a refused action (PermissionDenied, TransitionNotAllowed,
ValidationError raised by a service) into a clear page with a 4xx status; nothing changed.
"""

import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_fsm import TransitionNotAllowed

from escrow.errors import EscrowError
from escrow.forms import CardForm
from escrow.selectors import hold_balance, user_balances
from marketplace.money import format_money
from marketplace.uploads import serve_upload

from . import review, selectors, services
from .forms import (
    ApproveForm,
    ContractMilestoneForm,
    FundForm,
    MilestoneFormSet,
    NoteForm,
    OfferTermsForm,
    ReasonForm,
    RefundForm,
    SubmitWorkForm,
    milestone_initial,
    terms_initial,
)
from .models import Contract, Milestone, MilestoneChange, SubmissionFile
from .templatetags.contract_tags import OWN_PAGES, milestone_action_url


def _int(value) -> int:
    """A posted number, or 0 for anything that is not one (a tampered form gets a clear refusal, not a 500)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, EscrowError):
        return error.user_message
    return str(error) or "That action is not allowed."


def refusals_as_pages(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (PermissionDenied, TransitionNotAllowed, ValidationError, EscrowError) as error:
            status = (
                403 if isinstance(error, PermissionDenied) else 409 if isinstance(error, TransitionNotAllowed) else 400
            )
            back = request.META.get("HTTP_REFERER") or ""
            if not back.startswith(request.build_absolute_uri("/")):
                back = ""
            context = {"message": _message(error), "back": back}
            return render(request, "contracts/refused.html", context, status=status)

    return wrapper


# --- offers ---


def _offer_forms(request, *, terms_initial_data=None, milestones_initial=None):
    """The terms form and the milestone formset. Without JavaScript, "Add another milestone"
    posts the form with `add_row`: it comes back with everything typed and one more row."""
    data = request.POST if request.method == "POST" else None
    if data is not None and "add_row" in data:
        data = data.copy()
        data["milestones-TOTAL_FORMS"] = str(int(data.get("milestones-TOTAL_FORMS") or 0) + 1)
    form = OfferTermsForm(data, initial=terms_initial_data)
    formset = MilestoneFormSet(data, initial=milestones_initial, prefix="milestones")
    return form, formset


def _submitted(request, form, formset) -> bool:
    return request.method == "POST" and "add_row" not in request.POST and form.is_valid() and formset.is_valid()


def _offer_form_context(form, formset, **extra):
    return {
        "form": form,
        "formset": formset,
        "fee_percent": settings.PLATFORM_FEE_PERCENT,
        "min_amount": settings.MILESTONE_MIN_AMOUNT,
        **extra,
    }


@login_required
def offer_create(request):
    freelancer = selectors.freelancer_for_offer(
        client=request.user, freelancer_id=_int(request.GET.get("freelancer") or request.POST.get("freelancer"))
    )
    form, formset = _offer_forms(request, milestones_initial=[{}])
    if _submitted(request, form, formset):
        try:
            offer = services.offer_create(
                client=request.user, freelancer=freelancer, terms=form.terms(), milestones=formset.terms()
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Your offer was sent to {freelancer.name}.")
            return redirect(offer)
    context = _offer_form_context(form, formset, freelancer=freelancer, heading=f"Send an offer to {freelancer.name}")
    return render(request, "contracts/offer_form.html", context)


@login_required
def offer_detail(request, offer_id, number=None):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    view = selectors.offer_revision_view(offer=offer, number=number)
    my_turn = offer.is_pending and view.latest.author_id != request.user.pk
    context = {
        "offer": offer,
        "view": view,
        "role": "client" if request.user.pk == offer.client_id else "freelancer",
        "my_turn": my_turn,
        "other": offer.other_party(request.user),
    }
    return render(request, "contracts/offer_detail.html", context)


@login_required
@refusals_as_pages
def offer_propose(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    latest = services.offer_check_turn(offer, request.user)
    form, formset = _offer_forms(
        request, terms_initial_data=terms_initial(latest), milestones_initial=milestone_initial(latest)
    )
    if _submitted(request, form, formset):
        try:
            services.offer_propose_revision(
                offer_id=offer.pk,
                actor=request.user,
                terms=form.terms(),
                milestones=formset.terms(),
                seen_revision=_int(request.POST.get("seen_revision")),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Your revision was sent to {offer.other_party(request.user).name}.")
            return redirect(offer)
    verb = "Propose changes" if request.user.pk == offer.freelancer_id else "Counter with changes"
    context = _offer_form_context(form, formset, offer=offer, latest=latest, heading=f"{verb}: {latest.title}")
    return render(request, "contracts/offer_form.html", context)


@login_required
@require_POST
@refusals_as_pages
def offer_accept(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    contract = services.offer_accept(
        offer_id=offer.pk, actor=request.user, revision_number=_int(request.POST.get("revision"))
    )
    messages.success(request, "Offer accepted. The contract has started — fund the first milestone to begin.")
    return redirect(contract)


@login_required
@refusals_as_pages
def offer_decline(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.offer_decline(offer_id=offer.pk, actor=request.user, reason=form.cleaned_data["reason"])
        messages.info(request, "You declined the offer. The client has been told why.")
        return redirect(offer)
    return render(request, "contracts/offer_decline.html", {"offer": offer, "form": form})


@login_required
@refusals_as_pages
def offer_withdraw(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    if request.method == "POST":
        services.offer_withdraw(offer_id=offer.pk, actor=request.user)
        messages.info(request, "You withdrew the offer.")
        return redirect(offer)
    return render(request, "contracts/offer_withdraw.html", {"offer": offer})


# --- contracts ---


@login_required
def contract_list(request):
    status = request.GET.get("status")
    if status not in Contract.Status.values:
        status = None
    page = Paginator(selectors.contract_list(user=request.user, status=status), 20).get_page(request.GET.get("page"))
    return render(request, "contracts/contract_list.html", {"page": page, "status": status})


@login_required
def contract_detail(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    return render(
        request, "contracts/contract_detail.html", selectors.contract_page(contract=contract, user=request.user)
    )


TRANSITION_NOTES = {
    "request_changes": ("What should change?", "Be specific: the freelancer works from this description."),
    "dispute": ("What is the problem?", "Staff will read the contract's record and decide."),
}


@login_required
@refusals_as_pages
def milestone_action(request, contract_id, milestone_id, name):
    """One view runs any transition the user may take; transitions that need a note ask for it first."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = get_object_or_404(contract.milestones, pk=milestone_id)
    label = Milestone.action_label(name) if hasattr(getattr(Milestone, name, None), "_django_fsm") else None
    if label is None:
        raise TransitionNotAllowed("Unknown action.")
    if name in OWN_PAGES:
        return redirect(milestone_action_url(contract, milestone, name))
    note_label, note_help = TRANSITION_NOTES.get(name, ("Note (optional)", ""))
    form = NoteForm(request.POST if request.method == "POST" else None)
    form.fields["note"].label = note_label
    form.fields["note"].help_text = note_help
    form.fields["note"].required = name in TRANSITION_NOTES
    if request.method == "POST" and form.is_valid():
        note = form.cleaned_data["note"]
        if name == "request_changes":  # also tells the freelancer what to change
            review.milestone_request_changes(milestone_id=milestone.pk, actor=request.user, note=note)
        else:
            services.milestone_transition(milestone_id=milestone.pk, actor=request.user, name=name, note=note)
        messages.success(request, f"{label}: done for “{milestone.title}”.")
        return redirect(milestone.get_absolute_url())
    context = {"contract": contract, "milestone": milestone, "form": form, "label": label}
    return render(request, "contracts/milestone_action.html", context)


@login_required
@refusals_as_pages
def milestone_add(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    form = ContractMilestoneForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        result = services.milestone_add(contract_id=contract.pk, actor=request.user, terms=form.terms())
        if isinstance(result, MilestoneChange):
            messages.success(request, "Your new milestone was proposed. It is added when the client accepts.")
        else:
            messages.success(request, f"Milestone “{result.title}” added. Fund it when work should start.")
        return redirect(contract)
    context = {"contract": contract, "form": form, "heading": "Add a milestone", "role": contract.role_of(request.user)}
    return render(request, "contracts/milestone_form.html", context)


@login_required
@refusals_as_pages
def milestone_edit(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = get_object_or_404(contract.milestones, pk=milestone_id)
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
        messages.success(request, "Your change was proposed. It applies when the other party accepts.")
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
    messages.success(request, "You proposed removing the milestone. It is removed when the other party accepts.")
    return redirect(contract)


@login_required
@require_POST
@refusals_as_pages
def milestone_move(request, contract_id, milestone_id, direction):
    """Propose moving a future milestone one place up or down."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    if direction not in ("up", "down"):
        raise Http404("Unknown direction.")
    order = list(
        contract.milestones.filter(state=Milestone.State.DRAFT).order_by("position", "id").values_list("pk", flat=True)
    )
    if milestone_id not in order:
        raise ValidationError("Only future (not yet funded) milestones can be moved.")
    index = order.index(milestone_id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(order):
        raise ValidationError("That milestone cannot move further.")
    order[index], order[other] = order[other], order[index]
    services.milestone_change_propose(
        contract_id=contract.pk, actor=request.user, kind=MilestoneChange.Kind.REORDER, order=order
    )
    messages.success(request, "You proposed a new order. It applies when the other party accepts.")
    return redirect(contract)


@login_required
@refusals_as_pages
def change_decide(request, contract_id, change_id, decision):
    """Answer a proposed change. Accepting a refund moves money, so it is confirmed on its own page first."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    change = get_object_or_404(contract.changes.select_related("milestone"), pk=change_id)
    if decision not in ("accept", "decline", "withdraw"):
        raise Http404("Unknown decision.")
    if request.method != "POST":
        if decision != "accept" or change.kind != MilestoneChange.Kind.REFUND:
            return HttpResponseNotAllowed(["POST"])
        remaining = hold_balance(change.milestone.hold_reference)
        context = {"contract": contract, "change": change, "remaining": remaining}
        return render(request, "contracts/refund_confirm.html", context)
    if decision == "withdraw":
        services.milestone_change_withdraw(change_id=change.pk, actor=request.user)
        messages.info(request, "You withdrew your proposal.")
    else:
        accept = decision == "accept"
        services.milestone_change_decide(change_id=change.pk, actor=request.user, accept=accept)
        messages.success(request, "Change accepted and applied." if accept else "You declined the proposed change.")
    return redirect(contract)


@login_required
@refusals_as_pages
def contract_end(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    if request.method == "POST":
        services.contract_end(contract_id=contract.pk, actor=request.user)
        messages.info(request, "The contract has ended. Future milestones were cancelled.")
        return redirect(contract)
    return render(request, "contracts/contract_end.html", selectors.contract_page(contract=contract, user=request.user))


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


# --- submitting work and reviewing it ---


@login_required
def milestone_detail(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    context = selectors.milestone_page(contract=contract, milestone_id=milestone_id, user=request.user)
    return render(request, "contracts/milestone_detail.html", context)


@login_required
@refusals_as_pages
def milestone_submit(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = get_object_or_404(contract.milestones, pk=milestone_id)
    if contract.role_of(request.user) != "freelancer":
        raise PermissionDenied("Only the freelancer submits work.")
    form = SubmitWorkForm(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            submission = review.milestone_submit(
                milestone_id=milestone.pk,
                actor=request.user,
                message=form.cleaned_data["message"],
                links=form.cleaned_data["links"],
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            form.add_error("files", error)
        else:
            messages.success(request, f"Submission {submission.number} sent. The client’s review period has started.")
            return redirect("contracts:milestone_detail", contract.pk, milestone.pk)
    context = {"contract": contract, "milestone": milestone, "form": form, "review_days": settings.REVIEW_PERIOD.days}
    return render(request, "contracts/milestone_submit.html", context)


@login_required
def submission_file(request, contract_id, file_id):
    """Submitted files go only to the contract's two parties and staff, always as a download."""
    if request.user.is_staff:
        contract = get_object_or_404(Contract, pk=contract_id)
    else:
        contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    upload = get_object_or_404(SubmissionFile, pk=file_id, submission__milestone__contract=contract)
    return serve_upload(upload.file, upload.name)
