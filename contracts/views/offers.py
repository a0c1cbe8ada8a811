"""Offer pages: write, negotiate (revisions and diffs), accept, decline, withdraw."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import policy, selectors, services
from contracts.forms import (
    MilestoneFormSet,
    OfferTermsForm,
    ReasonForm,
    milestone_initial,
    terms_initial,
)
from marketplace.accounts import verified_email_required

from .common import posted_int, refusals_as_pages

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


@verified_email_required  # logged in, with a confirmed email address
def offer_create(request):
    freelancer = selectors.freelancer_for_offer(
        client=request.user, freelancer_id=posted_int(request.GET.get("freelancer") or request.POST.get("freelancer"))
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
            messages.success(request, _("Your offer was sent to %(name)s.") % {"name": freelancer.name})
            return redirect(offer)
    context = _offer_form_context(form, formset, freelancer=freelancer, heading=f"Send an offer to {freelancer.name}")
    return render(request, "contracts/offer_form.html", context)


@login_required
def offer_detail(request, offer_id, number=None):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    view = selectors.offer_revision_view(offer=offer, number=number)
    my_turn = bool(policy.offer_may_answer(request.user, offer, view.latest))
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
                seen_revision=posted_int(request.POST.get("seen_revision")),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Your revision was sent to %(name)s.") % {"name": offer.other_party(request.user).name}
            )
            return redirect(offer)
    verb = "Propose changes" if request.user.pk == offer.freelancer_id else "Counter with changes"
    context = _offer_form_context(form, formset, offer=offer, latest=latest, heading=f"{verb}: {latest.title}")
    return render(request, "contracts/offer_form.html", context)


@verified_email_required  # logged in, with a confirmed email address
@require_POST
@refusals_as_pages
def offer_accept(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    contract = services.offer_accept(
        offer_id=offer.pk, actor=request.user, revision_number=posted_int(request.POST.get("revision"))
    )
    messages.success(request, _("Offer accepted. The contract has started — fund the first milestone to begin."))
    return redirect(contract)


@login_required
@refusals_as_pages
def offer_decline(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.offer_decline(offer_id=offer.pk, actor=request.user, reason=form.cleaned_data["reason"])
        messages.info(request, _("You declined the offer. The client has been told why."))
        return redirect(offer)
    return render(request, "contracts/offer_decline.html", {"offer": offer, "form": form})


@login_required
@refusals_as_pages
def offer_withdraw(request, offer_id):
    offer = selectors.offer_for_party(user=request.user, offer_id=offer_id)
    if request.method == "POST":
        services.offer_withdraw(offer_id=offer.pk, actor=request.user)
        messages.info(request, _("You withdrew the offer."))
        return redirect(offer)
    return render(request, "contracts/offer_withdraw.html", {"offer": offer})
