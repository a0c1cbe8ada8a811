import pytest

from escrow.tests.gateways import CountingGateway
from escrow.tests.helpers import assert_ledger_consistent as _assert_ledger_consistent


@pytest.fixture
def assert_ledger_consistent():
    """Every audit check, the contracts' milestone checks included; call it after money moves."""
    return _assert_ledger_consistent


@pytest.fixture
def gateway(settings):
    settings.PAYMENT_GATEWAY = "escrow.tests.gateways.CountingGateway"
    CountingGateway.reset()
    yield CountingGateway
    CountingGateway.reset()
