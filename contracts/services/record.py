"""The audit trail and the record in the parties' thread: every change is written to both."""

from contracts.events import event_link, event_text
from contracts.models import Contract, ContractEvent, Milestone, Offer
from contracts.notifications import notify_parties
from marketplace.models import User
from messaging.services import event_post, thread_set_notice

# Events the other party hears about through a notification (the review steps send their own,
# more specific ones from contracts.review).
NOTIFIED_KINDS = {
    "fund",
    "milestone_added",
    "milestone_edited",
    "milestones_reordered",
    "change_proposed_add",
    "change_proposed_edit",
    "change_proposed_delete",
    "change_proposed_reorder",
    "change_proposed_refund",
    "change_accepted",
    "change_declined",
    "refund",
    "partial_refund",
    "dispute",
    "resolve_release",
    "resolve_refund",
    "bonus",
    "contract_ended",
}


def _others(parties, actor) -> list[User]:
    return [user for user in parties if actor is None or user.pk != actor.pk]


def _record(*, contract, actor, kind, milestone=None, from_state="", to_state="", note="") -> ContractEvent:
    """Write the audit row, and post it into the parties' thread: the thread is the documented record."""
    event = ContractEvent.objects.create(
        contract=contract,
        milestone=milestone,
        actor=actor,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
    )
    text, link = event_text(event), event_link(event)
    thread = contract.offer.thread
    if thread is not None:
        event_post(thread=thread, text=text, actor=actor, link_url=link)
    if kind in NOTIFIED_KINDS:
        notify_parties(recipients=_others([contract.client, contract.freelancer], actor), text=text, url=link)
    return event


def _offer_event(offer: Offer, actor: User, text: str, link_url: str = "") -> None:
    """A step of the negotiation: into the thread, and a notification to the other party."""
    link_url = link_url or offer.get_absolute_url()
    if offer.thread is not None:
        event_post(thread=offer.thread, text=text, actor=actor, link_url=link_url)
    notify_parties(recipients=_others([offer.client, offer.freelancer], actor), text=text, url=link_url)


FUNDED_NOTICE = (
    "Delivering work through messages does not start the review period — use “Submit work” on the milestone."
)


def _refresh_notice(contract: Contract) -> None:
    """While a milestone is funded, the message box says that only Submit work starts a review."""
    thread = contract.offer.thread
    if thread is None:
        return
    funded = contract.milestones.filter(state__in=[Milestone.State.FUNDED, Milestone.State.CHANGES_REQUESTED])
    notice = FUNDED_NOTICE if funded.exists() else ""
    if thread.notice != notice:
        thread_set_notice(thread=thread, text=notice)
