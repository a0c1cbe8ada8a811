"""Job posts, proposals, invitations and saved searches: the front door to an offer.

A client posts a job (draft -> open -> closed: hired, cancelled or expired); freelancers find it and
send proposals with a milestone plan; the client shortlists, messages and hires. Hiring sends an offer
(contracts), so the negotiation, the diff and the frozen terms are the offers' own.

State fields change only in `jobs.services`, which lock the row, ask `jobs.policy` and record a `JobEvent`.
Milestone plans are stored as lists of `contracts.rules.MilestoneTerms` payloads (amounts as Decimal strings).
"""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager

from contracts.rules import MilestoneTerms


class Job(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class ClosedReason(models.TextChoices):
        HIRED = "hired", _("Filled")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public: anyone can find it and propose")
        INVITE_ONLY = "invite_only", _("Invite only: only freelancers you invite see it")

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=10000)
    skills = TaggableManager(_("skills"), blank=True, help_text=_("Comma-separated, e.g. python, django, copywriting"))
    budget_min = models.DecimalField(max_digits=12, decimal_places=2)
    budget_max = models.DecimalField(max_digits=12, decimal_places=2)  # equal to budget_min for a fixed budget
    # The client's desired milestones (optional): proposals start from it.
    milestone_plan = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    deadline = models.DateField(null=True, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    closed_reason = models.CharField(max_length=12, choices=ClosedReason.choices, blank=True)
    # Counted under the job's row lock by the proposal actions: filters and sorts read it without a join.
    proposal_count = models.PositiveIntegerField(default=0)
    proposals_seen_at = models.DateTimeField(null=True, blank=True)  # the client last opened the proposals
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            # The jobs list: open public jobs, newest first. (The full-text GIN index is in migration 0002:
            # PostgreSQL only.)
            models.Index(fields=["status", "visibility", "-published_at"], name="jobs_job_listing"),
            models.Index(fields=["client", "status"], name="jobs_job_client"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(budget_max__gte=models.F("budget_min")), name="jobs_budget_range"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("jobs:job_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_fixed_budget(self) -> bool:
        return self.budget_min == self.budget_max

    @property
    def plan(self) -> list[MilestoneTerms]:
        return [MilestoneTerms.from_payload(p) for p in self.milestone_plan]

    @property
    def status_label(self) -> str:
        if self.status == self.Status.CLOSED and self.closed_reason:
            return self.get_closed_reason_display()
        return self.get_status_display()


def upload_path(instance, filename) -> str:
    """A random storage path that carries nothing the uploader chose (names are kept on the row)."""
    token = uuid.uuid4().hex
    return f"jobs/{token[:2]}/{token}"


class UploadedFile(models.Model):
    file = models.FileField(upload_to=upload_path, max_length=200)
    original_name = models.CharField(max_length=255)  # sanitised by marketplace.uploads
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self):
        return self.original_name


class JobAttachment(UploadedFile):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attachments")

    def get_absolute_url(self):
        return reverse("jobs:job_file", args=[self.job_id, self.pk])


class Proposal(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        HIRED = "hired", _("Hired")
        NOT_HIRED = "not_hired", _("Job filled")  # the client hired someone else, or the job closed

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="proposals")
    freelancer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals")
    cover_letter = models.TextField(max_length=5000)
    milestones = models.JSONField(encoder=DjangoJSONEncoder)  # MilestoneTerms payloads
    total = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    # The client's own sorting of the proposals; any of these (or a message, or hiring) ends editing.
    shortlisted = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    client_acted_at = models.DateTimeField(null=True, blank=True)
    # The conversation about this proposal, started by the client; it carries on into the offer and contract.
    thread = models.OneToOneField(
        "messaging.Thread", on_delete=models.PROTECT, null=True, blank=True, related_name="proposal"
    )
    offer = models.OneToOneField(
        "contracts.Offer", on_delete=models.PROTECT, null=True, blank=True, related_name="proposal"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True)  # the freelancer last changed it
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "freelancer"], name="jobs_one_proposal_per_freelancer"),
        ]
        indexes = [
            models.Index(fields=["freelancer", "created_at"], name="jobs_proposal_daily_limit"),
            models.Index(fields=["job", "status"], name="jobs_proposal_job"),
        ]

    def __str__(self):
        return f"Proposal #{self.pk} on job {self.job_id} by {self.freelancer_id}"

    def get_absolute_url(self):
        return reverse("jobs:proposal_detail", args=[self.pk])

    @property
    def plan(self) -> list[MilestoneTerms]:
        return [MilestoneTerms.from_payload(p) for p in self.milestones]

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ProposalAttachment(UploadedFile):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="attachments")

    def get_absolute_url(self):
        return reverse("jobs:proposal_file", args=[self.proposal_id, self.pk])


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for an answer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        CLOSED = "closed", _("Job closed")

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="invitations")
    freelancer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_invitations")
    message = models.TextField(max_length=2000, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    decline_reason = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["job", "freelancer"], name="jobs_one_invitation_per_freelancer")]

    def __str__(self):
        return f"Invitation to job {self.job_id} for {self.freelancer_id}"


class SavedSearch(models.Model):
    """A freelancer's jobs search (the list page's query string), emailed once a day with its new matches."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches")
    name = models.CharField(max_length=120)
    query = models.CharField(max_length=1000)  # the filter parameters, url-encoded
    created_at = models.DateTimeField(auto_now_add=True)
    # Jobs published up to this time have been sent (or existed when the search was saved).
    notified_through = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"{reverse('jobs:job_list')}?{self.query}"


class JobEvent(models.Model):
    """The audit trail of the jobs domain: one row per action, of a kind from `jobs.events.JobEventKind`."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=32)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.kind} on job {self.job_id}"
