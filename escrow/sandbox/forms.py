"""The sandbox's hosted card form. It lives on the provider's pages only, never on ours."""

import re
from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


class SandboxCardForm(forms.Form):
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "placeholder": "4242 4242 4242 4242"}
        ),
    )
    expiry = forms.CharField(
        label=_("Expiry (MM/YY)"),
        max_length=9,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": _("MM/YY")}),
    )
    cvc = forms.CharField(
        label=_("CVC"),
        max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "placeholder": "123"}),
    )

    def clean_expiry(self) -> tuple[int, int]:
        match = EXPIRY.match(self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError(_("Enter the expiry date as MM/YY, e.g. 04/29."))
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        if (year, month) < (date.today().year, date.today().month):
            raise forms.ValidationError(_("This card has expired."))
        return month, year


class BankAccountForm(forms.Form):
    routing_number = forms.CharField(label=_("Routing number"), max_length=9, initial="110000000")
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=17,
        initial="000123456789",
        help_text=_("000111111116 is a test account whose payouts fail."),
    )
