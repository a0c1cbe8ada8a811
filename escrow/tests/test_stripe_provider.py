"""The Stripe adapter against recorded Stripe API responses, served by a local HTTP server this test starts
(the stripe client's api_base points at it), and webhooks signed for real with a test secret."""

import hashlib
import hmac
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from escrow.gateways import PaymentError
from escrow.models import Hold, PaymentIntent, WebhookEvent
from escrow.payments import payment_start_funding
from escrow.providers import InvalidSignature, get_provider
from escrow.providers.stripe import StripeProvider
from escrow.tests.factories import HoldSpecFactory, new_key
from escrow.tests.helpers import assert_ledger_consistent

RESPONSES = Path(__file__).parent / "stripe_responses"
SESSION = "cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


class FakeStripe(BaseHTTPRequestHandler):
    """Answers each (method, path) with the recorded response the test chose; records every request."""

    routes: dict = {}
    requests: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlparse(self.path)
        FakeStripe.requests.append(
            {
                "method": self.command,
                "path": url.path,
                "query": parse_qs(url.query),
                "form": parse_qs(body),
                "headers": dict(self.headers),
            }
        )
        status, name = FakeStripe.routes.get((self.command, url.path), (404, "card_error.json"))
        payload = (RESPONSES / name).read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", "req_test")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def stripe_api(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeStripe.routes, FakeStripe.requests = {}, []
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_recorded"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.SITE_URL = "https://market.example"
    yield FakeStripe
    server.shutdown()
    server.server_close()


def signed(payload: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    """A body and a Stripe-Signature header made exactly as Stripe makes them."""
    body = json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={signature}"


def session_event(event_id: str, event_type: str = "checkout.session.completed") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "type": event_type,
        "livemode": False,
        "data": {"object": json.loads((RESPONSES / "checkout_session_paid.json").read_text())},
    }


def test_the_setting_chooses_stripe_and_refuses_to_start_without_keys(stripe_api, settings):
    assert isinstance(get_provider(), StripeProvider)
    settings.STRIPE_SECRET_KEY = ""
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        get_provider()


@pytest.mark.django_db
def test_funding_opens_a_checkout_session_and_stripe_confirms_it(stripe_api, client, payer, payee):
    stripe_api.routes = {
        ("POST", "/v1/checkout/sessions"): (200, "checkout_session_created.json"),
        ("GET", f"/v1/checkout/sessions/{SESSION}"): (200, "checkout_session_paid.json"),
    }
    spec = HoldSpecFactory(reference="milestone:1", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00"))

    intent = payment_start_funding(payer=payer, holds=[spec], idempotency_key=new_key(), actor=payer)

    assert intent.state == "requires_action" and intent.provider == "stripe"
    assert intent.provider_id == SESSION and intent.redirect_url.startswith("https://checkout.stripe.com/")
    create = stripe_api.requests[0]
    assert create["headers"]["Authorization"] == "Bearer sk_test_recorded"
    assert create["headers"]["Idempotency-Key"] == f"intent:{intent.pk}"
    assert create["form"]["line_items[0][price_data][unit_amount]"] == ["50000"]
    assert create["form"]["line_items[0][price_data][currency]"] == ["usd"]
    assert create["form"]["mode"] == ["payment"]
    assert create["form"]["success_url"] == [
        f"https://market.example/wallet/payments/{intent.pk}/return/?session_id={{CHECKOUT_SESSION_ID}}"
    ]
    assert not any("card" in key for key in create["form"])  # no card data from us, ever
    assert not Hold.objects.exists()

    body, signature = signed(session_event("evt_1QcompletedAAA"))
    response = client.post(
        reverse("escrow:webhook", args=["stripe"]),
        body,
        content_type="application/json",
        headers={"Stripe-Signature": signature},
    )
    assert response.status_code == 200
    from escrow.payments import webhook_process

    webhook_process(event_pk=WebhookEvent.objects.get(event_id="evt_1QcompletedAAA").pk)

    intent.refresh_from_db()
    assert intent.state == "succeeded"
    assert (intent.provider_charge_id, intent.card_label) == ("ch_3QabcdEFGHijklMN0x9y8z7w", "Visa •••• 4242")
    assert stripe_api.requests[-1]["query"] == {"expand[0]": ["payment_intent.latest_charge"]}
    assert Hold.objects.get().intent == intent
    assert_ledger_consistent()


@pytest.mark.django_db
def test_a_failed_async_payment_fails_the_intent(stripe_api):
    stripe_api.routes = {("GET", "/v1/checkout/sessions/cs_x"): (200, "checkout_session_failed.json")}
    payment = StripeProvider().payment_retrieve("cs_x")
    assert (payment.state, payment.failure_code) == ("failed", "payment_intent_payment_attempt_failed")


def test_refund_transfer_payout_and_connect(stripe_api):
    stripe_api.routes = {
        ("POST", "/v1/refunds"): (200, "refund.json"),
        ("POST", "/v1/accounts"): (200, "account.json"),
        ("POST", "/v1/account_links"): (200, "account_link.json"),
        ("GET", "/v1/accounts/acct_1QxyzABCdefGHIjk"): (200, "account_onboarded.json"),
        ("POST", "/v1/transfers"): (200, "transfer.json"),
        ("POST", "/v1/payouts"): (200, "payout.json"),
    }
    provider = StripeProvider()

    assert (
        provider.refund(
            charge_id="ch_3QabcdEFGHijklMN0x9y8z7w", amount=Decimal("200.00"), currency="USD", idempotency_key="r1"
        )
        == "re_3QabcdEFGHijklMN0r1e2f3u"
    )
    account_id = provider.account_create(email="felix@example.com", country="US", idempotency_key="payout-account:7")
    link = provider.account_link(
        account_id=account_id, refresh_url="/wallet/", return_url="/wallet/payout-account/return/"
    )
    status = provider.account_retrieve(account_id)
    transfer = provider.transfer(
        account_id=account_id,
        amount=Decimal("450.00"),
        currency="USD",
        idempotency_key="payout:1:transfer",
        description="Withdrawal #1",
    )
    payout = provider.payout(
        account_id=account_id, amount=Decimal("450.00"), currency="USD", idempotency_key="payout:1"
    )

    assert account_id == "acct_1QxyzABCdefGHIjk" and link.startswith("https://connect.stripe.com/setup/")
    assert status.payouts_enabled and status.details_submitted
    assert (transfer, payout) == ("tr_1QtransferABCdefGH", "po_1QpayoutABCdefGHij")
    sent = {(r["method"], r["path"]): r for r in stripe_api.requests}
    assert sent[("POST", "/v1/refunds")]["form"] == {"charge": ["ch_3QabcdEFGHijklMN0x9y8z7w"], "amount": ["20000"]}
    assert sent[("POST", "/v1/accounts")]["form"]["type"] == ["express"]
    assert sent[("POST", "/v1/accounts")]["headers"]["Idempotency-Key"] == "payout-account:7"
    assert sent[("POST", "/v1/account_links")]["form"]["return_url"] == [
        "https://market.example/wallet/payout-account/return/"
    ]
    assert sent[("POST", "/v1/transfers")]["form"]["destination"] == ["acct_1QxyzABCdefGHIjk"]
    assert sent[("POST", "/v1/payouts")]["headers"]["Stripe-Account"] == "acct_1QxyzABCdefGHIjk"


def test_stripe_errors_become_payment_errors(stripe_api):
    stripe_api.routes = {("POST", "/v1/refunds"): (400, "card_error.json")}
    with pytest.raises(PaymentError) as raised:
        StripeProvider().refund(charge_id="ch_1", amount=Decimal("1.00"), currency="USD", idempotency_key="r")
    assert raised.value.code == "charge_already_refunded"


class TestWebhookSignatures:
    def test_a_real_signature_verifies(self, stripe_api):
        body, signature = signed(session_event("evt_ok"))
        event = StripeProvider().webhook_parse(body=body, headers={"Stripe-Signature": signature})
        assert (event.id, event.type, event.object_id) == ("evt_ok", "checkout.session.completed", SESSION)

    @pytest.mark.parametrize(
        "make",
        [
            lambda: signed(session_event("evt_x"), secret="whsec_someone_else"),
            lambda: signed(session_event("evt_x"), timestamp=int(time.time()) - 3600),
            lambda: (signed(session_event("evt_x"))[0] + b" ", signed(session_event("evt_x"))[1]),
        ],
        ids=["wrong-secret", "too-old", "tampered-body"],
    )
    def test_bad_signatures_are_refused(self, stripe_api, make):
        body, signature = make()
        with pytest.raises(InvalidSignature):
            StripeProvider().webhook_parse(body=body, headers={"Stripe-Signature": signature})

    @pytest.mark.django_db
    def test_the_endpoint_answers_400_and_stores_nothing(self, stripe_api, client):
        body, signature = signed(session_event("evt_bad"), secret="whsec_someone_else")
        response = client.post(
            reverse("escrow:webhook", args=["stripe"]),
            body,
            content_type="application/json",
            headers={"Stripe-Signature": signature},
        )
        assert response.status_code == 400 and not WebhookEvent.objects.exists()
        assert not PaymentIntent.objects.exists()
