"""Payout destinations: every change is kept (history, shown to staff) and the owner gets a security email."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from escrow.models import PayoutAccount
from escrow.sandbox import engine
from escrow.services import payout_account_link, payout_account_refresh
from marketplace.tests.factories import UserFactory
from messaging.models import OutboundEmail

pytestmark = pytest.mark.django_db
SUBJECTS = {"Payouts set up", "Payout destination changed"}


def set_up_payouts_in_the_wallet(user, bank_account="000123456789", callbacks=None):
    """The user's way through the wallet: the provider's onboarding page, then back to us."""
    browser = Client()
    browser.force_login(user)
    link = browser.post(reverse("escrow:payout_account"))["Location"]
    browser.post(link, {"routing_number": "110000000", "account_number": bank_account})
    browser.get(reverse("escrow:payout_account_return"))
    return PayoutAccount.objects.get(user=user)


def security_emails(user):
    return list(OutboundEmail.objects.filter(user=user, subject__in=SUBJECTS).order_by("id"))


def test_setting_up_payouts_is_kept_in_the_history_and_emailed_to_the_owner(
    freelancer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        account = set_up_payouts_in_the_wallet(freelancer)

    assert (account.payouts_enabled, account.destination) == (True, "•••• 6789")
    history = list(account.history.order_by("history_id"))
    assert [(h.history_type, h.payouts_enabled, h.destination) for h in history] == [
        ("+", False, ""),
        ("~", True, "•••• 6789"),
    ]
    assert history[-1].history_user == freelancer  # who made the change (their request)
    [email] = security_emails(freelancer)
    assert email.to_email == freelancer.email and email.subject == "Payouts set up"
    assert "•••• 6789" in email.body and "two-factor" in email.body and "/wallet/" in email.body
    assert [m.subject for m in mail.outbox if m.to == [freelancer.email]] == ["Payouts set up"]


def test_a_new_bank_account_at_the_provider_is_a_changed_destination(freelancer, django_capture_on_commit_callbacks):
    account = set_up_payouts_in_the_wallet(freelancer)

    # The freelancer (or someone with their provider login) enters another bank account at the provider, whose
    # webhook (or the next return) makes us ask again.
    engine.account_onboard(account.account_id, bank_account="000987654321")
    with django_capture_on_commit_callbacks(execute=True):
        payout_account_refresh(provider="sandbox", account_id=account.account_id)

    assert [h.destination for h in account.history.order_by("history_id")] == ["", "•••• 6789", "•••• 4321"]
    first, changed = security_emails(freelancer)
    assert first.subject == "Payouts set up"
    assert changed.subject == "Payout destination changed" and "•••• 4321" in changed.body
    assert "If you did not make this change" in changed.body


def test_asking_again_without_a_change_keeps_no_row_and_sends_nothing(freelancer):
    account = set_up_payouts_in_the_wallet(freelancer)
    rows, emails = account.history.count(), len(security_emails(freelancer))

    for _ in range(3):  # webhooks replayed, the user coming back again
        payout_account_refresh(provider="sandbox", account_id=account.account_id)

    assert account.history.count() == rows
    assert len(security_emails(freelancer)) == emails == 1


def test_an_unfinished_onboarding_sends_no_email(freelancer):
    payout_account_link(user=freelancer, return_url="/wallet/", refresh_url="/wallet/")
    account = PayoutAccount.objects.get(user=freelancer)

    payout_account_refresh(provider="sandbox", account_id=account.account_id)

    assert not account.payouts_enabled and not security_emails(freelancer)


def test_staff_see_the_history_of_a_payout_account_and_members_do_not(client, freelancer):
    account = set_up_payouts_in_the_wallet(freelancer)
    engine.account_onboard(account.account_id, bank_account="000987654321")
    payout_account_refresh(provider="sandbox", account_id=account.account_id)
    url = reverse("admin:escrow_payoutaccount_history", args=[account.pk])

    client.force_login(UserFactory(is_staff=True, is_superuser=True))  # with a second factor (see conftest)
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "•••• 6789" in body and "•••• 4321" in body
    assert (
        'name="_save"'
        not in client.get(reverse("admin:escrow_payoutaccount_change", args=[account.pk])).content.decode()
    )

    member = Client()
    member.force_login(freelancer)
    assert member.get(url).status_code == 302  # to the admin's login: not staff
