import pytest

from escrow.tests.gateways import CountingGateway
from escrow.tests.helpers import assert_ledger_consistent as _assert_ledger_consistent
from marketplace.tests.factories import FreelancerFactory, UserFactory


@pytest.fixture
def assert_ledger_consistent():
    """Call it after every money movement: fails with each audit violation."""
    return _assert_ledger_consistent


@pytest.fixture
def gateway(settings):
    """The sandbox gateway, recording each charge and refund call it receives."""
    settings.PAYMENT_GATEWAY = "escrow.tests.gateways.CountingGateway"
    CountingGateway.reset()
    yield CountingGateway
    CountingGateway.reset()


@pytest.fixture
def payer(db):
    return UserFactory(name="Clara Client")


@pytest.fixture
def payee(db):
    return FreelancerFactory(name="Felix Freelancer")
