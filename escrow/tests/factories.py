"""Factories for escrow tests. Ledger rows are made through the services, never by hand."""

import itertools
from decimal import Decimal

import factory

from escrow.services import HoldSpec
from marketplace.tests.factories import FreelancerFactory

_keys = itertools.count(1)


def new_key() -> str:
    """A fresh idempotency key, as a payment form would carry."""
    return f"test-key-{next(_keys)}"


class HoldSpecFactory(factory.Factory):
    class Meta:
        model = HoldSpec

    reference = factory.Sequence(lambda n: f"milestone:{n + 1}")
    payee = factory.SubFactory(FreelancerFactory)
    amount = Decimal("500.00")
    fee = Decimal("50.00")
    label = factory.Sequence(lambda n: f"Logo design — Milestone {n + 1}")
    link_url = factory.LazyAttribute(lambda spec: f"/contracts/1/#{spec.reference.replace(':', '-')}")
