from decimal import Decimal

import pytest
from django.template import Context, Template

from marketplace.money import format_money, platform_fee, to_money


@pytest.mark.parametrize(
    ("amount", "percent", "fee"),
    [("100.00", "10", "10.00"), ("5.00", "10", "0.50"), ("33.33", "10", "3.33"), ("0.05", "10", "0.01")],
)
def test_platform_fee_is_rounded_half_up_to_cents(amount, percent, fee):
    assert platform_fee(Decimal(amount), Decimal(percent)) == Decimal(fee)


def test_to_money_refuses_floats():
    with pytest.raises(TypeError):
        to_money(0.1)


def test_format_money_and_template_filter():
    assert format_money(Decimal("1234.5")) == "$1,234.50"
    assert format_money(Decimal("-3")) == "-$3.00"
    assert Template("{% load money %}{{ a|money }}").render(Context({"a": Decimal("7")})) == "$7.00"
