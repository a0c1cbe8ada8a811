"""Forms of the escrow app. They validate input; the services do the writing.

There is no card form here: cards are typed on the payment provider's hosted page only.
"""

import re
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import withdrawal_error

EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


class WithdrawForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to withdraw"),
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )

    def __init__(self, *args, available: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.available = available
        self.fields["amount"].widget.attrs["max"] = str(available)
        self.fields["amount"].help_text = _("Paid to your bank account on file, usually within 1–2 business days.")

    def clean_amount(self) -> Decimal:
        # The same rule payout_request enforces under a lock; checked here so the error shows before confirming.
        amount = self.cleaned_data["amount"]
        message = withdrawal_error(amount, self.available)
        if message:
            raise forms.ValidationError(message)
        return amount
