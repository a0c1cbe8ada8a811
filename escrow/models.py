"""The escrow ledger: accounts, entries and postings (append-only double entry), holds, charges, payouts.

Escrow knows nothing about contracts or milestones: a hold is money kept against an opaque
reference its caller chose ("milestone:42"). Balances are never stored; they are sums of postings.
Writes go through `escrow.services`; reads through `escrow.selectors`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from marketplace.appendonly import AppendOnlyModel, ImmutableRecordError  # noqa: F401 (re-exported)
from marketplace.money import format_money

MONEY = {"max_digits": 14, "decimal_places": 2}


class Hold(AppendOnlyModel):
    """Money held in escrow against `reference` for `payee`, paid by `payer`.

    The hold row records what was agreed; what is still held is the balance of its escrow_hold account.
    """

    reference = models.CharField(max_length=200, unique=True, help_text='Chosen by the caller, e.g. "milestone:42".')
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds_paid")
    payee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds_received")
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, help_text="The platform fee agreed for this hold, taken on release.")
    label = models.CharField(max_length=300)
    link_url = models.CharField(max_length=500, blank=True)
    funding_key = models.CharField(
        max_length=200, db_index=True, help_text="Idempotency key of the funding request that created it."
    )
    funded_by_charge = models.ForeignKey(
        "Charge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="holds",
        help_text="Empty: paid by credit.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(fee__gte=0) & Q(fee__lte=models.F("amount")), name="escrow_hold_fee_range"
            ),
        ]

    def __str__(self):
        return f"{self.reference} · {format_money(self.amount)} · {self.label}"


class Account(AppendOnlyModel):
    class Kind(models.TextChoices):
        GATEWAY = "gateway", "Payment gateway (outside world)"
        USER_FUNDING = "user_funding", "Payments"
        ESCROW_HOLD = "escrow_hold", "Escrow hold"
        USER_AVAILABLE = "user_available", "Earnings"
        USER_CREDIT = "user_credit", "Credit"
        PLATFORM_FEES = "platform_fees", "Platform fees"
        PAYOUTS = "payouts", "Paid out"

    USER_KINDS = (Kind.USER_FUNDING, Kind.USER_AVAILABLE, Kind.USER_CREDIT, Kind.PAYOUTS)
    SINGLETON_KINDS = (Kind.GATEWAY, Kind.PLATFORM_FEES)
    # Kinds whose balance may never go below zero (the audit checks them).
    NON_NEGATIVE_KINDS = (Kind.USER_AVAILABLE, Kind.USER_CREDIT, Kind.ESCROW_HOLD, Kind.PLATFORM_FEES, Kind.PAYOUTS)

    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_accounts"
    )
    reference = models.CharField(max_length=200, blank=True, help_text="The hold reference, for escrow_hold accounts.")
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="account")

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            # NULL users are distinct in a plain unique index, so the user-less accounts get their own.
            models.UniqueConstraint(
                fields=["kind", "user", "reference"], condition=Q(user__isnull=False), name="escrow_account_unique_user"
            ),
            models.UniqueConstraint(
                fields=["kind", "reference"], condition=Q(user__isnull=True), name="escrow_account_unique_shared"
            ),
            models.CheckConstraint(
                condition=(Q(kind__in=["user_funding", "user_available", "user_credit", "payouts"], user__isnull=False))
                | (Q(kind__in=["gateway", "platform_fees"], user__isnull=True, reference=""))
                | (Q(kind="escrow_hold", user__isnull=True, hold__isnull=False) & ~Q(reference="")),
                name="escrow_account_kind_shape",
            ),
        ]

    def __str__(self):
        if self.kind == self.Kind.ESCROW_HOLD:
            return f"Escrow hold {self.reference}"
        if self.user_id:
            return f"{self.get_kind_display()} of {self.user}"
        return self.get_kind_display()


class Entry(AppendOnlyModel):
    """One money event. Its postings sum to zero; its unique reference makes it happen at most once."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Card payment"
        CREDIT_USE = "credit_use", "Credit used"
        FUND = "fund", "Escrow funded"
        RELEASE = "release", "Escrow released"
        PARTIAL_RELEASE = "partial_release", "Escrow partly released"
        SETTLEMENT = "settlement", "Escrow settled (split)"
        REFUND_CREDIT = "refund_credit", "Refund to credit"
        REFUND_CARD = "refund_card", "Refund to card"
        BONUS = "bonus", "Bonus"
        PAYOUT = "payout", "Payout"
        PAYOUT_REVERSAL = "payout_reversal", "Failed payout returned"

    reference = models.CharField(max_length=250, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    memo = models.CharField(max_length=400)
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    external_id = models.CharField(max_length=100, blank=True, help_text="The provider's id (charge, refund, payout).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "entries"

    def __str__(self):
        return self.reference


class Posting(AppendOnlyModel):
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.DecimalField(**MONEY, help_text="Positive: money into the account; negative: money out.")

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="escrow_posting_amount_nonzero")]
        indexes = [models.Index(fields=["account", "id"])]

    def __str__(self):
        return f"{self.account}: {format_money(self.amount)}"


class Charge(models.Model):
    """One card payment attempt, keyed by the caller's idempotency key. No card number is kept."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    idempotency_key = models.CharField(max_length=200, unique=True)
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="charges")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=400, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    gateway_charge_id = models.CharField(max_length=100, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_charge_amount_positive")]

    def __str__(self):
        return f"Charge #{self.pk} {format_money(self.amount)} ({self.get_status_display()})"

    @property
    def card_label(self) -> str:
        return f"{self.brand} •••• {self.last4}" if self.last4 else ""


class Payout(models.Model):
    """A withdrawal of earnings to the user's bank account."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    idempotency_key = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    gateway_payout_id = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_payout_amount_positive")]

    def __str__(self):
        return f"Payout #{self.pk} {format_money(self.amount)} ({self.get_status_display()})"
