from datetime import date
from decimal import Decimal

import pytest

from escrow.forms import CardForm, WithdrawForm


def card_form(**changes):
    data = {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123", **changes}
    return CardForm(data)


def test_a_valid_card():
    form = card_form(expiry=" 4 / 2031 ")
    assert form.is_valid(), form.errors
    card = form.card_details()
    assert (card.number, card.exp_month, card.exp_year, card.cvc, card.last4) == (
        "4242424242424242",
        4,
        2031,
        "123",
        "4242",
    )
    assert "4242424242424242" not in repr(card) and "123" not in repr(card)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("card_number", "4242 4242 4242 4241", "Enter a valid card number."),
        ("card_number", "abcd", "Enter a valid card number."),
        ("expiry", "13/30", "Enter the expiry date as MM/YY, e.g. 04/29."),
        ("expiry", "1230", "Enter the expiry date as MM/YY, e.g. 04/29."),
        ("expiry", f"01/{(date.today().year - 1) % 100:02d}", "This card has expired."),
        ("cvc", "12", "Enter the 3 or 4 digit security code."),
        ("cvc", "12a", "Enter the 3 or 4 digit security code."),
        ("cvc", "", "This field is required."),
    ],
)
def test_errors_belong_to_their_field(field, value, message):
    form = card_form(**{field: value})
    assert not form.is_valid()
    assert form.errors == {field: [message]}


def test_the_card_form_renders_with_card_autocomplete():
    html = CardForm().as_p()
    assert 'autocomplete="cc-number"' in html and 'autocomplete="cc-exp"' in html and 'autocomplete="cc-csc"' in html


@pytest.mark.parametrize(
    ("amount", "error"),
    [("10.00", None), ("0", "Enter an amount greater than zero."), ("10.01", "You can withdraw at most $10.00.")],
)
def test_withdraw_form_checks_the_available_balance(amount, error):
    form = WithdrawForm({"amount": amount}, available=Decimal("10.00"))
    assert form.is_valid() is (error is None)
    if error:
        assert form.errors["amount"] == [error]


def test_the_card_fields_include_shows_errors_next_to_each_field_and_the_test_card_hint():
    from django.template.loader import render_to_string

    form = card_form(card_number="1234", cvc="1")
    form.is_valid()
    html = render_to_string("escrow/_card_fields.html", {"card_form": form})

    assert "Enter a valid card number." in html and "Enter the 3 or 4 digit security code." in html
    assert "4242 4242 4242 4242" in html and "never stored here" in html
