"""The feedback page of an ended contract: write once, then read (double-blind until published)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from contracts.selectors import contract_for_party
from contracts.views.common import refusals_as_pages

from . import selectors, services
from .forms import FeedbackForm


@login_required
@refusals_as_pages
def contract_feedback(request, contract_id):
    contract = contract_for_party(user=request.user, contract_id=contract_id)  # 404 for anyone else
    page = selectors.contract_feedback_page(contract=contract, user=request.user)
    form = None
    if page["window"] is not None and page["may_leave"]:
        form = FeedbackForm(page["criteria"], request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form is None:  # refused with the reason the page shows (still active, already written, closed)
            if page["window"] is None:
                raise ValidationError("Feedback opens when the contract ends.")
            page["may_leave"].enforce()
        if form.is_valid():
            services.feedback_leave(
                contract_id=contract.pk,
                actor=request.user,
                scores=form.scores(),
                comment=form.cleaned_data["comment"],
                private_note=form.cleaned_data["private_note"],
            )
            messages.success(request, _("Thank you: your feedback is saved. It cannot be changed."))
            return redirect("feedback:contract", contract.pk)
    return render(request, "feedback/contract_feedback.html", {**page, "form": form})
