"""The answer to "end this quiet contract?": one click to end it (through contract_end) or keep it open."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import policy, selectors, services
from contracts.models import Milestone

from .common import refusals_as_pages


@login_required
def contract_quiet(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)  # 404 for anyone else
    open_money = contract.milestones.filter(state__in=Milestone.OPEN_MONEY_STATES).count()
    context = {
        "contract": contract,
        "pending": services.quiet_question_pending(contract),
        "can_end": bool(policy.contract_may_end(request.user, contract, open_money=open_money)),
    }
    return render(request, "contracts/contract_quiet.html", context)


@login_required
@require_POST
@refusals_as_pages
def contract_keep_open(request, contract_id):
    contract = selectors.contract_for_party(user=request.user, contract_id=contract_id)
    services.contract_keep_open(contract_id=contract.pk, actor=request.user)
    messages.success(request, _("The contract stays open. We'll ask again only after another quiet stretch."))
    return redirect(contract)
