"""The sandbox provider's own records (what a real provider keeps on its side). No card number is stored."""

from django.db import models
from django.utils import timezone

MONEY = {"max_digits": 14, "decimal_places": 2}


class Checkout(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the card"
        CHALLENGE = "challenge", "3-D Secure challenge"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    id = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=200, unique=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=400, blank=True)
    email = models.CharField(max_length=254, blank=True)
    return_url = models.CharField(max_length=2000)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    charge_id = models.CharField(max_length=64, blank=True)
    card_label = models.CharField(max_length=60, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    settle_at = models.DateTimeField(null=True, blank=True, help_text="A late confirmation arrives after this.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self):
        return self.id


class Refund(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=200, unique=True)
    charge_id = models.CharField(max_length=64)
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.id


class ConnectedAccount(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=200, unique=True)
    email = models.CharField(max_length=254, blank=True)
    bank_last4 = models.CharField(max_length=4, blank=True)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.id


class Transfer(models.Model):
    """Money moved to a connected account (a release), or paid out of it (a payout)."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", "Transfer"
        PAYOUT = "payout", "Payout"

    id = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey(ConnectedAccount, on_delete=models.PROTECT, related_name="transfers")
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.id


class Event(models.Model):
    """A webhook event, delivered (signed) by `escrow.sandbox.tasks.deliver_event` until it is accepted."""

    id = models.CharField(primary_key=True, max_length=64)
    type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.id
