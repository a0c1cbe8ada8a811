"""Factories for escrow tests. Ledger rows are made through the services, never by hand."""

import itertools
from decimal import Decimal

import factory

from escrow.gateways import CardDetails
from escrow.services import HoldSpec
from marketplace.tests.factories import FreelancerFactory

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS_CARD = "4000 0000 0000 9995"
UNREACHABLE_CARD = "4000 0000 0000 0119"

_keys = itertools.count(1)


def new_key() -> str:
    """A fresh idempotency key, as a payment form would carry."""
    return f"test-key-{next(_keys)}"


class CardFactory(factory.Factory):
    class Meta:
        model = CardDetails

    number = GOOD_CARD
    exp_month = 12
    exp_year = 2099
    cvc = "123"


class HoldSpecFactory(factory.Factory):
    class Meta:
        model = HoldSpec

    reference = factory.Sequence(lambda n: f"milestone:{n + 1}")
    payee = factory.SubFactory(FreelancerFactory)
    amount = Decimal("500.00")
    fee = Decimal("50.00")
    label = factory.Sequence(lambda n: f"Logo design — Milestone {n + 1}")
    link_url = factory.LazyAttribute(lambda spec: f"/contracts/1/#{spec.reference.replace(':', '-')}")
