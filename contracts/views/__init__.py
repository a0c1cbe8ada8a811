"""Thin views: parse the input, call one service, flash a message, redirect.

`@refusals_as_pages` turns a refused action (PermissionDenied, TransitionNotAllowed,
ValidationError raised by a service) into a clear page with a 4xx status; nothing changed.
"""

from .contracts import (  # noqa: F401
    change_decide,
    contract_detail,
    contract_end,
    contract_list,
    milestone_action,
    milestone_add,
    milestone_edit,
    milestone_move,
    milestone_remove,
)
from .disputes import (  # noqa: F401
    dispute_detail,
    dispute_evidence,
    dispute_file,
    dispute_proposal_answer,
    dispute_propose,
    dispute_withdraw,
    milestone_release_part,
)
from .money import milestone_approve, milestone_refund, milestone_refund_request, milestones_fund  # noqa: F401
from .offers import offer_accept, offer_create, offer_decline, offer_detail, offer_propose, offer_withdraw  # noqa: F401
from .quiet import contract_keep_open, contract_quiet  # noqa: F401
from .work import milestone_detail, milestone_submit, submission_file  # noqa: F401
