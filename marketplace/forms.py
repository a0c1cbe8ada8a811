from django import forms
from django.contrib.auth.forms import BaseUserCreationForm
from timezone_field import TimeZoneFormField

from .models import User

ROLE_CHOICES = [
    ("hire", "Hire freelancers"),
    ("work", "Work as a freelancer"),
    ("both", "Both"),
]


class RoleField(forms.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ROLE_CHOICES, widget=forms.RadioSelect, label="I want to", **kwargs)


class SignUpForm(BaseUserCreationForm):
    """Validates a sign-up; `marketplace.services.user_create` does the writing."""

    role = RoleField(initial="hire")
    timezone = TimeZoneFormField(
        initial="UTC",
        choices_display="WITH_GMT_OFFSET",
        help_text="Deadlines and release times are shown in this timezone.",
    )

    class Meta:
        model = User
        fields = ("name", "email")
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
        }

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in or reset your password.")
        return email


class AccountSettingsForm(forms.Form):
    name = forms.CharField(label="Full name", max_length=150)
    role = RoleField()
    timezone = TimeZoneFormField(
        choices_display="WITH_GMT_OFFSET", help_text="Dates and times across the site are shown in this timezone."
    )
