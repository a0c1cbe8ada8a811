from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from marketplace.money import format_money

from .rules import MilestoneTerms, OfferTerms, check_due_date, check_links, check_milestones


class OfferTermsForm(forms.Form):
    title = forms.CharField(
        label=_("Title"), max_length=120, help_text=_("A short name for the work, e.g. “Company website redesign”.")
    )
    scope = forms.CharField(
        label=_("Scope of work"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What is included."),
    )
    acceptance_criteria = forms.CharField(
        label=_("What success looks like"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("How the client will judge the work is done."),
    )
    revision_rounds = forms.IntegerField(
        label=_("Revision rounds included"),
        min_value=0,
        max_value=10,
        initial=2,
        help_text=_("How many times the client can ask for changes on a milestone before approving or disputing."),
    )
    message = forms.CharField(
        label=_("Note to the other party"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def terms(self) -> OfferTerms:
        return OfferTerms(**self.cleaned_data)


class MilestoneForm(forms.Form):
    key = forms.UUIDField(required=False, widget=forms.HiddenInput)
    title = forms.CharField(label=_("Title"), max_length=120)
    deliverable = forms.CharField(label=_("Deliverable"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    due_date = forms.DateField(label=_("Estimated delivery date"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=12,
        decimal_places=2,
        min_value=settings.MILESTONE_MIN_AMOUNT,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "class": "js-amount"}),
        error_messages={
            "min_value": format_lazy(
                _("The minimum amount for a milestone is {amount}."), amount=settings.MILESTONE_MIN_AMOUNT
            )
        },
    )

    def clean_due_date(self):
        due_date = self.cleaned_data["due_date"]
        check_due_date(due_date)  # the action checks it again; here it shows next to the field
        return due_date

    def terms(self) -> MilestoneTerms:
        data = {k: v for k, v in self.cleaned_data.items() if k in ("title", "deliverable", "due_date", "amount")}
        if self.cleaned_data.get("key"):
            data["key"] = self.cleaned_data["key"]
        return MilestoneTerms(**data)


class BaseMilestoneFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_few_forms": _("Add at least one milestone."),
        "too_many_forms": format_lazy(
            _("An offer can have at most {count} milestones."), count=settings.OFFER_MAX_MILESTONES
        ),
    }

    def kept_forms(self):
        # Blank extra rows validate to an empty cleaned_data; rows marked for removal are dropped.
        return [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]

    def clean(self):
        if any(self.errors):
            return
        check_milestones([f.terms() for f in self.kept_forms()])

    def terms(self) -> list[MilestoneTerms]:
        return [f.terms() for f in self.kept_forms()]


MilestoneFormSet = forms.formset_factory(
    MilestoneForm,
    formset=BaseMilestoneFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=settings.OFFER_MAX_MILESTONES,
    validate_max=True,
    absolute_max=settings.OFFER_MAX_MILESTONES + 10,
    can_delete=True,
)


def milestone_initial(revision) -> list[dict]:
    """A revision's milestones as formset initial data (keys kept so the diff can match them)."""
    return [
        {"key": m.key, "title": m.title, "deliverable": m.deliverable, "due_date": m.due_date, "amount": m.amount}
        for m in revision.milestones.all()
    ]


def terms_initial(revision) -> dict:
    fields = ("title", "scope", "acceptance_criteria", "revision_rounds")
    return {name: getattr(revision, name) for name in fields}


class ContractMilestoneForm(MilestoneForm):
    """Adding or editing one milestone during a contract."""

    key = None


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The client will see this."),
    )


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class FundForm(forms.Form):
    """Which draft milestones to pay into escrow now, and whether to use credit first."""

    milestones = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, label=_("Milestones to fund")
    )
    use_credit = forms.BooleanField(required=False, label=_("Use my credit first"))
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, drafts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestones"].queryset = drafts
        self.fields["milestones"].label_from_instance = lambda m: f"{m.position}. {m.title} — {format_money(m.amount)}"
        self.fields["milestones"].error_messages["required"] = _("Choose at least one milestone to fund.")


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the freelancer (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    bonus = forms.DecimalField(
        label=_("Add a bonus (optional)"),
        required=False,
        min_value=Decimal("1.00"),
        max_digits=12,
        decimal_places=2,
        help_text=_("Charged to your card, paid to the freelancer with the milestone (less the platform fee)."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to refund"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("The whole amount ends the milestone; a smaller amount leaves the rest in escrow."),
    )

    def __init__(self, *args, remaining, **kwargs):
        super().__init__(*args, **kwargs)
        self.remaining = remaining
        self.fields["amount"].initial = remaining

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount > self.remaining:
            raise ValidationError(_("You can refund at most %(amount)s.") % {"amount": format_money(self.remaining)})
        return amount


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files in one input (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class SubmitWorkForm(forms.Form):
    message = forms.CharField(
        label=_("What you are delivering"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Describe the work and how it meets what success looks like."),
    )
    links = forms.CharField(
        label=_("Links (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("https://…")}),
        help_text=_("One per line, e.g. a staging site or a shared folder."),
    )
    files = MultipleFileField(
        label=_("Files (optional)"),
        required=False,
        help_text=_("Up to 25 MB each, 100 MB in all. Each file’s SHA-256 fingerprint is recorded."),
    )

    def clean_links(self) -> list[str]:
        return check_links(self.cleaned_data["links"].splitlines())


class ReleasePartForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to release now"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("Less than what is held; the rest stays in escrow for a later release, a refund or a dispute."),
    )
    note = forms.CharField(label=_("Note to the freelancer (optional)"), required=False, max_length=2000)


class EvidenceForm(forms.Form):
    text = forms.CharField(
        label=_("Your evidence"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What happened, with dates. Staff read this together with the contract's record."),
    )
    files = MultipleFileField(
        label=_("Files (optional)"),
        required=False,
        help_text=_("Up to 25 MB each. Each file's SHA-256 fingerprint is recorded; evidence can't be edited."),
    )


class SplitForm(forms.Form):
    to_freelancer = forms.DecimalField(label=_("To the freelancer"), max_digits=12, decimal_places=2, min_value=0)
    to_client = forms.DecimalField(label=_("Back to the client"), max_digits=12, decimal_places=2, min_value=0)


class DisputeDecisionForm(SplitForm):
    waive_fee = forms.BooleanField(
        label=_("Waive the platform fee on the released part"), required=False, help_text=_("Default: the usual fee.")
    )
    note = forms.CharField(
        label=_("Written reasons"), widget=forms.Textarea(attrs={"rows": 5}), help_text=_("Both parties read this.")
    )
