"""Payment races on PostgreSQL with real threads, each on its own database connection."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from escrow.models import Entry, Hold, PaymentIntent
from escrow.payments import payment_refresh
from escrow.providers.sandbox import SandboxProvider
from escrow.sandbox import engine
from escrow.sandbox.models import Checkout
from escrow.selectors import user_balances
from escrow.services import hold_refund, hold_release
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent, fund, start_funding
from marketplace.tests.factories import FreelancerFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(count, call):
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        try:
            barrier.wait()
            results[index] = call(index)
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def paid(intent):
    engine.checkout_pay(intent.provider_id, number="4242424242424242", exp_month=12, exp_year=2099, cvc="123")
    return payment_refresh(intent_id=intent.pk)


@pytest.mark.parametrize("same_key", [True, False], ids=["double-click", "twenty-tabs"])
def test_twenty_identical_fund_requests_make_one_provider_charge(same_key):
    payer, payee = UserFactory(), FreelancerFactory()
    spec = HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00"))
    key = new_key()

    results = at_once(20, lambda i: start_funding(payer, spec, key=key if same_key else f"{key}-{i}"))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert {r.pk for r in results} == {PaymentIntent.objects.get().pk}  # everyone continues the same payment
    assert Checkout.objects.count() == 1  # one hosted page at the provider
    paid(results[0])
    for result in results[1:]:
        payment_refresh(intent_id=result.pk)
    assert Checkout.objects.filter(status=Checkout.Status.SUCCEEDED).count() == 1
    assert Entry.objects.filter(kind=Entry.Kind.CHARGE).count() == 1
    assert Entry.objects.filter(reference="fund:milestone:1").count() == 1
    assert_ledger_consistent()


def test_a_hanging_provider_call_blocks_no_other_writer(monkeypatch, settings):
    """While the provider takes 10 s to answer about one payment, releases and refunds of other holds
    (same payer, same payee) finish at once: no row lock is held across the call."""
    settings.SANDBOX_WEBHOOK_URL = "http://127.0.0.1:9/"  # webhooks lost: the payer's return confirms
    payer, payee = UserFactory(), FreelancerFactory()
    specs = [
        HoldSpecFactory(reference=f"milestone:{n}", payee=payee, amount=Decimal("100.00"), fee=Decimal("10.00"))
        for n in (1, 2, 3)
    ]
    for spec in specs[:2]:
        paid(start_funding(payer, spec))
    slow = start_funding(payer, specs[2])
    engine.checkout_pay(slow.provider_id, number="4242424242424242", exp_month=12, exp_year=2099, cvc="123")

    real_retrieve = SandboxProvider.payment_retrieve
    in_call = threading.Event()

    def hanging_retrieve(self, payment_id):
        in_call.set()
        time.sleep(10)
        return real_retrieve(self, payment_id)

    monkeypatch.setattr(SandboxProvider, "payment_retrieve", hanging_retrieve)
    timings = {}

    def confirm_slowly():
        try:
            started = time.monotonic()
            payment_refresh(intent_id=slow.pk)
            timings["provider call"] = time.monotonic() - started
        finally:
            connection.close()

    def other_writers():
        try:
            in_call.wait(timeout=30)
            started = time.monotonic()
            hold_release(reference="milestone:1", actor=payer)
            timings["release"] = time.monotonic() - started
            started = time.monotonic()
            hold_refund(reference="milestone:2", amount=None, destination="credit", actor=payee)
            timings["refund"] = time.monotonic() - started
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm_slowly), threading.Thread(target=other_writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    print(f"measured: {timings}")
    assert timings["provider call"] >= 10
    assert timings["release"] < 2 and timings["refund"] < 2, timings
    assert Hold.objects.count() == 3 and PaymentIntent.objects.filter(state="succeeded").count() == 3
    assert_ledger_consistent()


def test_refunds_racing_on_holds_of_one_payment_never_send_its_card_more_than_it_paid():
    """Eight holds paid by one payment ($100.00 of credit, $300.00 by card), all refunded to the card at once,
    each under its own hold's lock: the card gets back exactly what it paid and the credit the rest. (Each
    refund counts what the card can still take back; the funding payment's row lock makes them take turns.)"""
    payer, payee = UserFactory(), FreelancerFactory()
    fund(payer, HoldSpecFactory(reference="milestone:0", payee=payee, amount=Decimal("100.00"), fee=Decimal("0")))
    hold_refund(reference="milestone:0", amount=None, destination="credit", actor=payee)  # $100.00 of credit
    specs = [
        HoldSpecFactory(reference=f"milestone:{n}", payee=payee, amount=Decimal("50.00"), fee=Decimal("5.00"))
        for n in range(1, 9)
    ]
    funding = fund(payer, *specs, use_credit=True)
    assert (funding.amount, funding.credit_used) == (Decimal("300.00"), Decimal("100.00"))

    results = at_once(
        8, lambda i: hold_refund(reference=f"milestone:{i + 1}", amount=None, destination="card", actor=payee)
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    to_card = sum((refund.amount for refund in funding.refunds.all()), Decimal("0"))
    assert to_card == Decimal("300.00")
    assert user_balances(payer)["credit"] == Decimal("100.00")
    assert_ledger_consistent()
