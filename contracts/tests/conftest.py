import pytest

from escrow.tests.helpers import assert_ledger_consistent as _assert_ledger_consistent


@pytest.fixture
def assert_ledger_consistent():
    """Every audit check, the contracts' milestone checks included; call it after money moves."""
    return _assert_ledger_consistent
