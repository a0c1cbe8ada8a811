"""Offers (with every revision kept), contracts (a frozen copy of the agreed terms) and
milestones, whose lifecycle is a django-fsm state machine.

Transition bodies only set fields. Saving, auditing, moving money and notifying happen in
`contracts.services`, which lock the row, check permission, run the transition and save.
"""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from marketplace.appendonly import AppendOnlyModel


class Offer(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offers_sent")
    freelancer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="offers_received")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    decline_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The two parties' conversation; it carries on into the contract and is the record of the work.
    thread = models.OneToOneField(
        "messaging.Thread", on_delete=models.PROTECT, null=True, blank=True, related_name="offer"
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(client=models.F("freelancer")), name="offer_not_to_self")]

    def __str__(self):
        return f"Offer #{self.pk} {self.client_id}→{self.freelancer_id} ({self.status})"

    def get_absolute_url(self):
        return reverse("contracts:offer_detail", args=[self.pk])

    @property
    def is_pending(self):
        return self.status == self.Status.PENDING

    def other_party(self, user):
        return self.freelancer if user.pk == self.client_id else self.client


class OfferRevision(AppendOnlyModel):
    """One version of the proposed terms. Never edited: a change is a new revision."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    scope = models.TextField("scope of work", max_length=10000)
    acceptance_criteria = models.TextField("what success looks like", max_length=5000)
    revision_rounds = models.PositiveSmallIntegerField("revision rounds included")
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2)
    message = models.TextField("note to the other party", max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["offer", "number"]
        constraints = [models.UniqueConstraint(fields=["offer", "number"], name="offer_revision_number_unique")]

    def __str__(self):
        return f"{self.title} (revision {self.number})"


class OfferMilestone(AppendOnlyModel):
    revision = models.ForeignKey(OfferRevision, on_delete=models.CASCADE, related_name="milestones")
    # The same milestone keeps its key across revisions, so a diff can match it after reordering.
    key = models.UUIDField(default=uuid.uuid4)
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    deliverable = models.TextField(max_length=2000)
    due_date = models.DateField("estimated delivery date")
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["revision", "position"]

    def __str__(self):
        return self.title


class Contract(models.Model):
    """The agreed terms, copied from the accepted revision: later edits elsewhere never change them."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, related_name="contract")
    agreed_revision = models.OneToOneField(OfferRevision, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts_as_client")
    freelancer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="contracts_as_freelancer"
    )
    client_name = models.CharField(max_length=150)
    freelancer_name = models.CharField(max_length=150)
    title = models.CharField(max_length=120)
    scope = models.TextField()
    acceptance_criteria = models.TextField()
    revision_rounds = models.PositiveSmallIntegerField()
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.title} (#{self.pk})"

    def get_absolute_url(self):
        return reverse("contracts:contract_detail", args=[self.pk])

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


# --- Who may take a transition (django-fsm `permission=`) and when (`conditions=`) ---
# contracts.policy reads these through django-fsm's public API and adds the reasons.


def is_client(milestone, user) -> bool:
    return user.pk == milestone.contract.client_id


def is_freelancer(milestone, user) -> bool:
    return user.pk == milestone.contract.freelancer_id


def is_party(milestone, user) -> bool:
    return is_client(milestone, user) or is_freelancer(milestone, user)


def is_staff(milestone, user) -> bool:
    return user.is_staff


def contract_is_active(milestone) -> bool:
    return milestone.contract.status == Contract.Status.ACTIVE


def has_revision_rounds_left(milestone) -> bool:
    return milestone.changes_requested_count < milestone.contract.revision_rounds


class Milestone(FSMModelMixin, models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Not funded")
        FUNDED = "funded", _("Funded")
        SUBMITTED = "submitted", _("Submitted for review")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        APPROVED = "approved", _("Approved")
        RELEASED = "released", _("Paid")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")
        DISPUTED = "disputed", _("In dispute")

    # Who may take each transition and from which states is declared on it below (`permission=`,
    # `source=`); contracts.policy reads it from there and adds the contract-level rules and the reasons.
    # States in which the milestone's money sits in escrow.
    HELD_STATES = (State.FUNDED, State.SUBMITTED, State.CHANGES_REQUESTED, State.APPROVED, State.DISPUTED)
    # States that stop a contract from ending.
    OPEN_MONEY_STATES = HELD_STATES
    # Done with: the money went to the freelancer or back to the client, and nothing more can happen to it here.
    FINISHED_STATES = (State.RELEASED, State.REFUNDED)

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="milestones")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    deliverable = models.TextField(max_length=2000)
    due_date = models.DateField("estimated delivery date")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    fee = models.DecimalField("platform fee", max_digits=12, decimal_places=2)
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    changes_requested_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["contract", "position", "id"]

    def __str__(self):
        return f"{self.title} (#{self.pk}, {self.state})"

    def get_absolute_url(self):
        return f"{self.contract.get_absolute_url()}#milestone-{self.pk}"

    @property
    def receives(self):
        """What the freelancer receives on release: the amount less the platform fee."""
        return self.amount - self.fee

    @property
    def is_funded(self):
        return self.state in self.HELD_STATES

    @staticmethod
    def hold_reference_for(pk: int) -> str:
        """The reference escrow holds this milestone's money against."""
        return f"milestone:{pk}"

    @property
    def hold_reference(self) -> str:
        return self.hold_reference_for(self.pk)

    # Transitions. Bodies only set fields; services save, audit and schedule side effects.

    @transition(
        field=state,
        source=State.DRAFT,
        target=State.FUNDED,
        permission=is_client,
        conditions=[contract_is_active],
        custom={"label": "Fund milestone", "admin": False},
    )
    def fund(self):
        pass

    @transition(
        field=state,
        source=[State.FUNDED, State.CHANGES_REQUESTED],
        target=State.SUBMITTED,
        permission=is_freelancer,
        conditions=[contract_is_active],
        custom={"label": "Submit work", "admin": False},
    )
    def submit(self):
        pass

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.FUNDED,
        permission=is_freelancer,
        custom={"label": "Withdraw submission", "admin": False},
    )
    def withdraw_submission(self):
        pass

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.CHANGES_REQUESTED,
        permission=is_client,
        conditions=[has_revision_rounds_left],
        custom={"label": "Request changes", "admin": False, "note_required": True},
    )
    def request_changes(self):
        self.changes_requested_count += 1

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.APPROVED,
        permission=is_client,
        custom={"label": "Approve work", "admin": False},
    )
    def approve(self):
        pass

    @transition(
        field=state,
        source=State.APPROVED,
        target=State.RELEASED,
        permission=is_client,
        custom={"label": "Release payment", "admin": False},
    )
    def release(self):
        pass

    @transition(
        field=state,
        source=[State.FUNDED, State.SUBMITTED, State.CHANGES_REQUESTED],
        target=State.REFUNDED,
        permission=is_freelancer,
        custom={"label": "Refund to client", "admin": False, "tone": "danger"},
    )
    def refund(self):
        pass

    @transition(
        field=state,
        source=State.DRAFT,
        target=State.CANCELLED,
        # Parties remove a future milestone by agreement (MilestoneChange) or by ending the
        # contract; both services authorise at the contract level. Directly, only staff.
        permission=is_staff,
        custom={"label": "Cancel milestone", "admin": True},
    )
    def cancel(self):
        pass

    @transition(
        field=state,
        source=[State.FUNDED, State.SUBMITTED, State.CHANGES_REQUESTED, State.APPROVED],
        target=State.DISPUTED,
        permission=is_party,
        custom={"label": "Open a dispute", "admin": False, "note_required": True, "tone": "danger"},
    )
    def dispute(self):
        pass

    @transition(
        field=state,
        source=State.DISPUTED,
        target=State.RELEASED,
        permission=is_staff,
        custom={"label": "Resolve: release to freelancer", "admin": True, "note_required": True},
    )
    def resolve_release(self):
        pass

    @transition(
        field=state,
        source=State.DISPUTED,
        target=State.RELEASED,
        permission=is_staff,
        custom={"label": "Resolve: split between both", "admin": True, "note_required": True},
    )
    def resolve_split(self):
        """Part of the escrow to the freelancer, the rest back to the client: the payment is final."""

    @transition(
        field=state,
        source=State.DISPUTED,
        target=RETURN_VALUE(State.RELEASED, State.REFUNDED),
        permission=is_party,
        custom={"label": "Settle the dispute", "admin": False},
    )
    def settle(self, *, paid_to_freelancer: bool):
        """The parties agreed a split: released if the freelancer gets anything, else refunded."""
        return self.State.RELEASED if paid_to_freelancer else self.State.REFUNDED

    @transition(
        field=state,
        source=State.DISPUTED,
        target=RETURN_VALUE(State.FUNDED, State.SUBMITTED, State.CHANGES_REQUESTED, State.APPROVED),
        permission=is_party,
        custom={"label": "Withdraw the dispute", "admin": False},
    )
    def end_dispute(self, *, previous: str):
        """The dispute was withdrawn: the milestone returns to where it was."""
        return previous

    @transition(
        field=state,
        source=State.DISPUTED,
        target=State.REFUNDED,
        permission=is_staff,
        custom={"label": "Resolve: refund to client", "admin": True, "note_required": True},
    )
    def resolve_refund(self):
        pass


class MilestoneChange(models.Model):
    """A change to future (draft) milestones during a contract, applied only with the other party's consent."""

    class Kind(models.TextChoices):
        ADD = "add", _("Add a milestone")
        EDIT = "edit", _("Edit a milestone")
        DELETE = "delete", _("Remove a milestone")
        REORDER = "reorder", _("Reorder milestones")
        REFUND = "refund", _("Refund a funded milestone")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the other party")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        OBSOLETE = "obsolete", _("No longer applicable")

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # add/edit: {"title", "deliverable", "due_date" (ISO), "amount" (string)}; reorder: {"order": [ids]}
    payload = models.JSONField(default=dict, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} on contract #{self.contract_id} ({self.status})"


class ContractEvent(AppendOnlyModel):
    """The audit trail: who did what, from which state to which, when. Append-only."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="events")
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    kind = models.CharField(max_length=40)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)
    # Structured facts of the event (amounts as strings of Decimals); see contracts.events.SPECS.
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} on contract #{self.contract_id}"


class Submission(models.Model):
    """Work delivered for review. Numbered per milestone; its message, links and files never change.

    While `status` is pending, the review clock runs until `review_deadline`; when it passes in
    silence the milestone is approved and paid automatically (contracts.review).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        AUTO_APPROVED = "auto_approved", _("Approved automatically")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        WITHDRAWN = "withdrawn", _("Withdrawn by the freelancer")
        CLOSED = "closed", _("Closed (refunded or disputed)")

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="submissions")
    number = models.PositiveIntegerField()
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    message = models.TextField(max_length=10000)
    links = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Indexed only while pending (Meta.indexes): the sweep and the reminders look for pending deadlines, and
    # a plain index would also hold every closed submission ever, which the sweep would walk past.
    review_deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reminded_7d_at = models.DateTimeField(null=True, blank=True)
    reminded_3d_at = models.DateTimeField(null=True, blank=True)
    reminded_1d_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["milestone", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["milestone", "number"], name="submission_number_unique"),
            # At most one submission under review per milestone.
            models.UniqueConstraint(
                fields=["milestone"], condition=Q(status="pending"), name="one_pending_submission_per_milestone"
            ),
        ]
        indexes = [
            models.Index(fields=["review_deadline"], condition=Q(status="pending"), name="submission_pending_deadline"),
        ]

    def __str__(self):
        return f"Submission {self.number} for milestone #{self.milestone_id}"


def submission_upload_to(instance, filename):
    # A random folder: file URLs are never guessable, and the name is already sanitised.
    return f"submissions/{uuid.uuid4().hex}/{filename}"


class SubmissionFile(AppendOnlyModel):
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(upload_to=submission_upload_to, max_length=300)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["submission", "id"]

    def __str__(self):
        return self.name


class Dispute(FSMModelMixin, models.Model):
    """A case about one funded milestone: its escrow is frozen and automatic release paused until it ends.

    The opener's reason, both parties' evidence, settlement proposals, and the end: withdrawn (the milestone
    returns to its state before, with the review time it had left), settled by the parties, or decided by
    staff. Transition bodies only set fields; contracts.services.disputes runs them.
    """

    class State(models.TextChoices):
        OPEN = "open", _("Awaiting the other party’s evidence")
        UNDER_REVIEW = "under_review", _("Under review by staff")
        DECIDED = "decided", _("Decided by staff")
        SETTLED = "settled", _("Settled by the parties")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    OPEN_STATES = (State.OPEN, State.UNDER_REVIEW)

    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="disputes")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=5000)
    state = FSMField(default=State.OPEN, choices=State.choices, protected=True, db_index=True)
    # Where the milestone was, and how much review time it had left, when the dispute opened.
    previous_state = models.CharField(max_length=32)
    review_remaining = models.DurationField(null=True, blank=True)
    response_due_at = models.DateTimeField()
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_freelancer = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    to_client = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    fee_waived = models.BooleanField(default=False)
    decision = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["milestone"],
                condition=Q(state__in=["open", "under_review"]),
                name="one_open_dispute_per_milestone",
            )
        ]

    def __str__(self):
        return f"Dispute #{self.pk} on “{self.milestone.title}” ({self.get_state_display()})"

    def get_absolute_url(self):
        return reverse("contracts:dispute_detail", args=[self.milestone.contract_id, self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @transition(field=state, source=State.OPEN, target=State.UNDER_REVIEW)
    def start_review(self):
        pass

    @transition(field=state, source=[State.OPEN, State.UNDER_REVIEW], target=State.DECIDED)
    def decide(self):
        pass

    @transition(field=state, source=[State.OPEN, State.UNDER_REVIEW], target=State.SETTLED)
    def settle(self):
        pass

    @transition(field=state, source=[State.OPEN, State.UNDER_REVIEW], target=State.WITHDRAWN)
    def withdraw(self):
        pass


def evidence_upload_to(instance, filename):
    return f"disputes/{uuid.uuid4().hex}/{filename}"


class DisputeEvidence(AppendOnlyModel):
    """What a party (or staff) put on the record of a dispute. Never edited."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="evidence")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=10000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dispute", "created_at", "id"]


class DisputeEvidenceFile(AppendOnlyModel):
    evidence = models.ForeignKey(DisputeEvidence, on_delete=models.PROTECT, related_name="files")
    file = models.FileField(upload_to=evidence_upload_to, max_length=300)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["evidence", "id"]

    def __str__(self):
        return self.name


class DisputeProposal(models.Model):
    """A settlement one party proposes ("$X to the freelancer, $Y back to the client"); the other accepts."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the other party")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Replaced or withdrawn")

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="proposals")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    to_freelancer = models.DecimalField(max_digits=12, decimal_places=2)
    to_client = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dispute", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dispute"], condition=Q(status="pending"), name="one_pending_proposal_per_dispute"
            ),
            models.CheckConstraint(
                condition=Q(to_freelancer__gte=0) & Q(to_client__gte=0), name="dispute_proposal_amounts_positive"
            ),
        ]

    def __str__(self):
        return f"Proposal #{self.pk}: {self.to_freelancer} / {self.to_client} ({self.status})"
