"""Escrow's background work: webhook processing, card refunds after commit, the reconciliation sweep.

Tasks take ids, re-fetch and call the payment services; each is idempotent, so a redelivered task
(acks_late) or the sweep running the same work again changes nothing twice.
"""

from celery import shared_task

from . import audit, payments, transfers


@shared_task
def process_webhook_event(event_pk: int) -> None:
    payments.webhook_process(event_pk=event_pk)


@shared_task
def card_refund_execute(intent_id: int) -> None:
    payments.card_refund_execute(intent_id=intent_id)


@shared_task
def reconcile_payments() -> dict:
    return payments.payments_reconcile()


@shared_task
def transfers_send(payee_id: int) -> int:
    return transfers.transfers_send(payee_id=payee_id)


@shared_task
def transfers_send_many(payee_ids: list[int]) -> int:
    """A batch of releases' transfers (one task for the batch instead of one per payee)."""
    return sum(transfers.transfers_send(payee_id=payee_id) for payee_id in payee_ids)


@shared_task
def ledger_audit(run_id: int) -> int | None:
    """A ledger audit asked for in the admin: how many violations it found (None: the run was not waiting)."""
    run = audit.audit_run_execute(run_id=run_id)
    return None if run is None else len(run.violations)
