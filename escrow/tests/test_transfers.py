"""Release = a transfer to the payee's payout account at the provider; withdrawals are paid out from there."""

from decimal import Decimal

import pytest
from django.utils import timezone

from escrow import payments
from escrow.audit import run_audit
from escrow.gateways import GatewayUnavailable
from escrow.models import Account, Entry, PayoutAccount, Transfer
from escrow.providers.sandbox import SandboxProvider
from escrow.sandbox import engine
from escrow.sandbox.models import Transfer as ProviderTransfer
from escrow.services import InvalidAmount, hold_release, payout_account_link, payout_account_refresh, payout_request
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent, fund, payouts_ready
from escrow.transfers import transfers_send

Kind = Account.Kind
pytestmark = pytest.mark.django_db


def release(payer, payee, reference="milestone:1", amount="500.00", fee="50.00"):
    fund(payer, HoldSpecFactory(reference=reference, payee=payee, amount=Decimal(amount), fee=Decimal(fee)))
    return hold_release(reference=reference, actor=payer)


def test_a_release_is_transferred_after_commit_to_the_payees_payout_account(
    payer, payee, django_capture_on_commit_callbacks
):
    account = payouts_ready(payee)

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        entry = release(payer, payee)
    transfer = Transfer.objects.get(entry=entry)
    assert (transfer.status, transfer.amount) == ("pending", Decimal("450.00"))  # recorded with the release
    assert not ProviderTransfer.objects.filter(kind="transfer").exists()  # the provider is called after commit
    for callback in after_commit:
        callback()

    transfer.refresh_from_db()
    assert transfer.status == "sent" and transfer.provider_transfer_id.startswith("tr_sandbox_")
    sent = ProviderTransfer.objects.get(kind="transfer")
    assert (sent.account_id, sent.amount, sent.idempotency_key) == (
        account.account_id,
        Decimal("450.00"),
        f"transfer:{transfer.pk}",
    )
    assert_ledger_consistent()


def test_earnings_wait_for_the_payout_account_then_go_when_it_is_set_up(
    client, payer, payee, django_capture_on_commit_callbacks
):
    release(payer, payee)
    assert Transfer.objects.get().status == "pending"

    client.force_login(payee)
    link = client.post("/wallet/payout-account/")["Location"]  # the provider's onboarding page
    assert link.startswith("/sandbox-pay/connect/acct_sandbox_")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(link, {"routing_number": "110000000", "account_number": "000123456789"})
        client.get("/wallet/payout-account/return/")

    assert PayoutAccount.objects.get(user=payee).payouts_enabled
    assert Transfer.objects.get().status == "sent"
    payout = payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=new_key())
    assert payout.status == "paid" and payout.gateway_payout_id.startswith("po_sandbox_")
    assert engine.account_balance(engine.ConnectedAccount.objects.get()) == 0
    assert_ledger_consistent()


def test_earnings_not_yet_transferred_cannot_be_withdrawn(payer, payee, monkeypatch):
    payouts_ready(payee)

    def provider_down(self, **kwargs):
        raise GatewayUnavailable("The provider is down.")

    monkeypatch.setattr(SandboxProvider, "transfer", provider_down)
    release(payer, payee)
    transfers_send(payee_id=payee.pk)
    assert Transfer.objects.get().last_error == "The provider is down."

    with pytest.raises(InvalidAmount, match=r"\$450.00 is still on its way to your payout account"):
        payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=new_key())

    monkeypatch.undo()
    later = timezone.now() + payments.RECONCILE_AFTER * 2
    assert payments.payments_reconcile(now=later)["transfers"] == 1  # the sweep retries
    assert Transfer.objects.get().status == "sent"
    assert payout_request(user=payee, amount=Decimal("450.00"), idempotency_key=new_key()).status == "paid"
    assert_ledger_consistent()


def test_a_release_without_its_transfer_is_reported(payer, payee):
    entry = release(payer, payee)
    Transfer.objects.filter(entry=entry).delete()

    assert (
        "Entry release:milestone:1 credited $450.00 but transfers $0.00 to the payee's payout account." in run_audit()
    )


def test_the_account_status_comes_from_the_provider(payee):
    payout_account_link(user=payee, return_url="/wallet/", refresh_url="/wallet/")
    account = PayoutAccount.objects.get(user=payee)
    assert not account.payouts_enabled
    engine.account_onboard(account.account_id, bank_account="000123456789")

    assert payout_account_refresh(provider="sandbox", account_id=account.account_id).payouts_enabled
    assert Entry.objects.count() == 0
