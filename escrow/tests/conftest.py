import pytest

from escrow.tests.helpers import assert_ledger_consistent as _assert_ledger_consistent
from marketplace.tests.factories import FreelancerFactory, UserFactory


@pytest.fixture
def assert_ledger_consistent():
    """Call it after every money movement: fails with each audit violation."""
    return _assert_ledger_consistent


@pytest.fixture
def payer(db):
    return UserFactory(name="Clara Client")


@pytest.fixture
def payee(db):
    return FreelancerFactory(name="Felix Freelancer")


@pytest.fixture(autouse=True)
def no_caller_callbacks(settings):
    """Escrow's own tests use "milestone:<n>" references without milestones: no caller is told."""
    settings.ESCROW_PAYMENT_CALLBACKS = {}
