"""Forms parse; the rules live in the actions (`jobs.services`, `contracts.rules`). Milestone plans use the
offers' own milestone rows (`contracts.forms.MilestoneFormSet`)."""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from contracts.forms import BaseMilestoneFormSet, MilestoneForm, MultipleFileField

from .models import Job
from .services import JobTerms


class JobForm(forms.Form):
    title = forms.CharField(
        label=_("Title"), max_length=120, help_text=_("A short name for the work, e.g. “Online shop in Django”.")
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What you need done, and by when."),
    )
    skills = forms.CharField(
        label=_("Skills"),
        max_length=500,
        required=False,
        help_text=_("Comma-separated, e.g. python, django. Freelancers filter jobs by these."),
    )
    budget_min = forms.DecimalField(
        label=format_lazy(_("Budget ({currency})"), currency=settings.CURRENCY),
        max_digits=12,
        decimal_places=2,
        min_value=settings.MILESTONE_MIN_AMOUNT,
        help_text=_("A fixed budget, or the lower end of a range."),
    )
    budget_max = forms.DecimalField(
        label=format_lazy(_("Up to ({currency}, optional)"), currency=settings.CURRENCY),
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text=_("Leave empty for a fixed budget."),
    )
    deadline = forms.DateField(label=_("Deadline"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    visibility = forms.ChoiceField(
        label=_("Visibility"), choices=Job.Visibility.choices, widget=forms.RadioSelect, initial="public"
    )
    files = MultipleFileField(
        label=_("Attachments (optional)"), required=False, help_text=_("Briefs, mock-ups, examples.")
    )

    def terms(self) -> JobTerms:
        data = self.cleaned_data
        skills = [s.strip().lower() for s in data["skills"].split(",") if s.strip()]
        budget_max = data["budget_max"] if data["budget_max"] is not None else data["budget_min"]
        return JobTerms(
            title=data["title"],
            description=data["description"],
            skills=skills,
            budget_min=data["budget_min"],
            budget_max=Decimal(budget_max),
            deadline=data["deadline"],
            visibility=data["visibility"],
        )


class OptionalPlanFormSet(BaseMilestoneFormSet):
    """A job's desired milestones: the offers' rows and rules, but none at all is fine."""

    def clean(self):
        if self.kept_forms() or any(self.errors):
            super().clean()


JobPlanFormSet = forms.formset_factory(
    MilestoneForm,
    formset=OptionalPlanFormSet,
    extra=0,
    max_num=settings.OFFER_MAX_MILESTONES,
    validate_max=True,
    absolute_max=settings.OFFER_MAX_MILESTONES + 10,
    can_delete=True,
)


class ProposalForm(forms.Form):
    cover_letter = forms.CharField(
        label=_("Cover letter"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Why you, and how you would do the work. The client sees this first."),
    )
    files = MultipleFileField(label=_("Attachments (optional)"), required=False, help_text=_("Examples of your work."))


class InviteForm(forms.Form):
    job = forms.ModelChoiceField(queryset=None, label=_("Job"), empty_label=None)
    message = forms.CharField(
        label=_("Note (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, jobs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].queryset = jobs


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SavedSearchForm(forms.Form):
    name = forms.CharField(label=_("Name this search"), max_length=120)
