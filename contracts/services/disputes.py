"""Disputes as cases: open, evidence, settlement proposals, withdrawal, staff assignment and decision;
and the client's partial release of a milestone without a dispute.

Lock order (see record.py): the milestone row, then the dispute row, then its proposals, then escrow. A
settlement (by the parties or by staff) is ONE escrow entry that releases one part and refunds the rest
(`escrow.services.hold_settle`), unique per hold, so a staff decision racing a party settlement ends with
exactly one of them.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contracts import policy
from contracts.events import EventKind
from contracts.models import (
    Dispute,
    DisputeEvidence,
    DisputeEvidenceFile,
    DisputeProposal,
    Milestone,
    Submission,
    evidence_upload_to,
)
from contracts.notifications import notify_staff
from escrow.selectors import entry_split, hold_balance
from escrow.services import hold_release_part, hold_settle
from marketplace.models import User
from marketplace.money import format_money, to_money
from marketplace.uploads import files_removed_on_failure, validate_uploads

from .record import as_user, lock_milestone, record, refresh_notice, run_transition

S = Milestone.State


def _staff_url(dispute: Dispute) -> str:
    return reverse("admin:contracts_dispute_change", args=[dispute.pk])


def _lock(dispute_id: int) -> tuple[Milestone, Dispute]:
    """Lock the dispute's milestone, then the dispute (the one lock order)."""
    milestone_id = Dispute.objects.values_list("milestone_id", flat=True).get(pk=dispute_id)
    milestone = lock_milestone(milestone_id)
    dispute = Dispute.objects.select_for_update(of=("self",)).get(pk=dispute_id)
    dispute.milestone = milestone
    return milestone, dispute


def milestone_dispute(*, milestone_id: int, actor: User, note: str) -> Dispute:
    """Either party disputes a funded milestone: escrow freezes, automatic release pauses, the other party
    has DISPUTE_RESPONSE_PERIOD to answer with evidence, and staff are told."""
    note = (note or "").strip()
    if not note:
        raise ValidationError("Please add a note explaining this.")
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "dispute").enforce()
        previous, remaining = milestone.state, None
        if previous == S.SUBMITTED:
            pending = milestone.submissions.filter(status=Submission.Status.PENDING).first()
            if pending is not None and pending.review_deadline is not None:
                remaining = max(pending.review_deadline - timezone.now(), timezone.timedelta(0))
        run_transition(milestone, actor=actor, name="dispute", note=note)
        dispute = Dispute.objects.create(
            milestone=milestone,
            opened_by=actor,
            reason=note,
            previous_state=previous,
            review_remaining=remaining,
            response_due_at=timezone.now() + settings.DISPUTE_RESPONSE_PERIOD,
        )
        notify_staff(
            text=f"Dispute opened by {actor.name} on “{milestone.title}” ({milestone.contract.title}): {note[:200]}",
            url=_staff_url(dispute),
        )
        return dispute


def dispute_add_evidence(*, dispute_id: int, actor: User, text: str, files=()) -> DisputeEvidence:
    """A party puts text (and files, hashed) on the record. The other party's first answer starts staff review."""
    files = list(files)
    text = (text or "").strip()
    if not text:
        raise ValidationError("Describe what this evidence shows.")
    uploads = validate_uploads(files)  # before any lock
    with files_removed_on_failure() as saved, transaction.atomic():
        milestone, dispute = _lock(dispute_id)
        policy.dispute_may(actor, dispute, "add_evidence").enforce()
        evidence = DisputeEvidence.objects.create(dispute=dispute, author=actor, text=text)
        for upload, file in zip(uploads, files, strict=True):
            file.seek(0)
            stored = default_storage.save(evidence_upload_to(evidence, upload.name), file)
            saved.append(stored)
            DisputeEvidenceFile.objects.create(
                evidence=evidence,
                file=stored,
                name=upload.name,
                content_type=upload.content_type,
                size=upload.size,
                sha256=upload.sha256,
            )
        record(
            contract=milestone.contract,
            milestone=milestone,
            actor=actor,
            kind=EventKind.DISPUTE_EVIDENCE,
            data={"dispute": dispute.pk, "files": len(uploads)},
        )
        if dispute.state == Dispute.State.OPEN and actor.pk != dispute.opened_by_id:
            _start_review(dispute)
        notify_staff(text=f"New evidence from {actor.name} in dispute #{dispute.pk}.", url=_staff_url(dispute))
        return evidence


def _start_review(dispute: Dispute) -> None:
    """The case goes to staff: recorded as the platform's step, whoever's action triggered it."""
    dispute.start_review()
    dispute.save(update_fields=["state"])
    milestone = dispute.milestone
    record(
        contract=milestone.contract,
        milestone=milestone,
        actor=policy.SYSTEM,
        kind=EventKind.DISPUTE_UNDER_REVIEW,
        data={"dispute": dispute.pk},
    )


def _check_split(milestone: Milestone, to_freelancer, to_client):
    held = hold_balance(milestone.hold_reference)
    to_freelancer, to_client = to_money(to_freelancer), to_money(to_client)
    if to_freelancer < 0 or to_client < 0:
        raise ValidationError("Amounts can't be negative.")
    if to_freelancer + to_client != held:
        raise ValidationError(
            f"The two amounts must add up to the {format_money(held)} held in escrow "
            f"(you entered {format_money(to_freelancer + to_client)})."
        )
    return to_freelancer, to_client


def dispute_propose(*, dispute_id: int, actor: User, to_freelancer, to_client) -> DisputeProposal:
    """Either party proposes a split of what is held; it replaces their earlier pending proposal."""
    with transaction.atomic():
        milestone, dispute = _lock(dispute_id)
        policy.dispute_may(actor, dispute, "propose").enforce()
        to_freelancer, to_client = _check_split(milestone, to_freelancer, to_client)
        dispute.proposals.filter(status=DisputeProposal.Status.PENDING).update(
            status=DisputeProposal.Status.WITHDRAWN, decided_at=timezone.now()
        )
        proposal = DisputeProposal.objects.create(
            dispute=dispute, proposed_by=actor, to_freelancer=to_freelancer, to_client=to_client
        )
        record(
            contract=milestone.contract,
            milestone=milestone,
            actor=actor,
            kind=EventKind.DISPUTE_PROPOSAL,
            data={"dispute": dispute.pk, "to_freelancer": to_freelancer, "to_client": to_client},
        )
        return proposal


def dispute_proposal_answer(*, proposal_id: int, actor: User, accept: bool) -> DisputeProposal:
    """The other party accepts (the settlement executes at once, without staff) or declines a proposal."""
    dispute_id = DisputeProposal.objects.values_list("dispute_id", flat=True).get(pk=proposal_id)
    with transaction.atomic():
        milestone, dispute = _lock(dispute_id)
        proposal = DisputeProposal.objects.select_for_update(of=("self",)).get(pk=proposal_id)
        proposal.dispute = dispute
        policy.dispute_proposal_may_answer(actor, proposal).enforce()
        proposal.status = DisputeProposal.Status.ACCEPTED if accept else DisputeProposal.Status.DECLINED
        proposal.decided_at = timezone.now()
        proposal.save(update_fields=["status", "decided_at"])
        if not accept:
            record(
                contract=milestone.contract,
                milestone=milestone,
                actor=actor,
                kind=EventKind.DISPUTE_PROPOSAL_DECLINED,
                data={"dispute": dispute.pk},
            )
            return proposal
        _settle(
            milestone,
            dispute,
            actor=actor,
            to_freelancer=proposal.to_freelancer,
            to_client=proposal.to_client,
            transition="settle",
            note=f"Settled by the parties ({proposal.proposed_by.name}’s proposal, accepted by {actor.name}).",
        )
        dispute.settle()
        dispute.save()
        return proposal


def _settle(milestone, dispute, *, actor, to_freelancer, to_client, transition, note, waive_fee=False) -> None:
    """Split the escrow in one entry, end the milestone, record the amounts (caller holds the locks)."""
    entry = hold_settle(
        reference=milestone.hold_reference,
        to_payee=to_freelancer,
        to_payer=to_client,
        destination=milestone.contract.client.refund_to,
        actor=as_user(actor),
        waive_fee=waive_fee,
    )
    split = entry_split(entry)
    fee = split.get("platform_fees", 0)
    data = {"to_freelancer": to_freelancer, "to_client": to_client, "fee": fee, "received": to_freelancer - fee}
    kwargs = {"paid_to_freelancer": to_freelancer > 0} if transition == "settle" else {}
    if transition == "resolve_release":
        data = {"released": to_freelancer, "fee": fee, "received": to_freelancer - fee}
    elif transition == "resolve_refund":
        data = {"refunded": to_client}
    run_transition(milestone, actor=actor, name=transition, note=note, data=data, **kwargs)
    dispute.to_freelancer, dispute.to_client = to_freelancer, to_client
    dispute.fee_waived = waive_fee
    dispute.closed_at = timezone.now()
    dispute.proposals.filter(status=DisputeProposal.Status.PENDING).update(
        status=DisputeProposal.Status.WITHDRAWN, decided_at=timezone.now()
    )


def dispute_withdraw(*, dispute_id: int, actor: User) -> Dispute:
    """The opener withdraws: the milestone returns to its state before the dispute; a review period resumes
    with the time it had left, never less than DISPUTE_MIN_REVIEW_LEFT."""
    with transaction.atomic():
        milestone, dispute = _lock(dispute_id)
        policy.dispute_may(actor, dispute, "withdraw").enforce()
        data = {"dispute": dispute.pk}
        deadline = None
        if dispute.previous_state == S.SUBMITTED:
            remaining = dispute.review_remaining  # timedelta(0) when the period had ended: 24 hours, not a new one
            left = settings.REVIEW_PERIOD if remaining is None else max(remaining, settings.DISPUTE_MIN_REVIEW_LEFT)
            deadline = data["review_deadline"] = timezone.now() + left
        run_transition(milestone, actor=actor, name="end_dispute", data=data, previous=dispute.previous_state)
        if deadline is not None:  # the submission under review when the dispute opened is under review again
            latest = milestone.submissions.order_by("-number").first()
            Submission.objects.filter(pk=latest.pk).update(
                status=Submission.Status.PENDING, closed_at=None, review_deadline=deadline
            )
        dispute.withdraw()
        dispute.closed_at = timezone.now()
        dispute.save()
        dispute.proposals.filter(status=DisputeProposal.Status.PENDING).update(
            status=DisputeProposal.Status.WITHDRAWN, decided_at=timezone.now()
        )
        refresh_notice(milestone.contract)
        return dispute


def dispute_assign(*, dispute_id: int, actor: User, assignee: User) -> Dispute:
    """A staff member takes the case (or gives it to another staff member); it is now under review."""
    with transaction.atomic():
        milestone, dispute = _lock(dispute_id)
        policy.dispute_may(actor, dispute, "assign").enforce()
        if not assignee.is_staff:
            raise ValidationError("Disputes are assigned to staff members.")
        dispute.assigned_to = assignee
        dispute.save(update_fields=["assigned_to"])
        record(
            contract=milestone.contract,
            milestone=milestone,
            actor=actor,
            kind=EventKind.DISPUTE_ASSIGNED,
            data={"dispute": dispute.pk, "assignee": assignee.pk},
        )
        if dispute.state == Dispute.State.OPEN:
            _start_review(dispute)
        return dispute


def dispute_decide(
    *, dispute_id: int, actor: User, to_freelancer, to_client, note: str, waive_fee: bool = False
) -> Dispute:
    """Staff decide: an amount to the freelancer and the rest to the client, with written reasons for both."""
    note = (note or "").strip()
    if not note:
        raise ValidationError("Write the reasons for the decision: both parties will read them.")
    with transaction.atomic():
        milestone, dispute = _lock(dispute_id)
        policy.dispute_may(actor, dispute, "decide").enforce()
        to_freelancer, to_client = _check_split(milestone, to_freelancer, to_client)
        transition = "resolve_release" if not to_client else "resolve_refund" if not to_freelancer else "resolve_split"
        _settle(
            milestone,
            dispute,
            actor=actor,
            to_freelancer=to_freelancer,
            to_client=to_client,
            transition=transition,
            note=note,
            waive_fee=waive_fee,
        )
        dispute.decide()
        dispute.decision, dispute.decided_by = note, actor
        dispute.save()
        return dispute


def milestone_resolve_dispute(*, milestone_id: int, actor: User, outcome: str, note: str) -> Milestone:
    """Staff decide a milestone's open dispute all one way: "release" to the freelancer or "refund" to the client."""
    if outcome not in ("release", "refund"):
        raise ValueError(f"Unknown outcome {outcome!r}.")
    milestone = Milestone.objects.select_related("contract").get(pk=milestone_id)
    dispute = milestone.disputes.filter(state__in=Dispute.OPEN_STATES).first()
    if dispute is None:
        policy.milestone_may(actor, milestone, f"resolve_{outcome}").enforce()
        raise ValidationError("This milestone has no open dispute.")
    held = hold_balance(milestone.hold_reference)
    split = (held, 0) if outcome == "release" else (0, held)
    dispute_decide(dispute_id=dispute.pk, actor=actor, to_freelancer=split[0], to_client=split[1], note=note)
    return Milestone.objects.get(pk=milestone_id)


def disputes_to_review(*, now=None) -> int:
    """The other party's response time ended without an answer: staff review the dispute now (a sweep)."""
    now = now or timezone.now()
    moved = 0
    for dispute_id in Dispute.objects.filter(state=Dispute.State.OPEN, response_due_at__lte=now).values_list(
        "pk", flat=True
    )[:200]:
        with transaction.atomic():
            milestone, dispute = _lock(dispute_id)
            if dispute.state == Dispute.State.OPEN and dispute.response_due_at <= now:
                _start_review(dispute)
                moved += 1
    return moved


# --- partial release without a dispute ---


def milestone_release_part(*, milestone_id: int, actor: User, amount, note: str = "") -> Milestone:
    """The client releases part of a milestone's escrow now; the rest stays held for a later release, an
    agreed refund or a dispute."""
    with transaction.atomic():
        milestone = lock_milestone(milestone_id)
        policy.milestone_may(actor, milestone, "release_part").enforce()
        entry = hold_release_part(reference=milestone.hold_reference, amount=amount, actor=actor)
        split = entry_split(entry)
        released = -split["escrow_hold"]
        record(
            contract=milestone.contract,
            milestone=milestone,
            actor=actor,
            kind=EventKind.PARTIAL_RELEASE,
            note=(note or "").strip(),
            data={
                "released": released,
                "fee": split.get("platform_fees", 0),
                "received": split["user_available"],
                "remaining": hold_balance(milestone.hold_reference),
            },
        )
        return milestone
