"""The audit trail and the record in the parties' thread: every change is written to both."""

from contracts.events import event_link, event_text
from contracts.models import Contract, ContractEvent, Milestone, Offer
from marketplace.models import User
from messaging.services import event_post, thread_set_notice

# --- audit ---


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
    thread = contract.offer.thread
    if thread is not None:
        event_post(thread=thread, text=event_text(event), actor=actor, link_url=event_link(event))
    return event


def _offer_event(offer: Offer, actor: User, text: str, link_url: str = "") -> None:
    if offer.thread is not None:
        event_post(thread=offer.thread, text=text, actor=actor, link_url=link_url or offer.get_absolute_url())


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
