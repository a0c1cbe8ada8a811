"""The escrow ledger: accounts, entries and postings (append-only double entry), holds, payments, payouts.

Escrow knows nothing about contracts or milestones: a hold is money kept against an opaque
reference its caller chose ("milestone:42"). Balances are never stored; they are sums of postings.
Writes go through `escrow.services`; reads through `escrow.selectors`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

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
    intent = models.ForeignKey(
        "PaymentIntent", on_delete=models.PROTECT, null=True, blank=True, related_name="holds", help_text="The payment."
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
        CREDIT_RETURN = "credit_return", "Credit returned (payment not completed)"
        FUND = "fund", "Escrow funded"
        RELEASE = "release", "Escrow released"
        PARTIAL_RELEASE = "partial_release", "Escrow partly released"
        SETTLEMENT = "settlement", "Escrow settled (split)"
        REFUND_CREDIT = "refund_credit", "Refund to credit"
        REFUND_CARD = "refund_card", "Refund to card"
        REFUND_CARD_FAILED = "refund_card_failed", "Card refund failed: returned as credit"
        BONUS = "bonus", "Bonus"
        PAYOUT = "payout", "Payout"
        PAYOUT_REVERSAL = "payout_reversal", "Failed payout returned"

    reference = models.CharField(max_length=250, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    memo = models.CharField(max_length=400)
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    external_id = models.CharField(max_length=100, blank=True, help_text="The provider's id (charge, refund, payout).")
    intent = models.ForeignKey("PaymentIntent", on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)  # indexed by escrow_entry_newest

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "entries"
        # The admin's newest-first list: many entries share a created_at (a batch), so the plain created_at
        # index alone still sorts every tied row before the LIMIT.
        indexes = [models.Index(fields=["-created_at", "-id"], name="escrow_entry_newest")]

    def __str__(self):
        return self.reference


class Posting(AppendOnlyModel):
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="postings")
    # Indexed by (account, id), below: an index of its own would be one more to write for every posting.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount = models.DecimalField(**MONEY, help_text="Positive: money into the account; negative: money out.")

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="escrow_posting_amount_nonzero")]
        indexes = [models.Index(fields=["account", "id"])]

    def __str__(self):
        return f"{self.account}: {format_money(self.amount)}"


class WalletLine(AppendOnlyModel):
    """One row per entry and user whose wallet shows it: written with the entry (`escrow.ledger`), so a wallet's
    history is one index range of its user whatever the size of the ledger. Derived from the entries (the users
    of their credit, funding and earnings accounts, and the payer and payee of their hold; card charges are not
    wallet rows); `escrow_audit` derives it again and reports any difference."""

    # Indexed by the (user, entry) constraint and the newest-first index, below.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()  # the entry's, copied so the newest-first page is read from the index

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "entry"], name="escrow_walletline_once")]
        indexes = [models.Index(fields=["user", "-created_at", "-entry"], name="escrow_walletline_newest")]


# --- what the audit has summed (escrow.audit): entries and postings never change (database triggers), so each audit
# sums only the postings that came after the last one, by id, and the ids that were missing then ---

AUDIT_SUM = {"max_digits": 20, "decimal_places": 2}
# A kept row's key is its entry's, hold's, payment's or account's id, with no foreign key in the database: the audit
# writes these rows from those very tables, and checking hundreds of thousands of deferred keys at commit made the
# first audit 7 s slower at scale 1 (those rows are never deleted).
KEPT_KEY = {"on_delete": models.DO_NOTHING, "primary_key": True, "related_name": "+", "db_constraint": False}


# An entry that does not balance, or has fewer than two postings: only those are in the partial index.
ENTRY_PROBLEMS = ~Q(total=0) | Q(legs__lt=2)


class AuditedEntry(models.Model):
    """One entry's figures, summed from all its postings by the last audit that saw a posting of it."""

    entry = models.OneToOneField(Entry, **KEPT_KEY)
    # The entry's own columns that the checks read, copied (an entry never changes): the checks read this table alone.
    kind = models.CharField(max_length=20)
    hold_id = models.BigIntegerField(null=True, db_index=True)
    intent_id = models.BigIntegerField(null=True, db_index=True)
    total = models.DecimalField(**AUDIT_SUM)
    legs = models.IntegerField()
    escrow = models.DecimalField(**AUDIT_SUM, help_text="On escrow_hold accounts.")
    earnings = models.DecimalField(**AUDIT_SUM, help_text="On user_available accounts.")
    gateway = models.DecimalField(**AUDIT_SUM, help_text="On the gateway account.")
    earnings_legs = models.IntegerField()

    PROBLEMS = ENTRY_PROBLEMS

    class Meta:
        indexes = [models.Index(fields=["entry"], condition=ENTRY_PROBLEMS, name="escrow_auditedentry_problems")]

    def __str__(self):
        return f"Entry #{self.entry_id}: {self.legs} postings summing to {self.total}"


# A hold is funded by exactly one entry, of exactly its amount; ended (released or settled) at most once, and empty
# once ended. The check reads the holds that break this from a partial index: only those are in it.
HOLD_PROBLEMS = (
    ~Q(funds=1) | Q(ends__gt=1) | (Q(ends__gt=0) & ~Q(balance=0)) | (~Q(funded=0) & ~Q(funded=models.F("amount")))
)


class AuditedHold(models.Model):
    """One hold's figures, from the kept figures of its entries and its escrow account: made when an audit first sees
    the hold, and again by each audit that sums a posting of one of its entries or of its account. The hold and
    milestone checks read this table alone."""

    hold = models.OneToOneField(Hold, **KEPT_KEY)
    # The hold's own columns that the checks read, copied (a hold never changes).
    reference = models.CharField(max_length=200)
    amount = models.DecimalField(**MONEY)
    funds = models.IntegerField(help_text="Funding entries.")
    ends = models.IntegerField(help_text="Releases and settlements.")
    funded = models.DecimalField(**AUDIT_SUM, help_text="Put in escrow by its funding entries.")
    left_early = models.DecimalField(**AUDIT_SUM, help_text="Taken out of escrow by refunds and partial releases.")
    paid = models.IntegerField(help_text="Releases, and settlements that paid the payee something.")
    balance = models.DecimalField(**AUDIT_SUM, help_text="Of its escrow account.")

    PROBLEMS = HOLD_PROBLEMS

    class Meta:
        indexes = [models.Index(fields=["hold"], condition=HOLD_PROBLEMS, name="escrow_auditedhold_problems")]

    def __str__(self):
        return f"Hold #{self.hold_id}: {self.funds} funding, {self.ends} ending, {self.balance} held"


class AuditedIntent(models.Model):
    """One payment's figures, from the kept figures of its entries: made again by each audit that sums a posting of
    one of them. The succeeded-payments check reads this table (and the payments' items)."""

    intent = models.OneToOneField("PaymentIntent", **KEPT_KEY)
    charges = models.IntegerField(help_text="Card payment entries.")
    charged = models.DecimalField(**AUDIT_SUM, help_text="Taken from the gateway by its card payment entries.")
    refunds = models.IntegerField(help_text="Card refund and settlement entries.")
    refunded = models.DecimalField(**AUDIT_SUM, help_text="Given back to the gateway by those.")
    paid = models.IntegerField(help_text="Funding and bonus entries.")

    def __str__(self):
        return f"Payment #{self.intent_id}: {self.charges} card payment(s), {self.paid} item(s) posted"


class AuditedWalletDifference(models.Model):
    """A wallet line missing or left over, found by the audit that last derived its entry's lines again (each audit
    derives those of the entries it sums and of the wallet lines that came since; both tables only grow)."""

    class Problem(models.TextChoices):
        MISSING = "missing", "Missing"
        EXTRA = "extra", "Left over"

    entry_id = models.BigIntegerField(db_index=True)
    user_id = models.BigIntegerField()
    problem = models.CharField(max_length=10, choices=Problem.choices)

    def __str__(self):
        return f"Entry #{self.entry_id}, user #{self.user_id}: {self.problem}"


class AuditedBalance(models.Model):
    """One account's balance: the sum of every posting the audits have summed."""

    account = models.OneToOneField(Account, **KEPT_KEY)
    balance = models.DecimalField(**AUDIT_SUM)

    def __str__(self):
        return f"Account #{self.account_id}: {self.balance}"


class AuditedRows(models.TextChoices):
    """The append-only tables whose new rows each audit reads: postings (summed), wallet lines (compared), holds and
    entries (each has figures, even one without any posting)."""

    POSTINGS = "postings", "Postings"
    WALLET_LINES = "wallet_lines", "Wallet lines"
    HOLDS = "holds", "Holds"
    ENTRIES = "entries", "Entries"


class AuditMark(models.Model):
    """How far the audits have read `rows`: every id up to `through`, except the AuditGap ids."""

    rows = models.CharField(max_length=20, choices=AuditedRows.choices, default=AuditedRows.POSTINGS, unique=True)
    through = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.get_rows_display()} read through #{self.through}"


class AuditGap(models.Model):
    """Ids `low`..`high` of `rows`, at or below the mark, that no audit has seen yet: a transaction still in flight at
    the last audit (its rows commit later, with lower ids than others), or one that rolled back (never filled)."""

    rows = models.CharField(max_length=20, choices=AuditedRows.choices, default=AuditedRows.POSTINGS)
    low = models.BigIntegerField()
    high = models.BigIntegerField()

    def __str__(self):
        return f"{self.get_rows_display()} #{self.low}–#{self.high} not seen yet"


class AuditRun(models.Model):
    """One run of the ledger audit asked for in the admin: run by a worker (escrow.tasks.ledger_audit), not in the
    request, since it reads the whole ledger; the admin's "Ledger audit" page shows the latest."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    violations = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"Ledger audit #{self.pk} ({self.get_status_display()})"


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


class PaymentIntent(FSMModelMixin, models.Model):
    """One payment through the provider: a funding (one or several holds), a bonus or a card refund.

    The intent is committed *before* the provider is called, so a process that dies after the provider
    acted leaves a row the webhook or the reconciliation sweep can finish. Money reaches the ledger only
    when the provider confirms (`escrow.payments`). `state` moves only through the transitions below
    (FSMField protected); transition bodies set fields, the services save and post.
    """

    class Kind(models.TextChoices):
        FUNDING = "funding", "Escrow funding"
        BONUS = "bonus", "Bonus"
        REFUND = "refund", "Refund to card"

    class State(models.TextChoices):
        CREATED = "created", "Created"
        REQUIRES_ACTION = "requires_action", "Waiting for the payer"
        PROCESSING = "processing", "Payment processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    OPEN_STATES = (State.CREATED, State.REQUIRES_ACTION, State.PROCESSING)
    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELED)

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = FSMField(default=State.CREATED, choices=State.choices, protected=True, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_intents")
    amount = models.DecimalField(**MONEY, help_text="What the provider charges (or refunds).")
    credit_used = models.DecimalField(**MONEY, default=0, help_text="Paid from the payer's credit, set aside.")
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=400, blank=True)
    provider = models.CharField(max_length=20)
    provider_id = models.CharField(max_length=255, blank=True, db_index=True, help_text="Session / payment id.")
    provider_charge_id = models.CharField(max_length=255, blank=True, help_text="What a card refund refunds.")
    redirect_url = models.CharField(max_length=2000, blank=True, help_text="The provider's hosted page.")
    next_url = models.CharField(max_length=500, blank=True, help_text="Our page to show once the payer is back.")
    card_label = models.CharField(max_length=60, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    refund_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds", help_text="Card refunds."
    )
    hold = models.ForeignKey(
        Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="card_refunds", help_text="Card refunds."
    )
    ledger_reference = models.CharField(max_length=250, blank=True, help_text="The entry that moves the money.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0) & Q(credit_used__gte=0), name="escrow_intent_amounts"),
            models.UniqueConstraint(
                fields=["provider", "provider_id"], condition=~Q(provider_id=""), name="escrow_intent_provider_id"
            ),
        ]

    def __str__(self):
        return f"Payment #{self.pk} {self.get_kind_display()} {format_money(self.amount)} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @transition(field=state, source=State.CREATED, target=State.REQUIRES_ACTION)
    def await_payer(self, *, provider_id: str, redirect_url: str):
        self.provider_id, self.redirect_url = provider_id, redirect_url

    @transition(field=state, source=[State.CREATED, State.REQUIRES_ACTION], target=State.PROCESSING)
    def mark_processing(self):
        pass

    @transition(field=state, source=OPEN_STATES, target=State.SUCCEEDED)
    def succeed(self, *, charge_id: str = "", card_label: str = ""):
        self.provider_charge_id = charge_id or self.provider_charge_id
        self.card_label = card_label[:60] or self.card_label
        self.confirmed_at = timezone.now()

    @transition(field=state, source=OPEN_STATES, target=State.FAILED)
    def fail(self, *, code: str, message: str):
        self.failure_code, self.failure_message = code[:50], message[:300]
        self.confirmed_at = timezone.now()

    @transition(field=state, source=[State.CREATED, State.REQUIRES_ACTION], target=State.CANCELED)
    def cancel(self, *, message: str = ""):
        self.failure_message = message[:300]
        self.confirmed_at = timezone.now()


class PaymentItem(models.Model):
    """What a funding or bonus intent pays for: a hold to create (or the bonus) once the payment succeeds.

    `open` is true while the intent is open; the partial unique index lets one open payment exist per
    reference, so a second tab (another idempotency key) cannot start a second charge for the same hold.
    """

    intent = models.ForeignKey(PaymentIntent, on_delete=models.PROTECT, related_name="items")
    reference = models.CharField(max_length=200)
    payee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    label = models.CharField(max_length=300)
    link_url = models.CharField(max_length=500, blank=True)
    open = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["reference"], condition=Q(open=True), name="escrow_item_one_open_payment"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_item_amount_positive"),
        ]

    def __str__(self):
        return f"{self.reference} · {format_money(self.amount)}"


class WebhookEvent(models.Model):
    """The webhook inbox: each provider event stored once (unique per provider), processed by a task."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True, help_text="The payment/account the event is about.")
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="escrow_webhook_event_once")]

    def __str__(self):
        return f"{self.provider} {self.type} {self.event_id}"


class PayoutAccount(models.Model):
    """Where a user is paid: a provider account (Stripe Connect Express, or the sandbox's).

    Every change is kept (django-simple-history: staff see it under "History" in the admin), and the owner gets
    a security email when the destination is set or changed (`escrow.services.payout_account_refresh`).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account")
    provider = models.CharField(max_length=20)
    account_id = models.CharField(max_length=255)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    destination = models.CharField(
        max_length=100, blank=True, help_text="Where payouts go, as the provider describes it (last four digits)."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "account_id"], name="escrow_payout_account_once")]

    def __str__(self):
        return f"{self.provider} {self.account_id} of {self.user}"


class Transfer(models.Model):
    """Released earnings on their way to the payee's payout account at the provider (Stripe: a Transfer to the
    connected account). One per entry that credits a payee's earnings (a release, a bonus); it waits as
    pending until the payee has a payout account, and is sent after commit with an idempotency key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"

    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="transfer")
    payee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    provider = models.CharField(max_length=20, blank=True)
    provider_transfer_id = models.CharField(max_length=255, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_transfer_amount_positive")]

    def __str__(self):
        return f"Transfer #{self.pk} {format_money(self.amount)} to {self.payee} ({self.get_status_display()})"
