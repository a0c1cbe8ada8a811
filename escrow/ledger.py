"""Ledger internals used by `escrow.services`: finding accounts and writing balanced entries.

`entry_post` is the only code that writes entries and postings. Nothing outside this app calls it.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from marketplace.bulk import insert_objects, insert_rows
from marketplace.caching import user_pages_stale
from marketplace.money import ZERO, to_money

from .errors import AlreadyProcessed
from .models import Account, Entry, Hold, Posting, WalletLine


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


def accounts_get(kind: str, *, user_ids) -> dict[int, Account]:
    """The accounts of this user kind for many users, by user id, created on first use (constant queries)."""
    if kind not in Account.USER_KINDS:
        raise ValueError(f"{kind} accounts do not belong to users.")
    user_ids = set(user_ids)
    found = {a.user_id: a for a in Account.objects.filter(kind=kind, reference="", user_id__any=list(user_ids))}
    missing = user_ids - set(found)
    if missing:
        # Another transaction may create one meanwhile: the unique index keeps its row, and we read it back.
        Account.objects.bulk_create(
            [Account(kind=kind, user_id=pk, reference="") for pk in missing], ignore_conflicts=True
        )
        found.update((a.user_id, a) for a in Account.objects.filter(kind=kind, reference="", user_id__in=missing))
    return found


def account_lock(kind: str, *, user=None, hold: Hold | None = None) -> Account:
    """The account row locked until the transaction ends (the caller runs inside transaction.atomic).

    Whoever spends from an account (credit, earnings) takes this lock first, so two requests cannot
    both see the same balance and both spend it.
    """
    account = account_get(kind, user=user, hold=hold)
    # NO KEY UPDATE: spenders of this account queue behind each other, but writers that only add
    # postings to it (a release into earnings, a refund into credit) are never blocked by the lock.
    return Account.objects.select_for_update(no_key=True, of=("self",)).get(pk=account.pk)


def _checked(reference: str, postings: list[tuple[Account, Decimal]]) -> list[Decimal]:
    amounts = [to_money(amount) for _, amount in postings]
    if len(postings) < 2:
        raise ValueError(f"An entry needs at least two postings ({reference}).")
    if any(amount == 0 for amount in amounts):
        raise ValueError(f"A posting cannot be zero ({reference}).")
    if sum(amounts, ZERO) != 0:
        raise ValueError(f"Postings of {reference} sum to {sum(amounts, ZERO)}, not zero.")
    return amounts


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
    amounts = _checked(reference, postings)
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
    insert_rows(
        Posting,
        POSTING_FIELDS,
        [(entry.pk, account.pk, amount) for (account, _), amount in zip(postings, amounts, strict=True)],
    )
    insert_rows(WalletLine, WALLET_LINE_FIELDS, _wallet_lines(entry, [account for account, _ in postings]))
    user_pages_stale(*_concerned([(entry, [account for account, _ in postings])]))
    return entry


def _concerned(entries) -> set[int]:
    """Users who see these entries' money somewhere: owners of the accounts, and the payer and payee of the hold."""
    users = set()
    for entry, accounts in entries:
        users |= {account.user_id for account in accounts}
        if entry.hold is not None:
            users |= {entry.hold.payer_id, entry.hold.payee_id}
    return users - {None}


# The accounts whose owner sees the entry in their wallet (with the payer and payee of its hold).
WALLET_ACCOUNT_KINDS = (Account.Kind.USER_FUNDING, Account.Kind.USER_CREDIT, Account.Kind.USER_AVAILABLE)


ENTRY_FIELDS = ("reference", "kind", "memo", "hold_id", "created_by_id", "created_at")
POSTING_FIELDS = ("entry_id", "account_id", "amount")
WALLET_LINE_FIELDS = ("user_id", "entry_id", "created_at")


def _wallet_lines(entry: Entry, accounts: list[Account]) -> list[tuple]:
    """The wallet rows index of one entry (WALLET_LINE_FIELDS): one line per user whose wallet shows it (card
    charges: none)."""
    if entry.kind == Entry.Kind.CHARGE:
        return []
    users = {account.user_id for account in accounts if account.kind in WALLET_ACCOUNT_KINDS}
    if entry.hold is not None:
        users |= {entry.hold.payer_id, entry.hold.payee_id}
    return [(user, entry.pk, entry.created_at) for user in sorted(users - {None})]


def wallet_lines_derived_sql(entries: str = "") -> str:
    """SQL for the (user_id, entry_id, created_at) rows the wallet lines must hold, derived from the entries as
    `_wallet_lines` derives them (the audit compares the two). `entries`: SQL selecting the ids of the entries to
    derive (default: every entry)."""
    q = connection.ops.quote_name
    entry, posting, account, hold = (q(model._meta.db_table) for model in (Entry, Posting, Account, Hold))
    kinds = ", ".join(f"'{kind}'" for kind in WALLET_ACCOUNT_KINDS)  # the model's constants
    only = f"IN ({entries})" if entries else "IS NOT NULL"
    # A few entries' postings are read by entry first (MATERIALIZED: the planner would rather walk every posting of
    # every user's account, misjudging how many there are; 0.65 s instead of 0.05 s for 9,000 entries at scale 1).
    materialized = "MATERIALIZED" if entries else ""
    return f"""
        WITH picked AS {materialized} (SELECT entry_id, account_id FROM {posting} WHERE entry_id {only})
        SELECT DISTINCT d.user_id, d.entry_id, e.created_at
        FROM (
            SELECT p.entry_id, a.user_id FROM picked p JOIN {account} a ON a.id = p.account_id
            WHERE a.kind IN ({kinds})
            UNION ALL SELECT e.id, h.payer_id FROM {entry} e JOIN {hold} h ON h.id = e.hold_id WHERE e.id {only}
            UNION ALL SELECT e.id, h.payee_id FROM {entry} e JOIN {hold} h ON h.id = e.hold_id WHERE e.id {only}
        ) d
        JOIN {entry} e ON e.id = d.entry_id
        WHERE e.kind <> '{Entry.Kind.CHARGE}' AND d.user_id IS NOT NULL
    """  # noqa: S608 (table names and kinds from the models)


def wallet_lines_rebuild() -> int:
    """Write the wallet lines that are missing (a migration's backfill, or data loaded in bulk) in one
    INSERT … SELECT. Returns how many were written."""
    line = connection.ops.quote_name(WalletLine._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {line} (user_id, entry_id, created_at)
            SELECT w.user_id, w.entry_id, w.created_at FROM ({wallet_lines_derived_sql()}) w
            WHERE NOT EXISTS (SELECT 1 FROM {line} x WHERE x.user_id = w.user_id AND x.entry_id = w.entry_id)
            """  # noqa: S608 (table names from the models)
        )
        return cursor.rowcount


@dataclass(frozen=True)
class EntrySpec:
    reference: str
    kind: str
    memo: str
    postings: list[tuple[Account, Decimal]]
    actor: object = None
    hold: Hold | None = None


def entries_post(specs: list[EntrySpec]) -> list[Entry]:
    """Many balanced entries in two INSERTs (entries, then postings), each checked as `entry_post` checks one.

    The caller has made sure (under its locks) that no reference exists yet; if one does all the same, the
    unique index refuses the whole INSERT (IntegrityError) and the caller's transaction rolls back:
    a money event still happens at most once.
    """
    amounts = [_checked(spec.reference, spec.postings) for spec in specs]
    now = timezone.now()
    entries = [
        Entry(
            reference=spec.reference,
            kind=spec.kind,
            memo=spec.memo[:400],
            hold=spec.hold,
            created_by=spec.actor,
            created_at=now,
        )
        for spec in specs
    ]
    insert_objects(entries, ENTRY_FIELDS)
    # The rows by the thousand in a sweep's batch: written without a model instance each (marketplace.bulk).
    insert_rows(
        Posting,
        POSTING_FIELDS,
        [
            (entry.pk, account.pk, amount)
            for entry, spec, checked in zip(entries, specs, amounts, strict=True)
            for (account, _), amount in zip(spec.postings, checked, strict=True)
        ],
    )
    insert_rows(
        WalletLine,
        WALLET_LINE_FIELDS,
        [
            line
            for entry, spec in zip(entries, specs, strict=True)
            for line in _wallet_lines(entry, [account for account, _ in spec.postings])
        ],
    )
    posted = zip(entries, specs, strict=True)
    user_pages_stale(*_concerned((entry, [account for account, _ in spec.postings]) for entry, spec in posted))
    return entries


def nonzero(*postings: tuple[Account, Decimal]) -> list[tuple[Account, Decimal]]:
    """Drop zero legs (e.g. a zero fee) before posting."""
    return [(account, amount) for account, amount in postings if to_money(amount) != 0]
