from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from escrow.audit import AUDIT_RUN_STALE
from escrow.ledger import account_get
from escrow.models import (
    Account,
    AuditRun,
    Entry,
    Hold,
    PaymentIntent,
    Payout,
    PayoutAccount,
    Posting,
    Transfer,
    WebhookEvent,
)
from escrow.sandbox import engine
from escrow.sandbox.tasks import deliver_event
from escrow.services import hold_release, payout_request
from escrow.tasks import ledger_audit, process_webhook_event
from escrow.tests.factories import HoldSpecFactory
from escrow.tests.helpers import fund, payouts_ready, start_funding
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
MODELS = ["account", "entry", "posting", "hold", "payout", "paymentintent", "webhookevent", "payoutaccount", "transfer"]


@pytest.fixture
def ledger(payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:42", payee=payee, amount=Decimal("500.00"), fee=Decimal("50.00")))
    hold_release(reference="milestone:42", actor=payer)
    payouts_ready(payee)
    payout_request(user=payee, amount=Decimal("100.00"), idempotency_key="admin-test")
    # A payment through the hosted page, confirmed by its webhook (processed inline here).
    intent = start_funding(payer, HoldSpecFactory(reference="milestone:43", payee=payee))
    engine.checkout_pay(intent.provider_id, number="4242424242424242", exp_month=12, exp_year=2099, cvc="123")
    for event in engine.Event.objects.all():
        deliver_event(event.pk)
    process_webhook_event(WebhookEvent.objects.first().pk)


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.mark.parametrize("model", MODELS)
def test_staff_see_every_ledger_list_and_row_read_only(client, staff, ledger, model):
    changelist = client.get(reverse(f"admin:escrow_{model}_changelist"))
    assert changelist.status_code == 200
    assert "Add " not in changelist.content.decode().split('id="content-main"')[1].split("</ul>")[0]

    obj = {
        "account": Account,
        "entry": Entry,
        "posting": Posting,
        "hold": Hold,
        "payout": Payout,
        "paymentintent": PaymentIntent,
        "webhookevent": WebhookEvent,
        "payoutaccount": PayoutAccount,
        "transfer": Transfer,
    }[model].objects.first()
    change = client.get(reverse(f"admin:escrow_{model}_change", args=[obj.pk]))
    assert change.status_code == 200
    page = change.content.decode()
    assert 'name="_save"' not in page and "deletelink" not in page
    assert client.get(reverse(f"admin:escrow_{model}_add")).status_code == 403
    assert client.post(reverse(f"admin:escrow_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_the_entry_shows_its_postings_inline(client, staff, ledger):
    entry = Entry.objects.get(reference="release:milestone:42")
    page = client.get(reverse("admin:escrow_entry_change", args=[entry.pk])).content.decode()
    assert "Postings" in page and "450.00" in page and "-500.00" in page


def test_filters_and_search(client, staff, ledger):
    by_kind = client.get(reverse("admin:escrow_account_changelist"), {"kind": "platform_fees"}).content.decode()
    assert "Platform fees" in by_kind and "$50.00" in by_kind
    entries = client.get(reverse("admin:escrow_entry_changelist"), {"q": "milestone:42"}).content.decode()
    assert "fund:milestone:42" in entries and "release:milestone:42" in entries and "payout:" not in entries
    postings = client.get(reverse("admin:escrow_posting_changelist"), {"account__kind": "user_available"})
    assert postings.status_code == 200 and "450.00" in postings.content.decode()


def test_the_account_list_shows_balances_without_a_query_per_row(client, staff, ledger, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        client.get(reverse("admin:escrow_account_changelist"))


def test_staff_ask_for_the_ledger_audit_and_a_worker_runs_it(
    client, staff, ledger, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    changelist = client.get(reverse("admin:escrow_entry_changelist")).content.decode()
    assert reverse("admin:escrow_audit") in changelist and "Ledger audit" in changelist
    url = reverse("admin:escrow_audit")

    with django_assert_max_num_queries(8):  # the page reads the latest run; it never runs the audit itself
        never = client.get(url).content.decode()
    assert "No audit has been run from this page yet." in never and AuditRun.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True) as hooks:  # the task goes out after commit
        asked = client.post(url)
    assert asked.status_code == 302 and len(hooks) == 1
    clean = client.get(url).content.decode()
    assert "The ledger is consistent: no violations." in clean and "The audit is queued" in clean
    run = AuditRun.objects.get()
    assert run.status == AuditRun.Status.DONE and run.requested_by == staff and run.violations == []
    assert ledger_audit(run.pk) is None  # a task delivered twice runs the audit once

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO escrow_posting (entry_id, account_id, amount) VALUES (%s, %s, 1.00)",
            [Entry.objects.get(reference="fund:milestone:42").pk, account_get(Account.Kind.GATEWAY).pk],
        )
    assert "The ledger is consistent" in client.get(url).content.decode()  # the latest run's result, until asked
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    broken = client.get(url).content.decode()
    assert "2 violations found." in broken
    assert "Entry fund:milestone:42 does not balance" in broken


def test_a_second_request_while_an_audit_waits_queues_nothing(
    client, staff, ledger, django_capture_on_commit_callbacks
):
    waiting = AuditRun.objects.create(requested_by=staff)
    url = reverse("admin:escrow_audit")
    page = client.get(url).content.decode()
    assert "An audit is queued since" in page and "disabled" in page

    with django_capture_on_commit_callbacks() as hooks:
        client.post(url)
    assert len(hooks) == 0 and list(AuditRun.objects.all()) == [waiting]
    assert "already queued or running" in client.get(url).content.decode()

    AuditRun.objects.filter(pk=waiting.pk).update(requested_at=timezone.now() - AUDIT_RUN_STALE)  # its worker died
    with django_capture_on_commit_callbacks() as hooks:
        client.post(url)
    assert len(hooks) == 1 and AuditRun.objects.count() == 2


def test_staff_with_view_permission_only_see_the_audit(client, ledger):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_entry"))
    client.force_login(user)
    assert client.get(reverse("admin:escrow_audit")).status_code == 200

    client.force_login(UserFactory(is_staff=True))  # staff without ledger permissions
    assert client.get(reverse("admin:escrow_audit")).status_code == 403


def test_non_staff_cannot_open_the_audit(client, ledger):
    client.force_login(UserFactory())
    assert client.get(reverse("admin:escrow_audit")).status_code == 302


def test_transfers_not_sent_yet_have_a_named_provider_filter_choice(client, staff, payer, payee):
    fund(payer, HoldSpecFactory(reference="milestone:44", payee=payee, amount=Decimal("100.00"), fee=Decimal("10")))
    hold_release(reference="milestone:44", actor=payer)  # no payout account yet: the transfer waits, no provider
    assert Transfer.objects.get().provider == ""

    body = client.get(reverse("admin:escrow_transfer_changelist")).content.decode()

    assert '<a href="?provider=">Not sent yet</a>' in body
    assert '<a href="?provider="></a>' not in body
