"""Feedback after a contract: a window per ended contract, the parties' feedback, and freelancers' ratings.

Feedback builds on contracts (it reads contracts and their parties); contracts never imports it. A window
opens when a contract ends (by either party or by the platform) and closes `FEEDBACK_WINDOW` later. Each
party may write once; it is double-blind: nobody sees the other's feedback until the window is published —
when both have written, or when it closes. Feedback rows are append-only (the model refuses changes and, on
PostgreSQL, triggers do too): what was written and published is never edited.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketplace.appendonly import AppendOnlyModel


class Role(models.TextChoices):
    """Who wrote the feedback: the client (about the freelancer) or the freelancer (about the client)."""

    CLIENT = "client", _("The client")
    FREELANCER = "freelancer", _("The freelancer")


# The named criteria each side rates, 1–5 stars each: (key, label, what it means).
CRITERIA: dict[str, tuple[tuple[str, str, str], ...]] = {
    Role.CLIENT: (
        ("quality", _("Quality of work"), _("Did the work meet the agreed scope and standard?")),
        ("communication", _("Communication"), _("Clear, timely answers and updates.")),
        ("deadlines", _("Deadlines"), _("Delivered by the estimated dates, or warned early.")),
        ("expertise", _("Expertise"), _("Knew the craft; solved problems without hand-holding.")),
    ),
    Role.FREELANCER: (
        ("clarity", _("Clear requirements"), _("Was it clear what success looked like?")),
        ("communication", _("Communication"), _("Clear, timely answers and feedback.")),
        ("responsiveness", _("Reviews and payment"), _("Reviewed submissions and funded milestones promptly.")),
        ("cooperation", _("Cooperation"), _("Fair and respectful to work with.")),
    ),
}


class FeedbackWindow(models.Model):
    """The feedback period of one ended contract. Its times are fixed when it opens (from the contract's end)."""

    contract = models.OneToOneField("contracts.Contract", on_delete=models.PROTECT, related_name="feedback_window")
    opens_at = models.DateTimeField(help_text="When the contract ended.")
    closes_at = models.DateTimeField(db_index=True)
    reminded_day1_at = models.DateTimeField(null=True, blank=True)
    reminded_day10_at = models.DateTimeField(null=True, blank=True)
    # Set once, when both parties have written or the window closed: from then on both feedbacks are visible.
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-opens_at", "-id"]

    def __str__(self):
        return f"Feedback window of contract #{self.contract_id}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Feedback(AppendOnlyModel):
    """What one party wrote about the other. Written once, never changed; public only once published."""

    window = models.ForeignKey(FeedbackWindow, on_delete=models.PROTECT, related_name="feedback")
    role = models.CharField(max_length=16, choices=Role.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="feedback_received")
    scores = models.JSONField(help_text="Stars (1–5) per criterion of the author's role (feedback.models.CRITERIA).")
    rating = models.DecimalField(max_digits=3, decimal_places=2, help_text="The mean of the scores.")
    comment = models.TextField("public comment", max_length=2000)
    private_note = models.TextField("private note to the platform", max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["window", "role"], name="feedback_once_per_party"),
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_to_5"),
        ]
        indexes = [models.Index(fields=["subject", "role", "-created_at"], name="feedback_subject_recent")]

    def __str__(self):
        return f"Feedback from the {self.role} on contract window #{self.window_id}"

    @property
    def criteria(self) -> list[tuple[str, int]]:
        """(label, stars) in the role's order, for display."""
        return [(label, self.scores.get(key)) for key, label, _help in CRITERIA[self.role] if key in self.scores]


class FreelancerRating(models.Model):
    """A freelancer's published rating from clients, for the directory's sort and cards.

    Derived data: recomputed from the published Feedback rows (never incremented) each time a window
    publishes, with this row locked, so it always equals the aggregate (a test checks it).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="freelancer_rating"
    )
    average = models.DecimalField(max_digits=3, decimal_places=2)
    count = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-average", "-count"], name="feedback_rating_sort")]

    def __str__(self):
        return f"{self.average} from {self.count} rating(s) for user #{self.user_id}"
