"""Staff views of offers, contracts and milestones. Records are read-only here; milestone
transitions go through the same service as the site (lock, permission, audit row)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django_fsm import TransitionNotAllowed
from django_fsm.admin import FSMAdminMixin

from escrow.errors import EscrowError

from . import services
from .evidence import evidence_bundle
from .models import Contract, ContractEvent, Milestone, MilestoneChange, Offer, OfferMilestone, OfferRevision


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
    show_change_link = True


class OfferRevisionInline(ReadOnlyInline):
    model = OfferRevision
    fields = ["number", "author", "title", "revision_rounds", "fee_percent", "created_at"]
    readonly_fields = fields


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "client", "freelancer", "status", "created_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["client__email", "client__name", "freelancer__email", "freelancer__name", "revisions__title"]
    list_select_related = ["client", "freelancer"]
    inlines = [OfferRevisionInline]


class OfferMilestoneInline(ReadOnlyInline):
    model = OfferMilestone
    fields = ["position", "title", "due_date", "amount", "key"]
    readonly_fields = fields
    show_change_link = False


@admin.register(OfferRevision)
class OfferRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["offer", "number", "author", "title", "created_at"]
    search_fields = ["title", "offer__id"]
    inlines = [OfferMilestoneInline]


class EventInline(ReadOnlyInline):
    model = ContractEvent
    fields = ["created_at", "actor", "kind", "milestone", "from_state", "to_state", "note"]
    readonly_fields = fields
    show_change_link = False
    ordering = ["-created_at", "-id"]


class MilestoneInline(ReadOnlyInline):
    model = Milestone
    fields = ["position", "title", "state", "amount", "fee", "due_date"]
    readonly_fields = fields


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "title", "client_name", "freelancer_name", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "client__email", "client_name", "freelancer__email", "freelancer_name"]
    readonly_fields = ["evidence"]
    inlines = [MilestoneInline, EventInline]

    def get_urls(self):
        evidence = path(
            "<int:contract_id>/evidence/",
            self.admin_site.admin_view(self.evidence_view),
            name="contracts_contract_evidence",
        )
        return [evidence, *super().get_urls()]

    @admin.display(description="Evidence bundle")
    def evidence(self, obj):
        url = reverse("admin:contracts_contract_evidence", args=[obj.pk])
        return format_html(
            '<a class="button" href="{}">Download the evidence bundle (ZIP)</a> — terms, revisions, submissions '
            "with SHA-256 fingerprints, the message thread and the audit trail.",
            url,
        )

    def evidence_view(self, request, contract_id):
        """One click for staff: everything needed to decide a dispute (staff only, through admin_view)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        contract = get_object_or_404(
            Contract.objects.select_related("offer__thread", "client", "freelancer"), pk=contract_id
        )
        return FileResponse(
            evidence_bundle(contract), as_attachment=True, filename=f"contract-{contract.pk}-evidence.zip"
        )


class DecisionForm(forms.Form):
    note = forms.CharField(
        label="Written decision", widget=forms.Textarea, help_text="Recorded on the contract for both parties."
    )


@admin.register(Milestone)
class MilestoneAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["state"]
    fsm_forms = {"resolve_release": DecisionForm, "resolve_refund": DecisionForm}
    list_display = ["id", "title", "contract", "state", "amount", "due_date"]
    list_filter = ["state"]
    search_fields = ["title", "contract__title", "contract__client__email", "contract__freelancer__email"]
    list_select_related = ["contract"]
    readonly_fields = [f.name for f in Milestone._meta.fields]
    inlines = [EventInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: the only actions here are the transition buttons.
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None):
        """Run the transition through the service (lock, permission, audit), never by hand."""
        note = (kwargs or {}).get("note", "")
        try:
            if transition_name.startswith("resolve_"):
                outcome = transition_name.removeprefix("resolve_")
                services.milestone_resolve_dispute(milestone_id=obj.pk, actor=request.user, outcome=outcome, note=note)
            else:
                services.milestone_transition(milestone_id=obj.pk, actor=request.user, name=transition_name, note=note)
        except (TransitionNotAllowed, PermissionDenied, ValidationError, EscrowError) as error:
            if isinstance(error, ValidationError):
                text = " ".join(error.messages)
            else:
                text = error.user_message if isinstance(error, EscrowError) else str(error)
            self.message_user(request, f"{Milestone.action_label(transition_name)} refused: {text}", messages.ERROR)
            return False
        self.message_user(request, f"{Milestone.action_label(transition_name)}: done.", messages.SUCCESS)
        return True


@admin.register(MilestoneChange)
class MilestoneChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "contract", "kind", "status", "proposed_by", "decided_by", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["contract__title"]


@admin.register(ContractEvent)
class ContractEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "contract", "milestone", "actor", "kind", "from_state", "to_state"]
    list_filter = ["kind"]
    search_fields = ["contract__title", "note"]
    list_select_related = ["contract", "milestone", "actor"]
