"""Staff views of offers, contracts and milestones. Records are read-only here; milestone
transitions go through the same service as the site (lock, permission, audit row)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince
from django_fsm import TransitionNotAllowed

from escrow.errors import EscrowError
from escrow.selectors import hold_summaries
from marketplace.admin_paging import LargeTableAdmin, PaginatedInline, PaginatedInlinesAdmin
from marketplace.money import format_money

from . import policy, selectors, services
from .evidence import evidence_bundle
from .forms import DisputeDecisionForm
from .models import (
    Contract,
    ContractEvent,
    Dispute,
    Milestone,
    MilestoneChange,
    Offer,
    OfferMilestone,
    OfferRevision,
)


def object_or_404(queryset, object_id):
    """The admin's URLs take any text as an id (a relative URL resolved against a change page, say): a 404 for
    what is not one, as the admin's own `get_object` does, never a 500."""
    try:
        return queryset.get(pk=object_id)
    except (queryset.model.DoesNotExist, ValueError, ValidationError):
        raise Http404 from None


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
    view_on_site = False  # the site's pages are the parties' own: staff would get a 404 there


class OfferRevisionInline(ReadOnlyInline):
    model = OfferRevision
    fields = ["number", "author", "title", "revision_rounds", "fee_percent", "created_at"]
    readonly_fields = fields


@admin.register(Offer)
class OfferAdmin(LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
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


class EventInline(PaginatedInline, ReadOnlyInline):
    """The audit trail, newest first, a page at a time (a long contract has thousands of events)."""

    model = ContractEvent
    fk_name = "contract"
    list_select_related = ("actor", "milestone")
    fields = ["created_at", "actor", "kind", "milestone", "from_state", "to_state", "note"]
    readonly_fields = fields
    show_change_link = False
    ordering = ["-created_at", "-id"]


class MilestoneEventInline(EventInline):
    fk_name = "milestone"


class MilestoneInline(PaginatedInline, ReadOnlyInline):
    """The contract's milestones in order, a page at a time (Django renders each read-only row slowly: 50 of them
    were most of a 140 ms page)."""

    model = Milestone
    fk_name = "contract"
    ordering = ["position", "id"]
    fields = ["position", "title", "state", "amount", "fee", "due_date"]
    readonly_fields = fields


@admin.register(Contract)
class ContractAdmin(PaginatedInlinesAdmin, LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
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


class CancelForm(forms.Form):
    note = forms.CharField(label="Reason (optional)", required=False, widget=forms.Textarea)


# Staff's actions on a milestone, each run through the same action as everywhere else.
STAFF_ACTIONS = {
    "cancel": lambda milestone_id, actor, note: services.milestone_cancel(
        milestone_id=milestone_id, actor=actor, note=note
    ),
    "resolve_release": lambda milestone_id, actor, note: services.milestone_resolve_dispute(
        milestone_id=milestone_id, actor=actor, outcome="release", note=note
    ),
    "resolve_refund": lambda milestone_id, actor, note: services.milestone_resolve_dispute(
        milestone_id=milestone_id, actor=actor, outcome="refund", note=note
    ),
}


@admin.register(Milestone)
class MilestoneAdmin(PaginatedInlinesAdmin, LargeTableAdmin, admin.ModelAdmin):
    """Read-only; the staff actions the policy allows now are buttons on the change page."""

    list_display = ["id", "title", "contract", "state", "amount", "due_date"]
    list_filter = ["state"]
    search_fields = ["title", "contract__title", "contract__client__email", "contract__freelancer__email"]
    list_select_related = ["contract"]
    ordering = ["-id"]  # newest first, straight from the primary key (the model's order sorts the whole table)
    readonly_fields = [f.name for f in Milestone._meta.fields]
    inlines = [MilestoneEventInline]
    change_form_template = "admin/contracts/milestone/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        action = path(
            "<int:milestone_id>/action/<str:name>/",
            self.admin_site.admin_view(self.action_view),
            name="contracts_milestone_action",
        )
        return [action, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: the only actions here are the staff actions the policy allows now.
        milestone = object_or_404(Milestone.objects.select_related("contract"), object_id)
        allowed = [
            {
                "name": a.name,
                "label": a.label,
                "url": reverse("admin:contracts_milestone_action", args=[milestone.pk, a.name]),
            }
            for a in policy.milestone_actions(request.user, milestone, policy.STAFF_ACTIONS)
        ]
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "staff_actions": allowed,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def action_view(self, request, milestone_id, name):
        """Confirm a staff action with its written note, then run it through the action (lock, policy, audit)."""
        if name not in STAFF_ACTIONS or not self.has_view_permission(request):
            raise PermissionDenied
        milestone = get_object_or_404(Milestone.objects.select_related("contract"), pk=milestone_id)
        back = reverse("admin:contracts_milestone_change", args=[milestone.pk])
        label = policy.action_label(name)
        verdict = policy.milestone_may(request.user, milestone, name)
        if not verdict:
            self.message_user(request, f"{label} refused: {verdict.reason}", messages.ERROR)
            return redirect(back)
        form_class = CancelForm if name == "cancel" else DecisionForm
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                STAFF_ACTIONS[name](milestone.pk, request.user, form.cleaned_data["note"])
            except (TransitionNotAllowed, PermissionDenied, ValidationError, EscrowError) as error:
                self.message_user(request, f"{label} refused: {refusal_text(error)}", messages.ERROR)
            else:
                contract = milestone.contract
                done = policy.MILESTONE_ACTIONS[name].done_message(
                    title=milestone.title, freelancer=contract.freelancer_name, client=contract.client_name
                )
                self.message_user(request, done, messages.SUCCESS)
            return redirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label}: {milestone.title}",
            "milestone": milestone,
            "form": form,
            "label": label,
            "back": back,
            "opts": self.model._meta,
        }
        return render(request, "admin/contracts/milestone/action.html", context)


def refusal_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return error.user_message if isinstance(error, EscrowError) else str(error)


class SlaFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open (awaiting evidence or under review)"), ("no", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(state__in=Dispute.OPEN_STATES)
        if self.value() == "no":
            return queryset.exclude(state__in=Dispute.OPEN_STATES)
        return queryset


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Staff's queue: open disputes oldest first with an SLA indicator; one page per case with everything
    needed to decide it, and the decision form (through the same actions as everywhere)."""

    list_display = ["id", "age", "sla", "milestone_link", "opened_by", "state", "held", "assigned_to", "created_at"]
    list_filter = [SlaFilter, "state"]
    list_select_related = ["milestone__contract", "opened_by", "assigned_to"]
    search_fields = ["milestone__title", "milestone__contract__title", "opened_by__email", "reason"]
    ordering = ["created_at", "id"]
    show_full_result_count = False
    change_form_template = "admin/contracts/dispute/change_form.html"

    def changelist_view(self, request, extra_context=None):
        if "open" not in request.GET and "state__exact" not in request.GET and not request.GET.get("q"):
            query = request.GET.copy()
            query["open"] = "yes"  # the queue: open cases by default
            request.GET = query
            request.META["QUERY_STRING"] = query.urlencode()
        return super().changelist_view(request, extra_context)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        disputes = list(changelist.result_list)
        held = hold_summaries([d.milestone.hold_reference for d in disputes])
        for dispute in disputes:
            dispute.held_now = held[dispute.milestone.hold_reference].held
        return changelist

    @admin.display(description="Age")
    def age(self, obj):
        return timesince(obj.created_at)

    @admin.display(description="SLA")
    def sla(self, obj):
        if not obj.is_open:
            return "—"
        used = (timezone.now() - obj.created_at) / settings.DISPUTE_STAFF_SLA
        text, colour = (
            ("overdue", "#b02a37") if used >= 1 else ("due soon", "#997404") if used >= 0.5 else ("on time", "#146c43")
        )
        return format_html('<strong style="color:{}">{}</strong>', colour, text)

    @admin.display(description="Milestone")
    def milestone_link(self, obj):
        return f"{obj.milestone.title} ({obj.milestone.contract.title})"

    @admin.display(description="Held")
    def held(self, obj):
        return format_money(getattr(obj, "held_now", 0)) + f" {settings.CURRENCY}"

    def get_urls(self):
        urls = [
            path(
                "<int:dispute_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="contracts_dispute_decide",
            ),
            path(
                "<int:dispute_id>/assign/",
                self.admin_site.admin_view(self.assign_view),
                name="contracts_dispute_assign",
            ),
        ]
        return [*urls, *super().get_urls()]

    def _dispute(self, dispute_id):
        return object_or_404(
            Dispute.objects.select_related("milestone__contract__offer__thread", "opened_by", "assigned_to"), dispute_id
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dispute = self._dispute(object_id)
        page = selectors.dispute_staff_page(dispute=dispute)
        held = page["money"].held
        extra_context = {
            **(extra_context or {}),
            **page,
            "show_save": False,
            "show_save_and_continue": False,
            "can_decide": bool(policy.dispute_may(request.user, dispute, "decide")),
            "decision_form": DisputeDecisionForm(initial={"to_freelancer": held, "to_client": 0}),
            "currency": settings.CURRENCY,
            "evidence_bundle_url": reverse("admin:contracts_contract_evidence", args=[dispute.milestone.contract_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, dispute_id):
        dispute = self._dispute(dispute_id)
        back = reverse("admin:contracts_dispute_change", args=[dispute.pk])
        form = DisputeDecisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.dispute_decide(dispute_id=dispute.pk, actor=request.user, **form.cleaned_data)
            except (TransitionNotAllowed, PermissionDenied, ValidationError, EscrowError) as error:
                self.message_user(request, f"Decision refused: {refusal_text(error)}", messages.ERROR)
            else:
                self.message_user(request, "Decided. Both parties see the decision and the money.", messages.SUCCESS)
        elif request.method == "POST":
            self.message_user(request, f"Decision refused: {form.errors.as_text()}", messages.ERROR)
        return redirect(back)

    def assign_view(self, request, dispute_id):
        dispute = self._dispute(dispute_id)
        if request.method == "POST":
            try:
                services.dispute_assign(dispute_id=dispute.pk, actor=request.user, assignee=request.user)
            except (TransitionNotAllowed, PermissionDenied, ValidationError) as error:
                self.message_user(request, f"Assignment refused: {refusal_text(error)}", messages.ERROR)
            else:
                self.message_user(request, "The case is yours.", messages.SUCCESS)
        return redirect(reverse("admin:contracts_dispute_change", args=[dispute.pk]))


@admin.register(MilestoneChange)
class MilestoneChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "contract", "kind", "status", "proposed_by", "decided_by", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["contract__title"]


@admin.register(ContractEvent)
class ContractEventAdmin(LargeTableAdmin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "contract", "milestone", "actor", "kind", "from_state", "to_state"]
    list_filter = ["kind"]
    search_fields = ["contract__title", "note"]
    list_select_related = ["contract", "milestone", "actor"]
