"""Every write of the contracts domain: one action per thing a person (or the platform) does.

Each action is `<entity>_<verb>(*, actor, ...)`: it locks what it changes (in the one lock order, see
`record.py`), asks `contracts.policy` whether the actor may do it now and enforces the answer, runs the
state-machine transition, writes the typed event (`contracts.events`) into the record and the thread, and
leaves emails to after commit. Views, admin, tasks, the demo and tests call only these. The platform's own
scheduled work acts as `contracts.policy.SYSTEM`; staff are users with `is_staff`.
"""

from .changes import (
    contract_end,
    milestone_add,
    milestone_change_decide,
    milestone_change_propose,
    milestone_change_withdraw,
    milestone_refund_request,
)
from .disputes import (
    dispute_add_evidence,
    dispute_assign,
    dispute_decide,
    dispute_proposal_answer,
    dispute_propose,
    dispute_withdraw,
    disputes_to_review,
    milestone_dispute,
    milestone_release_part,
    milestone_resolve_dispute,
)
from .milestones import (
    milestone_cancel,
    milestone_request_changes,
    milestone_submit,
    milestone_withdraw_submission,
    release_overdue,
    send_review_reminders,
)
from .money import (
    bonus_quote,
    milestone_approve,
    milestone_bonus,
    milestone_refund,
    milestones_fund,
)
from .offers import (
    offer_accept,
    offer_check_turn,
    offer_create,
    offer_decline,
    offer_propose_revision,
    offer_withdraw,
)
from .quiet import contract_keep_open, quiet_contracts_sweep, quiet_question_pending
from .record import FUNDED_NOTICE, events_notify

__all__ = [
    "FUNDED_NOTICE",
    "bonus_quote",
    "contract_end",
    "contract_keep_open",
    "dispute_add_evidence",
    "dispute_assign",
    "dispute_decide",
    "dispute_proposal_answer",
    "dispute_propose",
    "dispute_withdraw",
    "disputes_to_review",
    "events_notify",
    "milestone_add",
    "milestone_approve",
    "milestone_bonus",
    "milestone_cancel",
    "milestone_change_decide",
    "milestone_change_propose",
    "milestone_change_withdraw",
    "milestone_dispute",
    "milestone_refund",
    "milestone_refund_request",
    "milestone_release_part",
    "milestone_request_changes",
    "milestone_resolve_dispute",
    "milestone_submit",
    "milestone_withdraw_submission",
    "milestones_fund",
    "offer_accept",
    "offer_check_turn",
    "offer_create",
    "offer_decline",
    "offer_propose_revision",
    "offer_withdraw",
    "quiet_contracts_sweep",
    "quiet_question_pending",
    "release_overdue",
    "send_review_reminders",
]

# The actions the shared milestone action page runs, by name (each takes milestone_id, actor, note).
NOTE_ACTIONS = {
    "request_changes": milestone_request_changes,
    "withdraw_submission": milestone_withdraw_submission,
    "dispute": milestone_dispute,
    "cancel": milestone_cancel,
}
