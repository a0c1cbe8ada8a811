"""Ledger internals used by `escrow.services`: finding accounts and writing balanced entries.

`entry_post` is the only code that writes entries and postings. Nothing outside this app calls it.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction

from marketplace.money import ZERO, to_money

from .errors import AlreadyProcessed
from .models import Account, Entry, Hold, Posting


def account_get(kind: str, *, user=None, hold: Hold | None = None) -> Account:
    """The account of this kind (for this user or hold), created on first use."""
    if kind in Account.USER_KINDS:
        if user is None:
            raise ValueError(f"{kind} accounts belong to a user.")
        account, _ = Account.objects.get_or_create(kind=kind, user=user, reference="")
    elif kind == Account.Kind.ESCROW_HOLD:
        if hold is None:
            raise ValueError("escrow_hold accounts belong to a hold.")
        account, _ = Account.objects.get_or_create(
            kind=kind, user=None, reference=hold.reference, defaults={"hold": hold}
        )
    else:
        account, _ = Account.objects.get_or_create(kind=kind, user=None, reference="")
    return account


def account_lock(kind: str, *, user=None, hold: Hold | None = None) -> Account:
    """The account row locked until the transaction ends (the caller runs inside transaction.atomic).

    Whoever spends from an account (credit, earnings) takes this lock first, so two requests cannot
    both see the same balance and both spend it.
    """
    account = account_get(kind, user=user, hold=hold)
    # NO KEY UPDATE: spenders of this account queue behind each other, but writers that only add
    # postings to it (a release into earnings, a refund into credit) are never blocked by the lock.
    return Account.objects.select_for_update(no_key=True, of=("self",)).get(pk=account.pk)


def entry_post(
    *,
    reference: str,
    kind: str,
    memo: str,
    postings: list[tuple[Account, Decimal]],
    actor=None,
    hold: Hold | None = None,
    external_id: str = "",
    intent=None,
) -> Entry:
    """Write one balanced entry. Refuses (ValueError) fewer than two postings, a zero posting, or a
    non-zero sum; raises AlreadyProcessed if an entry with this reference exists (the unique index
    decides, so a concurrent duplicate is refused too)."""
    amounts = [to_money(amount) for _, amount in postings]
    if len(postings) < 2:
        raise ValueError(f"An entry needs at least two postings ({reference}).")
    if any(amount == 0 for amount in amounts):
        raise ValueError(f"A posting cannot be zero ({reference}).")
    if sum(amounts, ZERO) != 0:
        raise ValueError(f"Postings of {reference} sum to {sum(amounts, ZERO)}, not zero.")
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a duplicate
            entry = Entry.objects.create(
                reference=reference,
                kind=kind,
                memo=memo[:400],
                hold=hold,
                external_id=external_id,
                created_by=actor,
                intent=intent,
            )
    except IntegrityError as error:
        if Entry.objects.filter(reference=reference).exists():
            raise AlreadyProcessed() from error
        raise
    Posting.objects.bulk_create(
        Posting(entry=entry, account=account, amount=amount)
        for (account, _), amount in zip(postings, amounts, strict=True)
    )
    return entry


def nonzero(*postings: tuple[Account, Decimal]) -> list[tuple[Account, Decimal]]:
    """Drop zero legs (e.g. a zero fee) before posting."""
    return [(account, amount) for account, amount in postings if to_money(amount) != 0]
