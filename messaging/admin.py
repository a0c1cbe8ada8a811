"""Staff read threads, messages and files here, read-only: the thread is a record (e.g. in a dispute)."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from marketplace.admin_paging import LargeTableAdmin, PaginatedInline, PaginatedInlinesAdmin

from . import outbox
from .models import (
    Attachment,
    EmailPreference,
    EmailSuppression,
    Message,
    Notification,
    OutboundEmail,
    Thread,
    ThreadParticipant,
)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False


def _download(attachment: Attachment) -> str:
    return format_html(
        '<a href="{}">{}</a> ({} bytes, SHA-256 {})',
        reverse("messaging:attachment", args=[attachment.pk]),
        attachment.original_name,
        attachment.size,
        attachment.sha256,
    )


class ParticipantInline(ReadOnlyInline):
    model = ThreadParticipant
    fields = ["user", "joined_at", "last_read_message_id", "emailed_through_message_id"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class MessageInline(PaginatedInline, ReadOnlyInline):
    """The thread's messages, newest first, a page at a time (a thread can hold tens of thousands)."""

    model = Message
    fk_name = "thread"
    ordering = ["-id"]
    fields = ["id", "created_at", "kind", "sender", "body", "files"]
    readonly_fields = fields
    show_change_link = True

    list_select_related = ("sender",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("attachments")

    @admin.display(description="files")
    def files(self, message):
        files = message.attachments.all()
        return format_html_join("", "<div>{}</div>", ((_download(a),) for a in files)) if files else "—"


@admin.register(Thread)
class ThreadAdmin(PaginatedInlinesAdmin, LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "subject", "people", "created_at", "last_message_at"]
    search_fields = ["subject", "participants__user__email", "participants__user__name"]
    readonly_fields = ["subject", "link_url", "notice", "created_at", "last_message_at", "last_message_id"]
    fields = readonly_fields
    inlines = [ParticipantInline, MessageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("participants__user")

    @admin.display(description="participants")
    def people(self, thread):
        return ", ".join(p.user.email for p in thread.participants.all())


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["download", "content_type", "created_at"]
    readonly_fields = fields

    @admin.display(description="file")
    def download(self, attachment):
        return _download(attachment)


@admin.register(Message)
class MessageAdmin(LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "thread", "kind", "sender", "short_body", "created_at"]
    list_filter = ["kind"]
    search_fields = ["body", "thread__subject", "sender__email"]
    list_select_related = ["thread", "sender"]
    fields = ["thread", "kind", "sender", "body", "link_url", "created_at"]
    readonly_fields = fields
    inlines = [AttachmentInline]

    @admin.display(description="body")
    def short_body(self, message):
        return message.body[:80] + ("…" if len(message.body) > 80 else "")


@admin.register(Notification)
class NotificationAdmin(LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "user", "kind", "text", "created_at", "read_at", "email"]
    list_filter = ["kind"]
    search_fields = ["user__email", "text"]
    list_select_related = ["user", "email"]


@admin.register(EmailPreference)
class EmailPreferenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "email_off", "updated_at"]
    search_fields = ["user__email"]
    list_select_related = ["user"]


@admin.register(OutboundEmail)
class OutboundEmailAdmin(LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The email outbox: what was sent, what is waiting for a retry and what failed (and why)."""

    list_display = ["id", "to_email", "subject", "status", "attempts", "created_at", "next_attempt_at", "sent_at"]
    list_filter = ["status", "template"]
    search_fields = ["to_email", "subject"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    actions = ["retry_now"]

    @admin.action(description="Send again now (failed or waiting emails)")
    def retry_now(self, request, queryset):
        count = outbox.emails_retry(email_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} email(s) queued again.")


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Addresses the email provider reported undeliverable. Delete a row to send to the address again."""

    list_display = ["email", "reason", "created_at"]
    search_fields = ["email"]
    readonly_fields = ["email", "reason", "detail", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False
