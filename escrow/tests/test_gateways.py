from decimal import Decimal

import pytest

from escrow.gateways import (
    CardDeclined,
    GatewayUnavailable,
    InsufficientFunds,
    PaymentError,
    SandboxGateway,
    SandboxPayouts,
    get_gateway,
    get_payouts,
    luhn_valid,
    payment_error_from,
)
from escrow.services import EscrowError


def charge(number, key="key-1", exp_year=2099):
    return SandboxGateway().charge(
        amount=Decimal("10.00"),
        currency="USD",
        card_number=number,
        exp_month=1,
        exp_year=exp_year,
        cvc="123",
        idempotency_key=key,
        description="Test",
    )


@pytest.mark.parametrize(
    ("number", "brand"),
    [("4242 4242 4242 4242", "Visa"), ("5555555555554444", "Mastercard"), ("378282246310005", "American Express")],
)
def test_good_cards_succeed_with_their_brand(number, brand):
    result = charge(number)
    assert (result.brand, result.last4) == (brand, number[-4:])
    assert result.id.startswith("ch_sandbox_")


def test_a_retried_key_gets_the_same_charge_like_a_real_provider():
    assert charge("4242424242424242", key="a").id == charge("4242424242424242", key="a").id
    assert charge("4242424242424242", key="a").id != charge("4242424242424242", key="b").id


@pytest.mark.parametrize(
    ("number", "error", "message"),
    [
        ("4000 0000 0000 0002", CardDeclined, "Your card was declined. Try another card."),
        ("4000 0000 0000 9995", InsufficientFunds, "Your card has insufficient funds."),
        (
            "4000 0000 0000 0119",
            GatewayUnavailable,
            "We couldn't reach the payment provider. Nothing was charged; please try again.",
        ),
        ("4242 4242 4242 4241", CardDeclined, "Your card number is invalid. Check it and try again."),
        ("1234", CardDeclined, "Your card number is invalid. Check it and try again."),
    ],
)
def test_test_cards_fail_like_a_provider(number, error, message):
    with pytest.raises(error) as failure:
        charge(number)
    assert failure.value.user_message == message
    assert isinstance(failure.value, PaymentError) and isinstance(failure.value, EscrowError)


def test_an_expired_card_is_declined():
    with pytest.raises(CardDeclined, match="expired"):
        charge("4242424242424242", exp_year=2001)


def test_luhn():
    assert luhn_valid("4242424242424242") and luhn_valid("4000000000000002") and luhn_valid("4000000000000119")
    assert not luhn_valid("4242424242424241") and not luhn_valid("42") and not luhn_valid("")


def test_errors_are_rebuilt_from_their_code():
    error = payment_error_from("insufficient_funds", "Your card has insufficient funds.")
    assert type(error) is InsufficientFunds and error.code == "insufficient_funds"
    assert type(payment_error_from("invalid_number", "Invalid")) is CardDeclined


def test_the_settings_choose_the_gateway_and_payouts(settings):
    assert isinstance(get_gateway(), SandboxGateway) and isinstance(get_payouts(), SandboxPayouts)
    settings.PAYMENT_GATEWAY = "escrow.tests.gateways.CountingGateway"
    assert type(get_gateway()).__name__ == "CountingGateway"


def test_refunds_and_payouts_are_idempotent_by_key():
    assert SandboxGateway().refund(charge_id="ch_1", amount=Decimal("1.00"), idempotency_key="r") == (
        SandboxGateway().refund(charge_id="ch_1", amount=Decimal("2.00"), idempotency_key="r")
    )
    assert SandboxPayouts().payout(user=None, amount=Decimal("1.00"), idempotency_key="p").startswith("po_sandbox_")
