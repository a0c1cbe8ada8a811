"""Staff see the ledger in admin, read-only: money moves only through escrow.services.

The "Ledger audit" page (linked from the Entry list) shows the latest run of escrow.audit.run_audit(), which a worker
makes when staff ask for one there.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin

from marketplace.admin_paging import LargeTableAdmin
from marketplace.money import ZERO, format_money

from .audit import audit_run_request
from .models import (
    Account,
    AuditRun,
    Entry,
    Hold,
    PaymentIntent,
    PaymentItem,
    Payout,
    PayoutAccount,
    Posting,
    Transfer,
    WebhookEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: no add, change or delete, for anyone (superusers included)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user")


@admin.register(Account)
class AccountAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["__str__", "kind", "user", "reference", "balance_display"]
    list_filter = ["kind"]
    search_fields = ["reference", "user__email", "user__name"]
    list_select_related = ["user"]

    def get_queryset(self, request):
        # A correlated subquery, computed for the page's rows only (a GROUP BY would sum the whole ledger).
        total = Posting.objects.filter(account=OuterRef("pk")).order_by().values("account").annotate(t=Sum("amount"))
        balance = Coalesce(
            Subquery(total.values("t")[:1]), ZERO, output_field=DecimalField(max_digits=14, decimal_places=2)
        )
        return super().get_queryset(request).annotate(balance=balance)

    @admin.display(description="Balance", ordering="balance")
    def balance_display(self, account):
        return format_money(account.balance)


@admin.register(Entry)
class EntryAdmin(LargeTableAdmin, ReadOnlyAdmin):
    change_list_template = "escrow/admin/entry_change_list.html"
    list_display = ["reference", "kind", "memo", "hold", "created_by", "created_at"]
    list_filter = ["kind", "postings__account__kind", "created_at"]
    search_fields = ["reference", "memo", "hold__reference", "external_id"]
    list_select_related = ["hold", "created_by"]
    # No date_hierarchy: its year/month links come from a DISTINCT over every entry on each page view;
    # the created_at filter above offers the same ranges without reading the table.
    inlines = [PostingInline]

    def get_urls(self):
        audit = path("audit/", self.admin_site.admin_view(self.audit_view), name="escrow_audit")
        return [audit, *super().get_urls()]

    def audit_view(self, request):
        """The latest run of the audit; POST queues a new one for a worker (it reads the whole ledger)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            run, new = audit_run_request(actor=request.user)
            text = "The audit is queued; a worker runs it." if new else "An audit is already queued or running."
            messages.info(request, f"{text} Reload this page to see its result.")
            return redirect("admin:escrow_audit")
        latest = AuditRun.objects.select_related("requested_by").first()
        context = {
            **self.admin_site.each_context(request),
            "title": "Ledger audit",
            "opts": self.opts,
            "run": latest,
            "pending": latest is not None and latest.status in (AuditRun.Status.QUEUED, AuditRun.Status.RUNNING),
        }
        return TemplateResponse(request, "escrow/admin/audit.html", context)


@admin.register(Posting)
class PostingAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["id", "entry", "account", "amount"]
    list_filter = ["account__kind", "entry__kind"]
    search_fields = ["entry__reference", "account__reference", "account__user__email", "entry__hold__reference"]
    list_select_related = ["entry", "account__user"]


@admin.register(Hold)
class HoldAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["reference", "label", "payer", "payee", "amount", "fee", "created_at"]
    search_fields = ["reference", "label", "payer__email", "payee__email"]
    list_select_related = ["payer", "payee"]
    list_filter = ["created_at"]  # not date_hierarchy: see EntryAdmin


@admin.register(Payout)
class PayoutAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ["id", "user", "amount", "currency", "status", "gateway_payout_id", "created_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "user__name", "gateway_payout_id", "idempotency_key"]
    list_select_related = ["user"]


class PaymentItemInline(admin.TabularInline):
    model = PaymentItem
    fields = ["reference", "payee", "amount", "fee", "label", "open"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PaymentIntent)
class PaymentIntentAdmin(ReadOnlyAdmin):
    """Read-only: only the provider's confirmation (webhook, return, reconciliation sweep) moves a payment."""

    list_display = ["id", "kind", "state", "payer", "amount", "credit_used", "provider", "provider_id", "created_at"]
    list_filter = ["state", "kind", "provider"]
    search_fields = ["idempotency_key", "provider_id", "provider_charge_id", "payer__email", "items__reference"]
    list_select_related = ["payer"]
    date_hierarchy = "created_at"
    inlines = [PaymentItemInline]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "provider", "type", "object_id", "received_at", "processed_at", "attempts"]
    list_filter = ["provider", "type", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "object_id"]
    date_hierarchy = "received_at"


@admin.register(PayoutAccount)
class PayoutAccountAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    """Read-only; every change (destination, status) is kept: "History" on each account."""

    list_display = ["user", "provider", "account_id", "destination", "payouts_enabled", "updated_at"]
    history_list_display = ["account_id", "destination", "details_submitted", "payouts_enabled"]
    list_filter = ["provider", "payouts_enabled"]
    search_fields = ["user__email", "account_id"]
    list_select_related = ["user"]


class ProviderFilter(admin.AllValuesFieldListFilter):
    """A transfer waiting for the payee's payout account has no provider yet: its choice needs a name (Django's
    filter would show an empty link)."""

    def choices(self, changelist):
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice["display"] = "Not sent yet"
            yield choice


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "payee", "amount", "status", "provider_transfer_id", "last_error", "created_at", "sent_at"]
    list_filter = ["status", ("provider", ProviderFilter)]
    search_fields = ["payee__email", "provider_transfer_id", "entry__reference"]
    list_select_related = ["payee"]
