"""Submitting work, the milestone page with its submissions, and permission-checked downloads."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from contracts import policy, selectors, services
from contracts.forms import (
    SubmitWorkForm,
)
from contracts.models import Contract, SubmissionFile
from marketplace.caching import user_page
from marketplace.uploads import serve_upload

from .common import flash_done, refusals_as_pages

# --- submitting work and reviewing it ---


@login_required
def milestone_detail(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_of_contract(contract=contract, milestone_id=milestone_id)
    main = user_page(
        request,
        "contracts/_milestone_detail.html",
        lambda: selectors.milestone_page(contract=contract, milestone_id=milestone.pk, user=request.user),
    )
    return render(request, "contracts/milestone_detail.html", {"milestone": milestone, "main": main})


@login_required
@refusals_as_pages
def milestone_submit(request, contract_id, milestone_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    milestone = selectors.milestone_for_party(contract=contract, milestone_id=milestone_id)
    policy.milestone_may(request.user, milestone, "submit").enforce()  # a GET is refused like the POST
    form = SubmitWorkForm(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            submission = services.milestone_submit(
                milestone_id=milestone.pk,
                actor=request.user,
                message=form.cleaned_data["message"],
                links=form.cleaned_data["links"],
                files=form.cleaned_data["files"],
            )
        except ValidationError as error:
            form.add_error("files", error)
        else:
            flash_done(request, "submit", milestone, number=submission.number)
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
