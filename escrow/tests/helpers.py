"""Test helpers other apps reuse: `from escrow.tests.helpers import assert_ledger_consistent`."""

from decimal import Decimal

from escrow.audit import run_audit
from escrow.models import Account, Entry, Posting
from escrow.selectors import account_balance
from marketplace.money import ZERO


def assert_ledger_consistent() -> None:
    """Fail the test with every audit violation (built-in and ESCROW_AUDIT_CHECKS) if there is any."""
    violations = run_audit()
    assert not violations, "Ledger audit failed:\n" + "\n".join(f"- {violation}" for violation in violations)


def balance(kind: str, *, user=None, reference: str = "") -> Decimal:
    """The balance of one account (0.00 if it does not exist yet)."""
    account = Account.objects.filter(kind=kind, user=user, reference=reference).first()
    return account_balance(account) if account else ZERO


def postings_of(entry_reference: str) -> dict[tuple[str, int | None, str], Decimal]:
    """{(account kind, user id, account reference): amount} for one entry: what moved where."""
    entry = Entry.objects.get(reference=entry_reference)
    return {
        (posting.account.kind, posting.account.user_id, posting.account.reference): posting.amount
        for posting in Posting.objects.filter(entry=entry).select_related("account")
    }


def fund(payer, *specs, key: str | None = None, card: str = "4242 4242 4242 4242", use_credit: bool = False):
    """Fund `specs` for `payer` as the site does: start the payment, the payer types `card` on the sandbox's
    hosted page, and the payer's return asks the provider (webhooks wait for a commit in most tests).
    Returns the payment intent (succeeded, or failed for a declined card)."""
    from escrow.sandbox.testing import pay

    return pay(start_funding(payer, *specs, key=key, use_credit=use_credit), card)


def run_at_once(count, work):
    """Run `work(i)` in `count` threads released together by a barrier; each closes its DB connection."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)
    results, errors = [None] * count, [None] * count

    def run(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as error:  # noqa: BLE001 - collected and asserted by the test
            errors[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results, errors


def payouts_ready(user, *, bank_account: str = "000123456789"):
    """Give `user` a sandbox payout account with bank details entered (as the onboarding page does)."""
    from escrow.models import PayoutAccount
    from escrow.sandbox import engine

    account = engine.account_create(email=user.email, key=f"payout-account:{user.pk}")
    engine.account_onboard(account.pk, bank_account=bank_account)
    payout_account = PayoutAccount.objects.update_or_create(
        user=user,
        defaults={"provider": "sandbox", "account_id": account.pk, "details_submitted": True, "payouts_enabled": True},
    )[0]
    from escrow.transfers import transfers_send

    transfers_send(payee_id=user.pk)  # what setting up the account triggers after commit
    return payout_account


def start_funding(payer, *specs, key: str | None = None, use_credit: bool = False, next_url: str = "/done/"):
    """Start paying for `specs` (payment_start_funding) as the fund page does."""
    from escrow.payments import payment_start_funding
    from escrow.tests.factories import new_key

    return payment_start_funding(
        payer=payer,
        holds=list(specs),
        idempotency_key=key or new_key(),
        use_credit=use_credit,
        next_url=next_url,
        actor=payer,
    )


def pay_on_hosted_page(client, intent, card: str = "4242 4242 4242 4242", *, challenge: str | None = None):
    """The payer on the provider's hosted page (a browser-less client): enter the card, answer a 3-D Secure
    challenge with "pass" or "fail". Returns the last response (normally the redirect back to us)."""
    page = client.get(intent.redirect_url)
    assert page.status_code == 200 and b"Sandbox" in page.content
    response = client.post(intent.redirect_url, {"card_number": card, "expiry": "12/99", "cvc": "123"})
    if challenge is not None:
        assert response.status_code == 200 and b"3-D Secure" in response.content
        response = client.post(f"{intent.redirect_url}challenge/", {"result": challenge})
    return response
