from allauth.account import forms as allauth_forms
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _
from timezone_field import TimeZoneFormField

from .models import User
from .services import MAX_SKILL_LENGTH, MAX_SKILLS, skills_normalise

ROLE_CHOICES = [
    ("hire", _("Hire freelancers")),
    ("work", _("Work as a freelancer")),
    ("both", _("Both")),
]


class RoleField(forms.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ROLE_CHOICES, widget=forms.RadioSelect, label=_("I want to"), **kwargs)


class SignUpForm(allauth_forms.SignupForm):
    """allauth's sign-up (email, password twice) with our name, roles and timezone;
    `marketplace.accounts.AccountAdapter.save_user` stores them."""

    name = forms.CharField(
        label=_("Full name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True})
    )
    role = RoleField(initial="hire")
    timezone = TimeZoneFormField(
        initial="UTC",
        choices_display="WITH_GMT_OFFSET",
        help_text=_("Deadlines and release times are shown in this timezone."),
    )

    accept_terms = forms.BooleanField(
        required=True, error_messages={"required": gettext_lazy("Accept the terms of service to create an account.")}
    )

    field_order = ["name", "email", "role", "password1", "password2", "timezone", "accept_terms"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("Email address")
        self.fields["email"].widget.attrs.pop("placeholder", None)
        self.fields["password1"].label = _("Password")
        self.fields["password1"].widget.attrs.pop("placeholder", None)
        self.fields["password2"].label = _("Password confirmation")
        self.fields["password2"].widget.attrs.pop("placeholder", None)
        self.fields["accept_terms"].label = format_html(
            gettext('I accept the <a href="{}">terms of service</a> and the <a href="{}">privacy policy</a>'),
            reverse("terms"),
            reverse("privacy"),
        )
        self.order_fields(self.field_order)

    def clean_name(self):
        return self.cleaned_data["name"].strip()


class LogInForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Email address")
        self.fields["login"].widget.attrs.pop("placeholder", None)
        self.fields["password"].widget.attrs.pop("placeholder", None)


class AccountSettingsForm(forms.Form):
    name = forms.CharField(label=_("Full name"), max_length=150)
    role = RoleField()
    timezone = TimeZoneFormField(
        label=_("Timezone"),
        choices_display="WITH_GMT_OFFSET",
        help_text=_("Dates and times across the site are shown in this timezone."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        help_text=_("The language of the site and of the emails we send you."),
    )
    refund_to = forms.ChoiceField(
        label=_("When a milestone is refunded to me, send the money to"),
        choices=User.RefundTo.choices,
        widget=forms.RadioSelect,
    )


class ProfileForm(forms.Form):
    """Validates a freelancer profile; `marketplace.services.profile_update` does the writing."""

    headline = forms.CharField(
        label=_("Headline"),
        max_length=120,
        required=False,
        help_text=_("One line clients see first, e.g. “Full-stack Django developer”."),
    )
    bio = forms.CharField(
        label=_("About you"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What you do, for whom, and how you work. At most 5,000 characters."),
    )
    location = forms.CharField(
        label=_("Location"), max_length=100, required=False, help_text=_("City and country, e.g. Lisbon, Portugal.")
    )
    skills = forms.CharField(
        label=_("Skills"),
        required=False,
        help_text=_("Comma-separated, e.g. python, django, copywriting"),
    )

    def clean_skills(self) -> list[str]:
        skills = skills_normalise(self.cleaned_data["skills"].split(","))
        too_long = [skill for skill in skills if len(skill) > MAX_SKILL_LENGTH]
        if too_long:
            raise forms.ValidationError(
                _("Each skill can be at most %(max)d characters; shorten “%(skill)s”."),
                code="skill_too_long",
                params={"max": MAX_SKILL_LENGTH, "skill": too_long[0][:20] + "…"},
            )
        if len(skills) > MAX_SKILLS:
            raise forms.ValidationError(
                _("List at most %(max)d skills; you entered %(count)d."),
                code="too_many_skills",
                params={"max": MAX_SKILLS, "count": len(skills)},
            )
        return skills
