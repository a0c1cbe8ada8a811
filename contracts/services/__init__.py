"""Writes for offers, contracts and milestones.

Every state change follows the same steps: lock the row (`select_for_update`), check that the
actor may act, run the django-fsm transition, save, write the audit event and schedule side
effects with `transaction.on_commit`. Callers pass the acting user; nothing here trusts a view.
"""

from .changes import (
    contract_end,
    milestone_add,
    milestone_change_decide,
    milestone_change_propose,
    milestone_change_withdraw,
)
from .milestones import milestone_transition
from .money import (
    milestone_approve,
    milestone_bonus,
    milestone_refund,
    milestone_resolve_dispute,
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
from .record import FUNDED_NOTICE

__all__ = [
    "FUNDED_NOTICE",
    "contract_end",
    "milestone_add",
    "milestone_approve",
    "milestone_bonus",
    "milestone_change_decide",
    "milestone_change_propose",
    "milestone_change_withdraw",
    "milestone_refund",
    "milestone_resolve_dispute",
    "milestone_transition",
    "milestones_fund",
    "offer_accept",
    "offer_check_turn",
    "offer_create",
    "offer_decline",
    "offer_propose_revision",
    "offer_withdraw",
]
