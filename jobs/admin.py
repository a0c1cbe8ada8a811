"""Staff see jobs, proposals and invitations; changes go through the actions on the site, so these are read-only."""

from django.contrib import admin

from .models import Invitation, Job, JobEvent, Proposal


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(ReadOnly):
    list_display = ("title", "client", "status", "closed_reason", "visibility", "proposal_count", "published_at")
    list_filter = ("status", "visibility", "closed_reason")
    search_fields = ("title", "client__email")


@admin.register(Proposal)
class ProposalAdmin(ReadOnly):
    list_display = ("job", "freelancer", "status", "total", "shortlisted", "archived", "created_at")
    list_filter = ("status",)
    search_fields = ("job__title", "freelancer__email")


@admin.register(Invitation)
class InvitationAdmin(ReadOnly):
    list_display = ("job", "freelancer", "status", "created_at")
    list_filter = ("status",)


@admin.register(JobEvent)
class JobEventAdmin(ReadOnly):
    list_display = ("created_at", "job", "kind", "actor")
    list_filter = ("kind",)
