"""The parties' dispute page (evidence, settlement proposals, withdrawal) and the client's partial release."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import policy, selectors, services
from contracts.forms import EvidenceForm, ReleasePartForm, SplitForm
from contracts.models import Contract, DisputeEvidenceFile
from escrow.errors import EscrowError
from marketplace.money import format_money
from marketplace.uploads import serve_upload

from .common import flash_done, refusals_as_pages


@login_required
def dispute_detail(request, contract_id, dispute_id, evidence_form=None, split_form=None, status=200):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    dispute = selectors.dispute_for_party(contract=contract, dispute_id=dispute_id)
    context = selectors.dispute_page(dispute=dispute, user=request.user)
    context["evidence_form"] = evidence_form or EvidenceForm()
    held = context["money"].held
    context["split_form"] = split_form or SplitForm(initial={"to_freelancer": held, "to_client": 0})
    return render(request, "contracts/dispute_detail.html", context, status=status)


@login_required
@require_POST
@refusals_as_pages
def dispute_evidence(request, contract_id, dispute_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    dispute = selectors.dispute_for_party(contract=contract, dispute_id=dispute_id)
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.dispute_add_evidence(
                dispute_id=dispute.pk,
                actor=request.user,
                text=form.cleaned_data["text"],
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            form.add_error("files", error)
        else:
            messages.success(request, _("Your evidence was added to the record."))
            return redirect(dispute.get_absolute_url())
    return dispute_detail(request, contract_id, dispute_id, evidence_form=form, status=400)


@login_required
@require_POST
@refusals_as_pages
def dispute_propose(request, contract_id, dispute_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    dispute = selectors.dispute_for_party(contract=contract, dispute_id=dispute_id)
    form = SplitForm(request.POST)
    if form.is_valid():
        try:
            services.dispute_propose(dispute_id=dispute.pk, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Your proposal was sent. It settles the dispute as soon as the other party accepts.")
            )
            return redirect(dispute.get_absolute_url())
    return dispute_detail(request, contract_id, dispute_id, split_form=form, status=400)


@login_required
@require_POST
@refusals_as_pages
def dispute_proposal_answer(request, contract_id, dispute_id, proposal_id, decision):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    dispute = selectors.dispute_for_party(contract=contract, dispute_id=dispute_id)
    proposal = get_object_or_404(dispute.proposals, pk=proposal_id)
    if decision not in ("accept", "decline"):
        raise ValidationError("Unknown answer.")
    services.dispute_proposal_answer(proposal_id=proposal.pk, actor=request.user, accept=decision == "accept")
    if decision == "accept":
        messages.success(
            request,
            _("Settled: %(to_freelancer)s to %(freelancer)s, %(to_client)s back to %(client)s.")
            % {
                "to_freelancer": format_money(proposal.to_freelancer),
                "freelancer": contract.freelancer_name,
                "to_client": format_money(proposal.to_client),
                "client": contract.client_name,
            },
        )
    else:
        messages.info(request, _("You declined the proposal. You can propose another split or wait for staff."))
    return redirect(dispute.get_absolute_url())


@login_required
@require_POST
@refusals_as_pages
def dispute_withdraw(request, contract_id, dispute_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    dispute = selectors.dispute_for_party(contract=contract, dispute_id=dispute_id)
    services.dispute_withdraw(dispute_id=dispute.pk, actor=request.user)
    messages.success(request, _("You withdrew the dispute. The milestone is back where it was."))
    return redirect(dispute.milestone.get_absolute_url())


@login_required
def dispute_file(request, contract_id, file_id):
    """Evidence files go only to the contract's two parties and staff, always as a download."""
    if request.user.is_staff:
        contract = get_object_or_404(Contract, pk=contract_id)
    else:
        contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    upload = get_object_or_404(DisputeEvidenceFile, pk=file_id, evidence__dispute__milestone__contract=contract)
    return serve_upload(upload.file, upload.name)


@login_required
@refusals_as_pages
def milestone_release_part(request, contract_id, milestone_id):
    """The client releases part of a milestone's escrow now (confirmation first)."""
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "release_part").enforce()
    form = ReleasePartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.milestone_release_part(milestone_id=milestone.pk, actor=request.user, **form.cleaned_data)
        except EscrowError as error:
            form.add_error("amount", error.user_message)
        else:
            money = selectors.milestone_money(milestone)
            flash_done(request, "release_part", milestone, amount=form.cleaned_data["amount"], held=money.held)
            return redirect(milestone.get_absolute_url())
    return render(
        request, "contracts/milestone_release_part.html", {"contract": contract, "milestone": milestone, "form": form}
    )
