"""How each contract event reads as an email (messaging/emails.py renders it into the one layout).

Per recipient, in their language and timezone: a short subject ("Work submitted: Logo design"), what
happened with the amounts, the exact deadline where there is one ("Review by Tue, Dec 8, 2026, 14:05 CET —
after that the payment releases automatically"), the actor's own note as a quote (never in the subject) and
a button to the item. The in-app notification keeps its one sentence (contracts.events.notification_text).
"""

import copy
from datetime import date, datetime

from django.conf import settings
from django.utils import dateformat, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts.events import SPECS, EventKind, event_link, event_text
from messaging import emails

K = EventKind

SUBJECTS = {
    K.CONTRACT_STARTED: gettext_lazy("Contract started: %(title)s"),
    K.CONTRACT_ENDED: gettext_lazy("Contract ended: %(title)s"),
    K.MILESTONE_ADDED: gettext_lazy("Milestone added: %(title)s"),
    K.MILESTONE_EDITED: gettext_lazy("Milestone changed: %(title)s"),
    K.MILESTONES_REORDERED: gettext_lazy("Milestones reordered: %(title)s"),
    K.CHANGE_PROPOSED_ADD: gettext_lazy("New milestone proposed: %(title)s"),
    K.CHANGE_PROPOSED_EDIT: gettext_lazy("Milestone change proposed: %(title)s"),
    K.CHANGE_PROPOSED_DELETE: gettext_lazy("Milestone removal proposed: %(title)s"),
    K.CHANGE_PROPOSED_REORDER: gettext_lazy("New milestone order proposed: %(title)s"),
    K.CHANGE_PROPOSED_REFUND: gettext_lazy("Refund requested: %(title)s"),
    K.CHANGE_ACCEPTED: gettext_lazy("Change accepted: %(title)s"),
    K.CHANGE_DECLINED: gettext_lazy("Change declined: %(title)s"),
    K.CHANGE_WITHDRAWN: gettext_lazy("Change withdrawn: %(title)s"),
    K.FUND: gettext_lazy("Milestone funded: %(title)s"),
    K.SUBMIT: gettext_lazy("Work submitted: %(title)s"),
    K.WITHDRAW_SUBMISSION: gettext_lazy("Submission withdrawn: %(title)s"),
    K.REQUEST_CHANGES: gettext_lazy("Changes requested: %(title)s"),
    K.APPROVE: gettext_lazy("Work approved: %(title)s"),
    K.RELEASE: gettext_lazy("Payment released: %(title)s"),
    K.BONUS: gettext_lazy("Bonus paid: %(title)s"),
    K.REFUND: gettext_lazy("Milestone refunded: %(title)s"),
    K.PARTIAL_REFUND: gettext_lazy("Partial refund: %(title)s"),
    K.CANCEL: gettext_lazy("Milestone cancelled: %(title)s"),
    K.DISPUTE: gettext_lazy("Dispute opened: %(title)s"),
    K.RESOLVE_RELEASE: gettext_lazy("Dispute decided: %(title)s"),
    K.RESOLVE_REFUND: gettext_lazy("Dispute decided: %(title)s"),
    K.RESOLVE_SPLIT: gettext_lazy("Dispute decided: %(title)s"),
    K.REVIEW_REMINDER: gettext_lazy("Review reminder: %(title)s"),
    K.PARTIAL_RELEASE: gettext_lazy("Part payment released: %(title)s"),
    K.DISPUTE_EVIDENCE: gettext_lazy("New evidence in a dispute: %(title)s"),
    K.DISPUTE_PROPOSAL: gettext_lazy("Settlement proposed: %(title)s"),
    K.DISPUTE_PROPOSAL_DECLINED: gettext_lazy("Settlement declined: %(title)s"),
    K.DISPUTE_UNDER_REVIEW: gettext_lazy("Dispute passed to staff: %(title)s"),
    K.DISPUTE_ASSIGNED: gettext_lazy("Dispute taken on: %(title)s"),
    K.SETTLE: gettext_lazy("Dispute settled: %(title)s"),
    K.END_DISPUTE: gettext_lazy("Dispute withdrawn: %(title)s"),
    K.CONTRACT_QUIET: gettext_lazy("End this quiet contract? %(title)s"),
    K.CONTRACT_KEPT_OPEN: gettext_lazy("Contract kept open: %(title)s"),
    K.OVERDUE_FREELANCER: gettext_lazy("Milestone overdue: %(title)s"),
    K.OVERDUE_CLIENT: gettext_lazy("Milestone overdue: %(title)s"),
}
# A test checks that every kind has a subject.


def _day(value: date) -> str:
    return dateformat.format(value, _("D, M j, Y"))


def _sentence(event) -> str:
    """What happened, with the amounts: the thread line without the actor's note (quoted separately)."""
    quiet = copy.copy(event)
    quiet.note = ""
    return event_text(quiet).removeprefix("Automatically: ").rstrip(".") + "."


def _paragraphs(event, user) -> list[str]:
    kind = EventKind(event.kind)
    data = event.data or {}
    contract, milestone = event.contract, event.milestone
    is_client = user.pk == contract.client_id
    if kind == K.REVIEW_REMINDER:
        deadline = emails.when(datetime.fromisoformat(data["review_deadline"]), user)
        return [
            _("“%(milestone)s” is waiting for your review.") % {"milestone": milestone.title},
            _("Review by %(deadline)s — after that the payment releases automatically.") % {"deadline": deadline},
        ]
    if kind == K.CONTRACT_QUIET:
        ends = _day(datetime.fromisoformat(data["ends_at"]).astimezone(user.timezone).date())
        return [
            _("Nothing has happened on “%(contract)s” for a while and nothing is in escrow.")
            % {"contract": contract.title},
            _("End it now, or keep it open? If neither of you answers, it ends by itself on %(day)s.") % {"day": ends},
        ]
    if kind in (K.OVERDUE_FREELANCER, K.OVERDUE_CLIENT):
        due = _day(date.fromisoformat(data["due_date"]))
        late = _("“%(milestone)s” was due on %(day)s, is funded, and no work has been submitted.") % {
            "milestone": milestone.title,
            "day": due,
        }
        if kind == K.OVERDUE_FREELANCER:
            return [late, _("Submit the work, or refund the milestone to the client if you can't deliver it.")]
        return [late, _("Message the freelancer, or open a dispute if the work won't come.")]
    paragraphs = [_sentence(event)]
    if kind in (K.SUBMIT, K.END_DISPUTE) and data.get("review_deadline"):
        deadline = emails.when(datetime.fromisoformat(data["review_deadline"]), user)
        if is_client:
            paragraphs.append(
                _("Review by %(deadline)s — after that the payment releases automatically.") % {"deadline": deadline}
            )
        else:
            paragraphs.append(
                _("The client has until %(deadline)s to review it; after that the payment releases automatically.")
                % {"deadline": deadline}
            )
    elif SPECS[kind].extra:
        paragraphs.append(SPECS[kind].extra)
    if kind == K.RELEASE and event.actor_id is None:
        paragraphs.append(_("The review period ended without an answer, so it was approved and paid automatically."))
    if kind == K.CONTRACT_ENDED and event.actor_id is None:
        paragraphs.append(
            _("Nothing had happened on it for %(days)s days after you were asked.")
            % {"days": settings.QUIET_CONTRACT_END_AFTER.days}
        )
    return paragraphs


def _action(kind: EventKind, event) -> str:
    if kind in (K.SUBMIT, K.REVIEW_REMINDER):
        return _("Review the work")
    if kind == K.CONTRACT_QUIET:
        return _("End it or keep it open")
    if kind == K.CHANGE_PROPOSED_REFUND or kind.name.startswith("CHANGE_PROPOSED"):
        return _("Agree or decline")
    if event.milestone_id:
        return _("Open the milestone")
    return _("Open the contract")


def event_email(event, user) -> emails.Section:
    """The email section telling `user` about `event`, in their language and timezone."""
    kind = EventKind(event.kind)
    with translation.override(emails.user_language(user)):
        title = event.milestone.title if event.milestone_id else event.contract.title
        subject = str(SUBJECTS[kind]) % {"title": emails.short(title)}
        quotes = ()
        if event.note:
            by = event.actor.name if event.actor_id else settings.SITE_NAME
            quotes = ((by, event.note),)
        return emails.Section(
            subject=subject,
            paragraphs=tuple(_paragraphs(event, user)),
            quotes=quotes,
            action_label=_action(kind, event),
            url=emails.site_url(event_link(event)),
        )


OFFER_SUBJECTS = {
    "sent": gettext_lazy("New offer: %(title)s"),
    "revised": gettext_lazy("Offer revised: %(title)s"),
    "accepted": gettext_lazy("Offer accepted: %(title)s"),
    "declined": gettext_lazy("Offer declined: %(title)s"),
    "withdrawn": gettext_lazy("Offer withdrawn: %(title)s"),
}


def offer_email(*, step: str, title: str, text: str, actor, note: str = "") -> emails.Section:
    """An offer's step (sent, revised, accepted, declined, withdrawn); the actor's note is quoted."""
    return emails.Section(
        subject=str(OFFER_SUBJECTS[step]) % {"title": emails.short(title)},
        paragraphs=(text,),
        quotes=((actor.name, note),) if note else (),
        action_label=_("Open the offer"),
    )
