"""Payment intents: hosted card entry, confirmation by the provider only, webhooks, refunds to card."""

from decimal import Decimal
from urllib.parse import urlparse

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from escrow import payments
from escrow.models import Account, Entry, Hold, PaymentIntent, PaymentItem, WebhookEvent
from escrow.payments import PaymentInProgress, payment_refresh, payment_start_bonus
from escrow.sandbox import engine
from escrow.sandbox.models import Checkout, Refund
from escrow.sandbox.tasks import sandbox_sweep
from escrow.selectors import open_payments
from escrow.services import hold_refund, hold_settle
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent, balance, pay_on_hosted_page, start_funding

Kind = Account.Kind
State = PaymentIntent.State
pytestmark = pytest.mark.django_db

CALLS = []


def record_funded(reference, actor):
    """A caller's callback, registered through ESCROW_PAYMENT_CALLBACKS."""
    CALLS.append((reference, actor.pk, Entry.objects.filter(reference=f"fund:{reference}").exists()))


@pytest.fixture(autouse=True)
def callbacks(settings):
    settings.ESCROW_PAYMENT_CALLBACKS = {"milestone:": "escrow.tests.test_payments.record_funded"}
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def spec(payee, reference="milestone:1", amount="500.00"):
    return HoldSpecFactory(reference=reference, payee=payee, amount=Decimal(amount), fee=Decimal(amount) / 10)


class TestFundingThroughTheHostedPage:
    def test_nothing_is_funded_until_the_provider_confirms(
        self, client, payer, payee, callbacks, django_capture_on_commit_callbacks
    ):
        intent = start_funding(payer, spec(payee))

        assert intent.state == State.REQUIRES_ACTION
        assert intent.redirect_url.startswith("/sandbox-pay/checkout/cs_sandbox_")
        assert not Hold.objects.exists() and not Entry.objects.exists()
        assert list(open_payments(["milestone:1", "milestone:2"])) == ["milestone:1"]

        with django_capture_on_commit_callbacks(execute=True):
            response = pay_on_hosted_page(client, intent)

        # Back to our return URL with only the provider's id.
        assert response.status_code == 302
        back = urlparse(response["Location"])
        assert back.path == reverse("escrow:payment_return", args=[intent.pk])
        assert back.query == f"session_id={intent.provider_id}"
        intent.refresh_from_db()
        assert intent.state == State.SUCCEEDED and intent.card_label == "Visa •••• 4242"
        hold = Hold.objects.get(reference="milestone:1")
        assert hold.intent == intent
        assert Entry.objects.get(reference=f"payment:{intent.pk}").external_id == intent.provider_charge_id
        assert balance(Kind.ESCROW_HOLD, reference="milestone:1") == Decimal("500.00")
        assert callbacks == [("milestone:1", payer.pk, True)]  # told inside the confirming transaction
        assert WebhookEvent.objects.get().processed_at is not None
        assert open_payments(["milestone:1"]) == {}
        assert_ledger_consistent()

    def test_the_return_page_confirms_when_the_webhook_has_not_arrived(self, client, payer, payee):
        intent = start_funding(payer, spec(payee), next_url="/contracts/1/")
        pay_on_hosted_page(client, intent)  # webhooks wait for a commit that never comes here
        assert Hold.objects.count() == 0

        client.force_login(payer)
        response = client.get(reverse("escrow:payment_return", args=[intent.pk]))

        assert response.status_code == 302 and response["Location"] == "/contracts/1/"
        assert PaymentIntent.objects.get().state == State.SUCCEEDED
        assert Entry.objects.filter(kind=Entry.Kind.FUND).count() == 1
        assert_ledger_consistent()

    def test_only_the_payer_sees_a_payment(self, client, payer, payee):
        intent = start_funding(payer, spec(payee))
        client.force_login(payee)
        assert client.get(reverse("escrow:payment_return", args=[intent.pk])).status_code == 404
        assert client.get(reverse("escrow:payment_status", args=[intent.pk])).status_code == 404

    @pytest.mark.parametrize(
        "card, code", [("4000 0000 0000 0002", "card_declined"), ("4000 0000 0000 9995", "insufficient_funds")]
    )
    def test_a_declined_card_funds_nothing_and_frees_the_milestone(self, client, payer, payee, card, code):
        intent = start_funding(payer, spec(payee))

        pay_on_hosted_page(client, intent, card)
        intent = payment_refresh(intent_id=intent.pk)

        assert intent.state == State.FAILED and intent.failure_code == code
        assert not Hold.objects.exists() and not Entry.objects.exists()
        assert not PaymentItem.objects.filter(open=True).exists()
        retry = start_funding(payer, spec(payee))  # a new payment can start
        assert retry.pk != intent.pk and retry.state == State.REQUIRES_ACTION
        assert_ledger_consistent()

    def test_a_network_error_on_the_page_charges_nothing_and_lets_the_payer_retry(self, client, payer, payee):
        intent = start_funding(payer, spec(payee))
        response = pay_on_hosted_page(client, intent, "4000 0000 0000 0119")
        assert response.status_code == 400 and b"could not be reached" in response.content
        assert Checkout.objects.get().status == Checkout.Status.OPEN
        assert pay_on_hosted_page(client, intent).status_code == 302
        assert payment_refresh(intent_id=intent.pk).state == State.SUCCEEDED

    @pytest.mark.parametrize("answer, state", [("pass", State.SUCCEEDED), ("fail", State.FAILED)])
    def test_3d_secure_challenge(self, client, payer, payee, answer, state):
        intent = start_funding(payer, spec(payee))

        pay_on_hosted_page(client, intent, "4000 0027 6000 3184", challenge=answer)

        assert payment_refresh(intent_id=intent.pk).state == state
        assert Hold.objects.filter(reference="milestone:1").exists() == (state == State.SUCCEEDED)
        assert_ledger_consistent()

    def test_a_late_confirmation_arrives_by_webhook_only(
        self, client, payer, payee, settings, django_capture_on_commit_callbacks
    ):
        settings.SANDBOX_LATE_SECONDS = 30
        intent = start_funding(payer, spec(payee))
        with django_capture_on_commit_callbacks(execute=True):
            pay_on_hosted_page(client, intent, "4000 0000 0000 0077")
        assert payment_refresh(intent_id=intent.pk).state == State.PROCESSING
        assert not Hold.objects.exists()
        assert "milestone:1" in open_payments(["milestone:1"])

        with (
            time_machine.travel(timezone.now() + timezone.timedelta(seconds=31)),
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert sandbox_sweep()["settled"] == 1

        assert PaymentIntent.objects.get().state == State.SUCCEEDED  # the webhook did it
        assert Hold.objects.filter(reference="milestone:1").exists()
        assert_ledger_consistent()

    def test_canceling_on_the_page_gives_the_credit_back(self, client, payer, payee):
        self._give_credit(payer, payee, Decimal("100.00"))
        intent = start_funding(payer, spec(payee, "milestone:2"), use_credit=True)
        assert (intent.amount, intent.credit_used) == (Decimal("400.00"), Decimal("100.00"))
        assert balance(Kind.USER_CREDIT, user=payer) == 0
        assert_ledger_consistent()  # the credit set aside for an open payment is accounted for

        client.post(intent.redirect_url, {"cancel": "1"})
        intent = payment_refresh(intent_id=intent.pk)

        assert intent.state == State.CANCELED
        assert balance(Kind.USER_CREDIT, user=payer) == Decimal("100.00")
        assert balance(Kind.USER_FUNDING, user=payer) == 0
        assert_ledger_consistent()

    def test_credit_and_card_together(self, client, payer, payee):
        self._give_credit(payer, payee, Decimal("100.00"))
        intent = start_funding(payer, spec(payee, "milestone:2"), use_credit=True)
        pay_on_hosted_page(client, intent)
        payment_refresh(intent_id=intent.pk)
        assert Checkout.objects.get(pk=intent.provider_id).amount == Decimal("400.00")
        assert balance(Kind.ESCROW_HOLD, reference="milestone:2") == Decimal("500.00")
        assert_ledger_consistent()

    def test_credit_alone_funds_at_once_without_the_provider(self, payer, payee, callbacks):
        self._give_credit(payer, payee, Decimal("500.00"))
        checkouts = Checkout.objects.count()

        intent = start_funding(payer, spec(payee, "milestone:2"), use_credit=True)

        assert intent.state == State.SUCCEEDED and intent.amount == 0 and intent.redirect_url == ""
        assert Checkout.objects.count() == checkouts
        assert Hold.objects.get(reference="milestone:2").intent == intent
        assert ("milestone:2", payer.pk, True) in callbacks
        assert_ledger_consistent()

    def _give_credit(self, payer, payee, amount):
        """Fund milestone:1 by card and refund `amount` of it to credit."""
        intent = start_funding(payer, spec(payee))
        engine.checkout_pay(intent.provider_id, number="4242424242424242", exp_month=12, exp_year=2099, cvc="123")
        payment_refresh(intent_id=intent.pk)
        hold_refund(reference="milestone:1", amount=amount, destination="credit", actor=payee)

    def test_a_second_tab_continues_the_open_payment(self, payer, payee):
        first = start_funding(payer, spec(payee, "milestone:1"), spec(payee, "milestone:2"))
        second = start_funding(payer, spec(payee, "milestone:2"), spec(payee, "milestone:1"), key=new_key())
        assert second == first
        with pytest.raises(PaymentInProgress):
            start_funding(payer, spec(payee, "milestone:2"), key=new_key())

    def test_a_replay_of_the_key_returns_the_same_payment(self, payer, payee):
        key = new_key()
        assert start_funding(payer, spec(payee), key=key) == start_funding(payer, spec(payee), key=key)
        assert Checkout.objects.count() == 1


class TestBonus:
    def test_a_bonus_is_paid_once_confirmed(self, client, payer, payee):
        intent = payment_start_bonus(
            payer=payer,
            payee=payee,
            amount=Decimal("50.00"),
            fee=Decimal("5.00"),
            reference="milestone:1:x",
            label="Thanks",
            idempotency_key=new_key(),
        )
        assert not Entry.objects.exists()

        pay_on_hosted_page(client, intent)
        payment_refresh(intent_id=intent.pk)

        assert balance(Kind.USER_AVAILABLE, user=payee) == Decimal("45.00")
        assert Entry.objects.get(reference="bonus:milestone:1:x").intent_id == intent.pk
        assert_ledger_consistent()


class TestWebhooks:
    def _paid(self, client, payer, payee):
        intent = start_funding(payer, spec(payee))
        pay_on_hosted_page(client, intent, "4000 0000 0000 0077")  # processing, then succeeded later
        engine._settle(intent.provider_id, Checkout.Status.SUCCEEDED)
        return intent

    def _deliver(self, client, event):
        body = engine.event_body(event)
        return client.post(
            reverse("escrow:webhook", args=["sandbox"]),
            body,
            content_type="application/json",
            headers={engine.SIGNATURE_HEADER: engine.sign(body, secret=engine.settings.SANDBOX_WEBHOOK_SECRET)},
        )

    def test_the_same_webhook_five_times_and_out_of_order_posts_once(
        self, client, payer, payee, django_capture_on_commit_callbacks
    ):
        intent = self._paid(client, payer, payee)
        processing, succeeded = (
            engine.Event.objects.get(type="payment.processing"),
            engine.Event.objects.get(type="payment.succeeded"),
        )

        with django_capture_on_commit_callbacks(execute=True):
            responses = [self._deliver(client, event) for event in [succeeded, processing] * 5]

        assert {response.status_code for response in responses} == {200}
        assert WebhookEvent.objects.count() == 2  # each provider event stored once
        intent.refresh_from_db()
        assert intent.state == State.SUCCEEDED
        assert Entry.objects.filter(intent=intent, kind=Entry.Kind.CHARGE).count() == 1
        assert Entry.objects.filter(reference="fund:milestone:1").count() == 1
        assert_ledger_consistent()

    @pytest.mark.parametrize("header", ["", "t=1,v1=abc", "garbage"])
    def test_a_bad_signature_is_refused_and_not_stored(self, client, header):
        response = client.post(
            reverse("escrow:webhook", args=["sandbox"]),
            b'{"id": "evt_1", "type": "payment.succeeded", "data": {"object": {"id": "cs_1"}}}',
            content_type="application/json",
            headers={engine.SIGNATURE_HEADER: header},
        )
        assert response.status_code == 400 and not WebhookEvent.objects.exists()

    def test_a_stale_signature_is_refused(self, client):
        body = b'{"id": "evt_1", "type": "payment.succeeded", "data": {"object": {"id": "cs_1"}}}'
        old = engine.sign(body, secret=engine.settings.SANDBOX_WEBHOOK_SECRET, timestamp=1_000_000)
        response = client.post(
            reverse("escrow:webhook", args=["sandbox"]),
            body,
            content_type="application/json",
            headers={engine.SIGNATURE_HEADER: old},
        )
        assert response.status_code == 400

    def test_unknown_provider_is_404(self, client):
        assert (
            client.post(reverse("escrow:webhook", args=["paypal"]), b"{}", content_type="application/json").status_code
            == 404
        )


class TestCrashBetweenTheProviderAndOurCommit:
    def test_the_sweep_funds_exactly_once(
        self, client, payer, payee, monkeypatch, callbacks, django_capture_on_commit_callbacks
    ):
        intent = start_funding(payer, spec(payee))
        real_post = payments._post_success

        def crash(intent):
            real_post(intent)
            raise RuntimeError("killed after the provider charged, before our commit")

        monkeypatch.setattr(payments, "_post_success", crash)
        client.force_login(payer)
        # The webhook's processing dies.
        with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
            pay_on_hosted_page(client, intent)
        with pytest.raises(RuntimeError):  # and so does the payer's return
            client.get(reverse("escrow:payment_return", args=[intent.pk]))

        assert Checkout.objects.get().status == Checkout.Status.SUCCEEDED  # the provider charged
        intent.refresh_from_db()
        assert intent.state == State.REQUIRES_ACTION and not Entry.objects.exists()
        assert WebhookEvent.objects.get().processed_at is None
        monkeypatch.setattr(payments, "_post_success", real_post)  # "after restart"
        callbacks.clear()

        later = timezone.now() + payments.RECONCILE_AFTER + timezone.timedelta(seconds=1)
        first = payments.payments_reconcile(now=later)
        second = payments.payments_reconcile(now=later)

        assert first["refreshed"] == 1 and first["errors"] == 0
        assert second["refreshed"] == 0
        assert PaymentIntent.objects.get().state == State.SUCCEEDED
        assert Entry.objects.filter(reference="fund:milestone:1").count() == 1
        assert Entry.objects.filter(kind=Entry.Kind.CHARGE).count() == 1
        assert callbacks == [("milestone:1", payer.pk, True)]
        assert_ledger_consistent()

    def test_a_created_intent_never_shown_is_canceled_by_the_sweep(self, payer, payee, monkeypatch):
        monkeypatch.setattr(payments, "_checkout", lambda intent: intent)  # died before calling the provider
        intent = start_funding(payer, spec(payee))
        assert intent.state == State.CREATED
        payments.payments_reconcile(now=timezone.now() + payments.ABANDON_CREATED_AFTER * 2)
        intent.refresh_from_db()
        assert intent.state == State.CANCELED and not PaymentItem.objects.filter(open=True).exists()


class TestCardRefunds:
    def _funded(self, client, payer, payee, amount="500.00"):
        intent = start_funding(payer, spec(payee, amount=amount))
        pay_on_hosted_page(client, intent)
        return payment_refresh(intent_id=intent.pk)

    def test_a_card_refund_calls_the_provider_after_commit(
        self, client, payer, payee, django_capture_on_commit_callbacks
    ):
        funding = self._funded(client, payer, payee)
        with django_capture_on_commit_callbacks(execute=False) as after_commit:
            hold_refund(reference="milestone:1", amount=Decimal("200.00"), destination="card", actor=payee)
        refund = PaymentIntent.objects.get(kind=PaymentIntent.Kind.REFUND)
        assert refund.state == State.PROCESSING and not Refund.objects.exists()  # not called yet
        assert balance(Kind.ESCROW_HOLD, reference="milestone:1") == Decimal("300.00")

        for callback in after_commit:
            callback()

        refund.refresh_from_db()
        assert refund.state == State.SUCCEEDED and refund.refund_of == funding
        assert Refund.objects.get().amount == Decimal("200.00")
        assert_ledger_consistent()

    def test_a_refused_card_refund_goes_to_credit(
        self, client, payer, payee, monkeypatch, django_capture_on_commit_callbacks
    ):
        self._funded(client, payer, payee)

        def refuse(**kwargs):
            raise engine.SandboxError("charge_expired", "The card can no longer be refunded.")

        monkeypatch.setattr(engine, "refund_create", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            hold_refund(reference="milestone:1", amount=None, destination="card", actor=payee)

        refund = PaymentIntent.objects.get(kind=PaymentIntent.Kind.REFUND)
        assert refund.state == State.FAILED
        assert balance(Kind.USER_CREDIT, user=payer) == Decimal("500.00")
        assert_ledger_consistent()

    def test_a_settlement_refunds_its_part_to_the_card_after_commit(
        self, client, payer, payee, django_capture_on_commit_callbacks
    ):
        self._funded(client, payer, payee)
        with django_capture_on_commit_callbacks(execute=True):
            entry = hold_settle(
                reference="milestone:1",
                to_payee=Decimal("350.00"),
                to_payer=Decimal("150.00"),
                destination="card",
                actor=payee,
            )

        refund = PaymentIntent.objects.get(kind=PaymentIntent.Kind.REFUND)
        assert entry.intent == refund and refund.state == State.SUCCEEDED
        assert Refund.objects.get().amount == Decimal("150.00")
        assert balance(Kind.ESCROW_HOLD, reference="milestone:1") == 0
        assert_ledger_consistent()

    def test_at_most_the_charge_goes_back_to_the_card(self, client, payer, payee):
        self._funded(client, payer, payee)
        hold_refund(reference="milestone:1", amount=Decimal("400.00"), destination="card", actor=payee)
        hold_refund(reference="milestone:1", amount=Decimal("100.00"), destination="card", actor=payee)
        assert balance(Kind.ESCROW_HOLD, reference="milestone:1") == 0


class TestAudit:
    def test_a_succeeded_payment_without_its_entries_is_reported(self, payer, payee):
        intent = start_funding(payer, spec(payee))
        PaymentIntent.objects.filter(pk=intent.pk).update(state=State.SUCCEEDED)  # bypassing the service
        violations = payments_audit()
        assert any(f"Payment #{intent.pk}" in violation and "succeeded" in violation for violation in violations)

    def test_a_fund_entry_without_a_succeeded_payment_is_reported(self, client, payer, payee):
        intent = start_funding(payer, spec(payee))
        pay_on_hosted_page(client, intent)
        payment_refresh(intent_id=intent.pk)
        PaymentIntent.objects.filter(pk=intent.pk).update(state=State.PROCESSING)
        violations = payments_audit()
        assert any("fund:milestone:1 has no succeeded payment" in violation for violation in violations)
        assert any(f"Payment #{intent.pk} is processing but has money posted" in v for v in violations)


def payments_audit():
    from escrow.audit import run_audit

    return run_audit()
