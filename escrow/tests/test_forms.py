from decimal import Decimal

import pytest

from escrow.forms import WithdrawForm


@pytest.mark.parametrize(
    ("amount", "error"),
    [("10.00", None), ("0", "Enter an amount greater than zero."), ("10.01", "You can withdraw at most $10.00.")],
)
def test_withdraw_form_checks_the_available_balance(amount, error):
    form = WithdrawForm({"amount": amount}, available=Decimal("10.00"))
    assert form.is_valid() is (error is None)
    if error:
        assert form.errors["amount"] == [error]
