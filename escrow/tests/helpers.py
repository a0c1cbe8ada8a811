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


def fund(payer, *specs, key: str | None = None, card=None, use_credit: bool = False):
    """Fund `specs` for `payer` with the good test card (unless `card` is given) through holds_fund."""
    from escrow.services import holds_fund
    from escrow.tests.factories import CardFactory, new_key

    return holds_fund(
        payer=payer,
        holds=list(specs),
        card=CardFactory() if card is None else card,
        idempotency_key=key or new_key(),
        use_credit=use_credit,
        actor=payer,
    )
