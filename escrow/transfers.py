"""Released earnings to the payee's payout account at the provider: release = a transfer (Stripe Connect).

A release or a bonus credits the payee's earnings in the ledger and records a pending Transfer in the same
transaction; after commit, the provider is called (outside every lock, with the transfer's idempotency key)
to move the money to the payee's connected account, from where withdrawals are paid out. A payee without a
payout account yet keeps the transfer pending until they set one up; the reconciliation sweep retries.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.bulk import insert_rows
from marketplace.money import ZERO, to_money

from .gateways import PaymentError
from .models import Entry, PayoutAccount, Transfer
from .providers import get_provider

logger = logging.getLogger(__name__)


def transfer_record(*, entry: Entry, payee, amount: Decimal) -> Transfer:
    """Inside the transaction that credits the payee's earnings: the transfer to send after commit."""
    from .tasks import transfers_send as send_task

    transfer = Transfer.objects.create(entry=entry, payee=payee, amount=amount, currency=settings.CURRENCY)
    send_task.delay_on_commit(payee.pk)
    return transfer


def transfers_record(items: list[tuple[Entry, int, Decimal]]) -> int:
    """`transfer_record` for many (entry, payee id, amount) at once (a sweep's batch): one INSERT, one task after
    commit. Returns how many were recorded."""
    from .tasks import transfers_send_many

    recorded = len(
        insert_rows(
            Transfer,
            ("entry_id", "payee_id", "amount", "currency"),
            [(entry.pk, payee_id, amount, settings.CURRENCY) for entry, payee_id, amount in items],
        )
    )
    if recorded:
        transfers_send_many.delay_on_commit(sorted({payee_id for _entry, payee_id, _amount in items}))
    return recorded


def transfers_pending_total(user) -> Decimal:
    """Earnings not yet moved to the user's payout account (they cannot be withdrawn until they are)."""
    total = Transfer.objects.filter(payee=user, status=Transfer.Status.PENDING).aggregate(
        total=Sum("amount", default=ZERO)
    )["total"]
    return to_money(total)


def transfers_send(*, payee_id: int) -> int:
    """Send the payee's pending transfers, if they have a payout account. Returns how many were sent."""
    account = PayoutAccount.objects.filter(user_id=payee_id, payouts_enabled=True).first()
    if account is None:
        return 0
    provider = get_provider(account.provider)
    sent = 0
    for transfer in Transfer.objects.filter(payee_id=payee_id, status=Transfer.Status.PENDING).order_by("id"):
        try:
            transfer_id = provider.transfer(
                account_id=account.account_id,
                amount=transfer.amount,
                currency=transfer.currency,
                idempotency_key=f"transfer:{transfer.pk}",
                description=transfer.entry.memo[:200],
            )
        except PaymentError as error:
            Transfer.objects.filter(pk=transfer.pk).update(last_error=error.user_message[:300])
            logger.warning("Transfer #%s could not be sent: %s", transfer.pk, error.user_message)
            continue
        with transaction.atomic():
            updated = Transfer.objects.filter(pk=transfer.pk, status=Transfer.Status.PENDING).update(
                status=Transfer.Status.SENT,
                provider=provider.name,
                provider_transfer_id=transfer_id,
                sent_at=timezone.now(),
                last_error="",
            )
        sent += updated
    return sent
