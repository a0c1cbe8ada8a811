"""Ended contracts and feedback for tests, built through the real actions."""

from contracts import services as contract_services
from contracts.tests.factories import fund_milestones, make_contract
from feedback import services
from feedback.models import CRITERIA, Role


def ended_contract(*, client=None, freelancer=None, amount="100.00", paid=True):
    """A one-milestone contract, paid (funded, submitted, approved) unless `paid` is False, then ended."""
    contract = make_contract(client=client, freelancer=freelancer, count=1, amount=amount)
    if paid:
        milestone = contract.milestones.get()
        fund_milestones(contract, milestone)
        contract_services.milestone_submit(
            milestone_id=milestone.pk, actor=contract.freelancer, message="Done", links=[]
        )
        contract_services.milestone_approve(milestone_id=milestone.pk, actor=contract.client)
    return contract_services.contract_end(contract_id=contract.pk, actor=contract.client)


def all_stars(role: str, stars: int = 5) -> dict[str, int]:
    return {key: stars for key, _, _ in CRITERIA[role]}


def leave(contract, who: str, stars: int = 5, comment: str = "", note: str = ""):
    """`who` ("client" or "freelancer") leaves feedback with `stars` on every criterion."""
    actor = contract.client if who == Role.CLIENT else contract.freelancer
    return services.feedback_leave(
        contract_id=contract.pk,
        actor=actor,
        scores=all_stars(who, stars),
        comment=comment or f"Feedback from the {who}.",
        private_note=note,
    )
