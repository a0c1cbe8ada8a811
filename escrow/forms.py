"""Forms of the escrow app. They validate input; the services do the writing.

`CardForm` is meant to be embedded by other apps in their payment pages (render it with
`{% include "escrow/_card_fields.html" with card_form=form %}` or `{{ form|crispy }}`), then passed to
`holds_fund(card=form.card_details(), ...)`. The card number lives only in the request.
"""

import re
from datetime import date
from decimal import Decimal

from django import forms
from django.conf import settings

from .gateways import CardDetails, luhn_valid, normalize_card_number
from .services import withdrawal_error

EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


class CardForm(forms.Form):
    card_number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "placeholder": "1234 1234 1234 1234"}
        ),
    )
    expiry = forms.CharField(
        label="Expiry date",
        max_length=9,
        help_text="MM/YY",
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM/YY"}),
    )
    cvc = forms.CharField(
        label="CVC",
        max_length=4,
        help_text="The 3 or 4 digits on the back of the card.",
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "placeholder": "123"}),
    )

    def clean_card_number(self) -> str:
        number = normalize_card_number(self.cleaned_data["card_number"])
        if not luhn_valid(number):
            raise forms.ValidationError("Enter a valid card number.")
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = EXPIRY.match(self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError("Enter the expiry date as MM/YY, e.g. 04/29.")
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = date.today()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError("Enter the 3 or 4 digit security code.")
        return cvc

    @property
    def sandbox(self) -> bool:
        """True while payments go to the sandbox: pages then show the test card numbers."""
        return settings.PAYMENT_GATEWAY == "escrow.gateways.SandboxGateway"

    def card_details(self) -> CardDetails:
        """The validated card, for the payment services. Call after is_valid()."""
        month, year = self.cleaned_data["expiry"]
        return CardDetails(
            number=self.cleaned_data["card_number"], exp_month=month, exp_year=year, cvc=self.cleaned_data["cvc"]
        )


class WithdrawForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount to withdraw",
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )

    def __init__(self, *args, available: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.available = available
        self.fields["amount"].widget.attrs["max"] = str(available)
        self.fields["amount"].help_text = "Paid to your bank account on file, usually within 1–2 business days."

    def clean_amount(self) -> Decimal:
        # The same rule payout_request enforces under a lock; checked here so the error shows before confirming.
        amount = self.cleaned_data["amount"]
        message = withdrawal_error(amount, self.available)
        if message:
            raise forms.ValidationError(message)
        return amount
