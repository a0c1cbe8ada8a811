"""The one answer to "may this actor do this to this object now?" for the contracts domain.

Every function returns a `Verdict` (allowed, a stable code, and a reason a person can act on). Actions
in `contracts.services` call `.enforce()` before they change anything; selectors use the verdicts to choose
the buttons a page shows; action pages refuse a GET with the same verdict; admin asks the same questions.
Nothing else in the code base decides these things.

Who takes a milestone transition and from which states stays declared on the state machine itself
(`contracts.models.Milestone`, `permission=` and `source=`); this module reads it through django-fsm's
public API (`can_proceed`, `has_transition_perm`) and adds what the machine cannot know: whether the actor
is a party at all, whether the contract is active, and why not, in words.

Actors are users, or `SYSTEM` (the review-period sweep). Staff are users with `is_staff`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, gettext_lazy, ngettext
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

from marketplace.formats import format_date
from marketplace.i18n import in_sentence

from .models import Contract, Dispute, DisputeProposal, Milestone, MilestoneChange, Offer, OfferRevision
from .rules import MilestoneTerms

S = Milestone.State


class SystemActor:
    """The platform itself acting on a schedule (automatic approval). Recorded as no user."""

    pk = None
    is_staff = False
    is_authenticated = False
    name = "Automatically"

    def __repr__(self):
        return "SYSTEM"


SYSTEM = SystemActor()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: str = "ok"
    reason: str = ""
    # How a refusal is raised: "who" (the actor may never do this: 403), "when" (not in this state / not
    # now: 409) or "input" (what was asked is invalid: 400).
    kind: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    def enforce(self) -> None:
        """Raise the refusal (PermissionDenied, TransitionNotAllowed or ValidationError); nothing changed."""
        if self.allowed:
            return
        if self.kind == "who":
            raise PermissionDenied(self.reason)
        if self.kind == "input":
            raise ValidationError(self.reason)
        raise TransitionNotAllowed(self.reason)


ALLOW = Verdict(True)


def _who(code: str, reason: str) -> Verdict:
    return Verdict(False, code, reason, "who")


def _when(code: str, reason: str) -> Verdict:
    return Verdict(False, code, reason, "when")


def _invalid(code: str, reason: str) -> Verdict:
    # A refusal about a contract, a proposal or an offer (not a milestone's state): a 400 with the reason.
    return Verdict(False, code, reason, "input")


NOT_PARTY = _who("not_party", gettext_lazy("You are not a party to this contract."))
CONTRACT_ENDED = _when("contract_ended", gettext_lazy("This contract has ended."))


# --- who is who ---


def contract_role(contract: Contract, actor) -> str | None:
    """ "client", "freelancer", "staff", "system", or None for anyone else."""
    if actor is SYSTEM:
        return "system"
    if actor.pk is not None and actor.pk == contract.client_id:
        return "client"
    if actor.pk is not None and actor.pk == contract.freelancer_id:
        return "freelancer"
    if getattr(actor, "is_staff", False):
        return "staff"
    return None


def is_party(contract_or_offer, actor) -> bool:
    return actor.pk is not None and actor.pk in (contract_or_offer.client_id, contract_or_offer.freelancer_id)


# --- milestones ---


@dataclass(frozen=True)
class MilestoneAction:
    name: str
    label: str  # the button
    transition: str = ""  # the state-machine transition it runs, if any
    tone: str = "primary"  # the button's colour: primary, success, secondary or danger
    page: str = ""  # url name of its own page; "" = the shared action page
    note: tuple[str, str] | None = None  # (label, help) when the action needs a written note
    needs_active: bool = True
    verb: str = ""  # for reasons: "you can't {verb} now"
    # The flash once it is done: a whole sentence. Placeholders: {title} (the milestone), {freelancer} and
    # {client} (names), {amount} (what moved), {held} (what stays in escrow).
    done: str = ""
    # The roles for whom this action is the milestone's next step: shown as the one solid button.
    main_for: frozenset[str] = frozenset()

    @property
    def says(self) -> str:
        return str(self.verb or in_sentence(self.label))

    def done_message(self, **values) -> str:
        return str(self.done).format(**values)


@dataclass(frozen=True)
class Button:
    """An action as a page shows it to one person: `main` is their next step (solid), the rest are outlined."""

    action: MilestoneAction
    main: bool

    @property
    def name(self) -> str:
        return self.action.name

    @property
    def label(self) -> str:
        return self.action.label

    @property
    def css(self) -> str:
        return f"btn-{self.action.tone}" if self.main else f"btn-outline-{self.action.tone}"


_ = gettext_lazy
CLIENT, FREELANCER = frozenset({"client"}), frozenset({"freelancer"})

# In the order pages offer them.
MILESTONE_ACTIONS: dict[str, MilestoneAction] = {
    a.name: a
    for a in [
        MilestoneAction(
            "fund",
            _("Fund milestone"),
            "fund",
            verb=_("fund this milestone"),
            page="contracts:milestones_fund",
            done=_("Funded from your credit: {amount} is held in escrow."),  # a card payment: escrow's page says it
            main_for=CLIENT,
        ),
        MilestoneAction(
            "submit",
            _("Submit work"),
            "submit",
            verb=_("submit work"),
            page="contracts:milestone_submit",
            done=_("Submission {number} sent. The client’s review period has started."),
            main_for=FREELANCER,
        ),
        MilestoneAction(
            "approve",
            _("Approve work"),
            "approve",
            verb=_("approve this work"),
            tone="success",
            page="contracts:milestone_approve",
            done=_("Approved. {amount} was released to {freelancer}."),
            main_for=CLIENT,
        ),
        MilestoneAction(
            "request_changes",
            _("Request changes"),
            "request_changes",
            verb=_("request changes"),
            note=(_("What should change?"), _("Be specific: the freelancer works from this description.")),
            done=_("Changes requested on “{title}”. The review clock is stopped until the next submission."),
        ),
        MilestoneAction(
            "withdraw_submission",
            _("Withdraw submission"),
            "withdraw_submission",
            verb=_("withdraw the submission"),
            tone="secondary",
            done=_("Submission of “{title}” withdrawn. Submit again when it is ready."),
        ),
        MilestoneAction(
            "refund",
            _("Refund to client"),
            "refund",
            verb=_("refund this milestone"),
            tone="danger",
            page="contracts:milestone_refund",
            done=_("Refunded. {amount} went back to {client}."),
        ),
        MilestoneAction(
            "request_refund",
            _("Ask for a refund"),
            verb=_("ask for a refund"),
            tone="secondary",
            page="contracts:milestone_refund_request",
            done=_("Refund requested. The money returns to you when the freelancer agrees."),
        ),
        MilestoneAction(
            "release_part",
            _("Release part now"),
            tone="secondary",
            page="contracts:milestone_release_part",
            verb=_("release part of the payment"),
            done=_("Released {amount} now; {held} stays in escrow."),
        ),
        MilestoneAction(
            "dispute",
            _("Open a dispute"),
            "dispute",
            verb=_("open a dispute"),
            tone="danger",
            note=(_("What is the problem?"), _("Staff will read the contract's record and decide.")),
            needs_active=False,
            done=_(
                "Dispute opened. The money for “{title}” stays in escrow until it is settled or decided: "
                "add your evidence here, or propose a split to the other party."
            ),
        ),
        # Staff, in admin.
        MilestoneAction(
            "cancel",
            _("Cancel milestone"),
            "cancel",
            verb=_("cancel this milestone"),
            tone="danger",
            done=_("Milestone “{title}” cancelled."),
        ),
        MilestoneAction(
            "resolve_release",
            _("Resolve: release to freelancer"),
            "resolve_release",
            verb=_("decide this dispute"),
            needs_active=False,
            done=_("Dispute decided: the money for “{title}” was released to {freelancer}."),
        ),
        MilestoneAction(
            "resolve_refund",
            _("Resolve: refund to client"),
            "resolve_refund",
            verb=_("decide this dispute"),
            needs_active=False,
            done=_("Dispute decided: the money for “{title}” was refunded to {client}."),
        ),
        # After release: a bonus on top (on the approve page, or later).
        MilestoneAction(
            "bonus",
            _("Pay a bonus"),
            verb=_("pay a bonus"),
            needs_active=False,  # paid on the provider's page: escrow's payment page says it is done
        ),
        # Future (draft) milestones change only by the other party's consent.
        MilestoneAction(
            "propose_edit",
            _("Propose edit"),
            verb=_("propose changes to this milestone"),
            tone="secondary",
            page="contracts:milestone_edit",
            done=_("Change proposed. It applies when the other party accepts."),
        ),
        MilestoneAction(
            "propose_remove",
            _("Propose removal"),
            verb=_("propose removing this milestone"),
            tone="secondary",
            done=_("Removal proposed. “{title}” is removed when the other party accepts."),
        ),
        MilestoneAction(
            "propose_move",
            _("Propose a new order"),
            verb=_("propose a new order"),
            tone="secondary",
            done=_("New order proposed. It applies when the other party accepts."),
        ),
    ]
}
# What parties see as buttons on a milestone (the rest are staff's, or part of another page).
PARTY_BUTTONS = (
    "fund",
    "submit",
    "approve",
    "request_changes",
    "withdraw_submission",
    "release_part",
    "refund",
    "request_refund",
)
PARTY_DANGER_BUTTONS = ("dispute",)
STAFF_ACTIONS = ("cancel", "resolve_release", "resolve_refund")
# Non-transition actions: who, and from which states.
_OWN_RULES = {
    "request_refund": ({"client"}, (S.FUNDED, S.CHANGES_REQUESTED)),
    "release_part": ({"client"}, (S.FUNDED, S.SUBMITTED, S.CHANGES_REQUESTED)),
    "bonus": ({"client"}, (S.RELEASED,)),
    "propose_edit": ({"client", "freelancer"}, (S.DRAFT,)),
    "propose_remove": ({"client", "freelancer"}, (S.DRAFT,)),
    "propose_move": ({"client", "freelancer"}, (S.DRAFT,)),
}


def action_label(name: str) -> str:
    action = MILESTONE_ACTIONS.get(name)
    return action.label if action else name.replace("_", " ")


def action_says(name: str) -> str:
    action = MILESTONE_ACTIONS.get(name)
    return action.says if action else name.replace("_", " ")


def _wrong_state_reason(milestone: Milestone, action: MilestoneAction) -> str:
    return gettext("This milestone is %(state)s: you can't %(action)s now.") % {
        "state": in_sentence(milestone.get_state_display()),
        "action": action.says,
    }


# Worded only when read: a page asks about a dozen actions per milestone, most of them refused, and uses
# only the booleans.
_wrong_state_reason_lazy = lazy(_wrong_state_reason, str)


def _wrong_state(milestone: Milestone, action: MilestoneAction) -> Verdict:
    return _when("wrong_state", _wrong_state_reason_lazy(milestone, action))


def milestone_may(actor, milestone: Milestone, name: str, *, pending_refund_request: bool | None = None) -> Verdict:
    """May `actor` take action `name` on `milestone` now?

    `milestone.contract` must be loaded (it is, on every page and in every action). For "request_refund",
    pass whether a refund request for this milestone is already pending if you know it (pages do, from
    the changes they list); otherwise it is looked up.
    """
    action = MILESTONE_ACTIONS.get(name)
    if action is None:
        return _when("unknown_action", _("Unknown action."))
    contract = milestone.contract
    role = contract_role(contract, actor)
    if role is None:
        return NOT_PARTY
    if name in PAYMENT_BLOCKS and milestone.state == S.DRAFT and _payment_processing(milestone):
        return PAYMENT_PROCESSING
    method = getattr(milestone, action.transition) if action.transition else None
    if method is not None:
        if name == "dispute" and milestone.state == S.RELEASED and role in ("client", "freelancer"):
            return _when(
                "released_is_final",
                _(
                    "This payment was released, and a released payment is final: it can't be disputed here. "
                    "Contact support if you believe the charge itself was wrong."
                ),
            )
        if not can_proceed(method, check_conditions=False):
            return _wrong_state(milestone, action)
    else:
        roles, states = _OWN_RULES[name]
        if role not in roles:
            return _who("not_your_role", gettext("You are not the one who can %(action)s.") % {"action": action.says})
        if milestone.state not in states:
            return _wrong_state(milestone, action)
    # The machine's `conditions=` in words, before its `permission=` (which django-fsm checks together).
    if action.needs_active and not contract.is_active:
        return CONTRACT_ENDED
    if name == "request_changes" and milestone.changes_requested_count >= contract.revision_rounds:
        return _when(
            "no_revision_rounds",
            ngettext(
                "The %(count)d revision round agreed in the contract has been used. "
                "You can approve the work or open a dispute.",
                "All %(count)d revision rounds agreed in the contract have been used. "
                "You can approve the work or open a dispute.",
                contract.revision_rounds,
            )
            % {"count": contract.revision_rounds},
        )
    if method is not None:
        if role == "system":
            if name != "approve":  # the sweep approves when the review period ends; nothing else
                return _who(
                    "not_your_role", gettext("The platform does not %(action)s by itself.") % {"action": action.says}
                )
        elif not has_transition_perm(method, actor):
            return _who("not_your_role", gettext("You are not the one who can %(action)s.") % {"action": action.says})
    if name == "request_refund":
        if pending_refund_request is None:
            pending_refund_request = MilestoneChange.objects.filter(
                milestone=milestone, kind=MilestoneChange.Kind.REFUND, status=MilestoneChange.Status.PENDING
            ).exists()
        if pending_refund_request:
            return _when("refund_already_requested", _("You already asked for a refund; the freelancer has to answer."))
    return ALLOW


# While a payment for a draft milestone is processing, it is neither funded nor free to change.
PAYMENT_BLOCKS = ("fund", "submit", "propose_edit", "propose_remove", "propose_move", "cancel")
PAYMENT_PROCESSING = _when(
    "payment_processing",
    _(
        "Payment processing: this milestone is funded as soon as the payment provider confirms the payment. "
        "Don't start work on it yet."
    ),
)


def _payment_processing(milestone: Milestone) -> bool:
    """From the milestone's money when a page loaded it (one query for all milestones), else looked up."""
    money = getattr(milestone, "money", None)
    if money is not None:
        return money.payment_processing
    from escrow.selectors import open_payments

    return milestone.hold_reference in open_payments([milestone.hold_reference])


def milestone_actions(actor, milestone: Milestone, names=PARTY_BUTTONS, **kwargs) -> list[MilestoneAction]:
    """The actions of `names` the actor may take now, in page order: what a page shows as buttons."""
    return [MILESTONE_ACTIONS[n] for n in names if milestone_may(actor, milestone, n, **kwargs)]


def milestone_buttons(actor, milestone: Milestone, names=PARTY_BUTTONS, **kwargs) -> list[Button]:
    """The actions the actor may take now as buttons: the first one that is this actor's next step on the
    milestone (`main_for` their role) is the main, solid button; everything else is outlined. A freelancer
    waiting for a review has no main button: withdrawing is possible, not the next step."""
    role = contract_role(milestone.contract, actor)
    buttons, main_taken = [], False
    for action in milestone_actions(actor, milestone, names, **kwargs):
        main = not main_taken and role in action.main_for
        main_taken = main_taken or main
        buttons.append(Button(action, main))
    return buttons


# --- contracts ---


def contract_may_view(actor, contract: Contract) -> Verdict:
    return ALLOW if is_party(contract, actor) else NOT_PARTY


def contract_may_change(actor, contract: Contract) -> Verdict:
    """Propose or apply changes to a contract's milestones (add, edit, reorder, answer proposals)."""
    if not is_party(contract, actor):
        return NOT_PARTY
    if not contract.is_active:
        return _invalid("contract_ended", _("This contract has ended; its milestones can no longer change."))
    return ALLOW


def contract_may_add_milestone(actor, contract: Contract, *, milestone_count: int) -> Verdict:
    verdict = contract_may_change(actor, contract)
    if verdict and milestone_count >= settings.OFFER_MAX_MILESTONES:
        return Verdict(
            False,
            "too_many",
            gettext("A contract can have at most %(count)d milestones.") % {"count": settings.OFFER_MAX_MILESTONES},
            "input",
        )
    return verdict


def contract_is_quiet_enough_to_end(contract: Contract, *, last_activity, asked_at, now) -> bool:
    """The platform ends a contract by itself only when it has been quiet for QUIET_CONTRACT_END_AFTER and both
    parties were asked about this quiet stretch (after its last activity) long enough ago to have answered."""
    notice = settings.QUIET_CONTRACT_END_AFTER - settings.QUIET_CONTRACT_ASK_AFTER
    return (
        last_activity is not None
        and asked_at is not None
        and asked_at >= last_activity
        and now - last_activity >= settings.QUIET_CONTRACT_END_AFTER
        and now - asked_at >= notice
    )


def contract_may_end(actor, contract: Contract, *, open_money: int, quiet: dict | None = None) -> Verdict:
    """Either party ends an active contract once nothing is funded, under review or in dispute; the platform
    (SYSTEM) ends one that stayed quiet (`quiet`: {"last_activity", "asked_at", "now"}, see
    contracts.services.quiet).

    `open_money`: how many milestones are in `Milestone.OPEN_MONEY_STATES`.
    """
    if actor is SYSTEM:
        if not contract.is_active:
            verdict = CONTRACT_ENDED
        elif not (quiet and contract_is_quiet_enough_to_end(contract, **quiet)):
            verdict = _who("not_quiet", _("The platform ends only a contract that stayed quiet after both were asked."))
        else:
            verdict = ALLOW
    else:
        verdict = contract_may_change(actor, contract)
    if verdict and open_money:
        return _invalid(
            "money_in_escrow",
            ngettext(
                "%(count)d milestone is funded, under review or in dispute. "
                "It must be paid, refunded or resolved before the contract can end.",
                "%(count)d milestones are funded, under review or in dispute. "
                "They must be paid, refunded or resolved before the contract can end.",
                open_money,
            )
            % {"count": open_money},
        )
    return verdict


def contract_may_ask_quiet(actor, contract: Contract, *, open_money: int, quiet: dict) -> Verdict:
    """The platform asks both parties whether to end a contract with nothing in escrow and no activity for
    QUIET_CONTRACT_ASK_AFTER, once per quiet stretch (not again until something happens)."""
    if actor is not SYSTEM:
        return _who("not_your_role", _("Only the platform asks whether to end a quiet contract."))
    if not contract.is_active:
        return CONTRACT_ENDED
    last_activity, asked_at, now = quiet["last_activity"], quiet["asked_at"], quiet["now"]
    if open_money or now - last_activity < settings.QUIET_CONTRACT_ASK_AFTER:
        return _when("not_quiet", _("This contract is not quiet."))
    if asked_at is not None and asked_at >= last_activity:
        return _when("already_asked", _("Both parties were already asked."))
    return ALLOW


def contract_may_keep_open(actor, contract: Contract, *, asked: bool) -> Verdict:
    """A party answers the platform's "end this quiet contract?" with "keep it open" (`asked`: the question
    is pending, i.e. asked since the contract's last activity)."""
    verdict = contract_may_change(actor, contract)
    if verdict and not asked:
        return _invalid("not_asked", _("Nobody asked to end this contract: there is nothing to answer."))
    return verdict


def change_may_answer(actor, change: MilestoneChange) -> Verdict:
    """Accept or decline a proposed change: the other party, while it is pending."""
    verdict = contract_may_change(actor, change.contract)
    if not verdict:
        return verdict
    if change.status != MilestoneChange.Status.PENDING:
        return _invalid("answered", _("This proposal has already been answered."))
    if change.proposed_by_id == actor.pk:
        return _who("own_proposal", _("The other party has to answer your proposal."))
    return ALLOW


def change_may_accept(actor, change: MilestoneChange) -> Verdict:
    """Accept a proposed change: as answering it, and a milestone it adds or edits must not be due already (a
    proposal left unanswered past its delivery date is declined, and proposed again with a new date)."""
    verdict = change_may_answer(actor, change)
    if not verdict:
        return verdict
    if change.kind in (MilestoneChange.Kind.ADD, MilestoneChange.Kind.EDIT):
        due = MilestoneTerms.from_payload(change.payload).due_date
        if due < timezone.localdate():
            reason = gettext(
                "The proposed delivery date, %(date)s, has passed. Decline this proposal; a new one can propose "
                "another date."
            ) % {"date": format_date(due)}
            return _when("due_date_passed", reason)
    return ALLOW


def change_may_withdraw(actor, change: MilestoneChange) -> Verdict:
    if not is_party(change.contract, actor):
        return NOT_PARTY
    if change.proposed_by_id != actor.pk:
        return _who("not_proposer", _("Only the person who proposed a change can withdraw it."))
    if change.status != MilestoneChange.Status.PENDING:
        return _invalid("answered", _("This proposal has already been answered."))
    return ALLOW


# --- offers ---


def is_turn_of(actor, *, latest_author_id: int) -> bool:
    """A negotiation alternates: the party who did not write the latest revision answers it."""
    return latest_author_id != actor.pk


def offer_may_answer(actor, offer: Offer, latest: OfferRevision, *, seen_revision: int | None = None) -> Verdict:
    """Accept, counter or propose changes: the party who did not write the latest revision, while pending."""
    if not is_party(offer, actor):
        return _who("not_party", _("You are not a party to this offer."))
    if not offer.is_pending:
        return _invalid(
            "closed",
            gettext("This offer is %(status)s; it can no longer change.")
            % {"status": in_sentence(offer.get_status_display())},
        )
    if seen_revision is not None and latest.number != seen_revision:
        return Verdict(
            False, "stale", _("The offer changed while you were looking at it. Review the latest revision."), "input"
        )
    if not is_turn_of(actor, latest_author_id=latest.author_id):
        return _who("not_your_turn", _("The other party has to answer your latest revision first."))
    return ALLOW


def offer_may_decline(actor, offer: Offer, latest: OfferRevision) -> Verdict:
    if is_party(offer, actor) and actor.pk != offer.freelancer_id:
        return _who("not_freelancer", _("Only the freelancer can decline an offer."))
    return offer_may_answer(actor, offer, latest)


def offer_may_withdraw(actor, offer: Offer) -> Verdict:
    if not is_party(offer, actor):
        return _who("not_party", _("You are not a party to this offer."))
    if actor.pk != offer.client_id:
        return _who("not_client", _("Only the client can withdraw an offer."))
    if not offer.is_pending:
        return _invalid(
            "closed",
            gettext("This offer is %(status)s; it can no longer be withdrawn.")
            % {"status": in_sentence(offer.get_status_display())},
        )
    return ALLOW


# --- disputes ---

DISPUTE_ACTIONS = ("add_evidence", "propose", "withdraw", "assign", "decide")


def dispute_may(actor, dispute: Dispute, name: str) -> Verdict:
    """Evidence and proposals from either party, withdrawal by the opener, assignment and decision by staff;
    all only while the dispute is open. `dispute.milestone.contract` must be loaded."""
    contract = dispute.milestone.contract
    role = contract_role(contract, actor)
    if role is None or role == "system":
        return NOT_PARTY
    staff_only = name in ("assign", "decide")
    if staff_only and role != "staff":
        return _who("staff_only", _("Only staff decide a dispute."))
    if not staff_only and role not in ("client", "freelancer"):
        return _who("parties_only", _("Only the two parties add evidence, propose a settlement or withdraw."))
    if name == "withdraw" and actor.pk != dispute.opened_by_id:
        return _who("not_opener", _("Only the person who opened the dispute can withdraw it."))
    if not dispute.is_open:
        return _when(
            "dispute_closed",
            gettext("This dispute is %(state)s.") % {"state": in_sentence(dispute.get_state_display())},
        )
    return ALLOW


def dispute_proposal_may_answer(actor, proposal: DisputeProposal) -> Verdict:
    verdict = dispute_may(actor, proposal.dispute, "propose")
    if not verdict:
        return verdict
    if proposal.status != DisputeProposal.Status.PENDING:
        return _when("answered", _("This proposal has already been answered."))
    if proposal.proposed_by_id == actor.pk:
        return _who("own_proposal", _("The other party has to answer your proposal."))
    return ALLOW
