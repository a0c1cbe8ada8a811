"""The security review's findings 2–5 (issue 13), each as a test that failed before the fix."""

import re
from datetime import timedelta

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contracts.tests.factories import ContractFactory, make_offer
from marketplace.accounts import email_verified
from marketplace.hygiene import BIDI_CONTROLS
from marketplace.models import Profile, User
from marketplace.tests.factories import FreelancerFactory, UserFactory
from marketplace.tests.second_factor import SecondFactorClient, totp_activate, totp_code
from messaging.services import notify, thread_create

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "invoice\u202efdp.exe" shows as "invoiceexe.pdf"


def log_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


# Finding 2: no login lockout or rate limit.


def test_thirty_wrong_passwords_lock_the_login_so_the_right_one_is_refused(client, client_user, password):
    for _ in range(30):
        log_in(client, client_user.email, "wrong-password")

    response = log_in(client, client_user.email, password)

    assert response.status_code == 429
    assert client.get(reverse("dashboard")).status_code == 302  # not logged in


def test_the_fifth_failure_locks_for_fifteen_minutes_with_a_clear_message(client, client_user, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, client_user.email, "wrong-password")
        assert response.status_code == 200  # the form again, with its error

    response = log_in(client, client_user.email, "wrong-password")

    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed login attempts" in body
    assert "locked for 15 minutes" in body
    with time_machine.travel(timezone.now() + timedelta(minutes=14)):
        assert log_in(client, client_user.email, password).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = log_in(client, client_user.email, password)
        assert response.status_code == 302 and response.url == reverse("dashboard")


def test_staff_unlock_a_locked_login_in_admin(client, client_user, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, client_user.email, "wrong-password")
    attempt = AccessAttempt.objects.get(username=client_user.email)

    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))  # plain client: no second factor yet
    assert staff.get(reverse("admin:axes_accessattempt_changelist")).status_code == 302

    staff = SecondFactorClient()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = staff.get(reverse("admin:axes_accessattempt_changelist"))
    assert client_user.email in page.content.decode()
    staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert not AccessAttempt.objects.exists()
    response = log_in(client, client_user.email, password)
    assert response.status_code == 302 and response.url == reverse("dashboard")


def test_sign_up_is_rate_limited_per_address(client):
    statuses = []
    for number in range(7):
        data = {
            "name": "Spammer",
            "email": f"spam{number}@example.com",
            "password1": "a-long-enough-password-1",
            "password2": "a-long-enough-password-1",
            "role": "hire",
            "timezone": "UTC",
            "accept_terms": "on",
        }
        statuses.append(client.post(reverse("account_signup"), data).status_code)

    assert statuses[:5] == [302] * 5
    assert statuses[5:] == [429, 429]
    assert User.objects.count() == 5


def test_password_reset_is_rate_limited(client, client_user, deliver_emails):
    statuses = [
        client.post(reverse("account_reset_password"), {"email": client_user.email}).status_code for _ in range(5)
    ]

    assert statuses[:3] == [302] * 3
    assert 429 in statuses[3:]
    assert len(deliver_emails()) == 3


# Finding 3: a NUL byte answered 500.


@pytest.mark.parametrize(
    "url", ["/freelancers/?q=a%00b", "/freelancers/?q%00=a", "/freelancers/?page=%00", "/accounts/login/?next=%00"]
)
def test_a_nul_byte_in_a_query_parameter_is_a_clean_400(client, url):
    assert client.get(url).status_code == 400


def test_a_nul_byte_in_a_form_is_a_clean_400_and_changes_nothing(client, freelancer):
    client.force_login(freelancer)
    data = {"headline": "Django\x00 developer", "bio": "", "location": "", "skills": ""}

    assert client.post(reverse("profile_edit"), data).status_code == 400
    assert not Profile.objects.filter(user=freelancer).exists()
    assert client.post(reverse("account_login"), {"login": "a\x00@example.com", "password": "x"}).status_code == 400


# Finding 4: no Content-Security-Policy; right-to-left overrides in notifications and emails.


def test_every_page_has_a_csp_with_nonced_scripts_and_no_unsafe_inline(client, freelancer):
    client.force_login(freelancer)
    pages = ["/", "/freelancers/", "/dashboard/", "/accounts/settings/", "/wallet/", "/accounts/email/"]
    pages += ["/accounts/2fa/", "/accounts/sessions/", "/accounts/password/change/", "/messages/", "/contracts/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response.headers["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        nonce = re.search(r"'nonce-([^']+)'", script_src)  # present when the page has a nonced script
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
            executable = 'type="application/json"' not in tag  # data for a script, never run
            assert not executable or " src=" in tag or (nonce and f'nonce="{nonce.group(1)}"' in tag), (url, tag)


def test_no_template_has_an_inline_script_or_event_handler():
    from pathlib import Path

    from django.conf import settings

    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if " src=" not in tag and "nonce=" not in tag:
                offenders.append((path.name, tag))
        offenders += [(path.name, handler) for handler in re.findall(r"\son[a-z]+=\"", text)]
    assert offenders == []


def test_bidi_controls_are_stripped_from_typed_names_and_titles(client, freelancer):
    client.force_login(freelancer)
    data = {"name": f"Eve {RLO}lagel", "role": "work", "timezone": "UTC", "refund_to": "credit", "language": "en"}
    client.post(reverse("account_settings"), data)
    client.post(
        reverse("profile_edit"), {"headline": f"Designer{RLO}", "bio": "\u2066x\u2069", "location": "", "skills": ""}
    )

    freelancer.refresh_from_db()
    assert freelancer.name == "Eve lagel"
    assert freelancer.profile.headline == "Designer"
    assert freelancer.profile.bio == "x"


def test_bidi_controls_never_reach_notifications_or_email_subjects(
    client_user, freelancer, django_capture_on_commit_callbacks
):
    title = f"Logo {RLO}gpj.exe"
    thread = thread_create(participants=[client_user, freelancer], subject=title)
    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(user=client_user, kind="contract", text=f"Milestone “{title}” was funded")

    assert not any(ch in thread.subject for ch in BIDI_CONTROLS)
    assert not any(ch in notification.text for ch in BIDI_CONTROLS)
    assert mail.outbox, "the notification is emailed"
    for message in mail.outbox:
        assert not any(ch in message.subject for ch in BIDI_CONTROLS), message.subject


# Finding 5: unverified sign-ups act at once; no second factor; no security emails; no history.


@pytest.mark.parametrize("who", ["client", "freelancer"])
def test_an_unverified_address_cannot_send_offers_fund_accept_or_withdraw(client, who):
    contract = ContractFactory()
    user = contract.client if who == "client" else contract.freelancer
    user.emailaddress_set.update(verified=False)
    assert not email_verified(user)
    client.force_login(user)

    if who == "client":
        urls = [
            reverse("contracts:offer_create") + f"?freelancer={contract.freelancer.pk}",
            contract_fund_url(contract),
        ]
    else:
        offer = make_offer(client=contract.client, freelancer=user)
        urls = [reverse("contracts:offer_accept", kwargs={"offer_id": offer.pk}), reverse("escrow:withdraw")]
    for url in urls:
        response = client.post(url, {})
        assert response.status_code == 302 and response.url == reverse("account_email"), url


def contract_fund_url(contract):
    return reverse("contracts:milestones_fund", kwargs={"contract_id": contract.pk})


def test_staff_without_a_second_factor_cannot_open_the_admin():
    staff_user = UserFactory(is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(staff_user)

    response = staff.get(reverse("admin:marketplace_user_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_activate_totp"))


def test_staff_with_a_second_factor_enter_the_admin_only_after_giving_a_code(password):
    staff_user = UserFactory(is_staff=True, is_superuser=True)
    secret = totp_activate(staff_user)
    staff = Client()

    # The admin's own login form is replaced by ours, which asks for the code after the password.
    assert staff.get(reverse("admin:login")).url.startswith(reverse("account_login"))
    response = staff.post(reverse("account_login"), {"login": staff_user.email, "password": password})
    assert response.url == reverse("mfa_authenticate")
    assert staff.get(reverse("admin:index")).status_code == 302  # not signed in yet
    response = staff.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302

    assert staff.get(reverse("admin:index")).status_code == 200


def test_a_password_only_session_of_staff_is_asked_for_a_code(password):
    staff_user = UserFactory(is_staff=True, is_superuser=True)
    secret = totp_activate(staff_user)
    staff = Client()
    staff.force_login(staff_user)  # e.g. a session from before the second factor was set up

    response = staff.get(reverse("admin:index"))
    assert response.url.startswith(reverse("mfa_reauthenticate"))
    staff.post(response.url, {"code": totp_code(secret)})

    assert staff.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db(transaction=True)  # allauth emails from on_commit, inside the request
def test_setting_up_a_second_factor_sends_a_security_email(client, client_user, password, deliver_emails):
    client.force_login(client_user)
    reauthenticate = client.get(reverse("mfa_activate_totp")).url  # confirm the password first
    assert reauthenticate.startswith(reverse("account_reauthenticate"))
    client.post(reauthenticate, {"password": password})
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=client_user, type=Authenticator.Type.TOTP).exists()
    assert [m.to for m in deliver_emails()] == [[client_user.email]]
    assert "two-factor" in mail.outbox[0].subject.lower() or "authenticator" in mail.outbox[0].subject.lower()


def test_changes_to_users_and_profiles_are_kept_and_shown_to_staff(client, freelancer):
    freelancer_client = Client()
    freelancer_client.force_login(freelancer)
    data = {"name": "Felix F.", "role": "work", "timezone": "UTC", "refund_to": "card", "language": "en"}
    freelancer_client.post(reverse("account_settings"), data)
    freelancer_client.post(
        reverse("profile_edit"), {"headline": "Django", "bio": "", "location": "Lisbon", "skills": "python"}
    )

    history = freelancer.history.order_by("history_date")
    assert [(h.name, h.refund_to) for h in history][-1] == ("Felix F.", "card")
    assert history.last().history_user == freelancer  # who made the change
    assert freelancer.profile.history.count() >= 1

    client.force_login(FreelancerFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:marketplace_user_history", args=[freelancer.pk]))
    assert page.status_code == 200
    assert "Felix F." in page.content.decode()


def test_a_freelancer_about_to_withdraw_is_nudged_towards_two_factor(client, freelancer, client_user, settings):
    from escrow.tests.test_views import earn

    settings.ESCROW_PAYMENT_CALLBACKS = {}  # escrow-level earnings without a contract behind them
    earn(client_user, freelancer)
    client.force_login(freelancer)
    confirm_page = client.post(reverse("escrow:withdraw"), {"amount": "10.00"})
    assert 'id="mfa-nudge"' in confirm_page.content.decode()

    totp_activate(freelancer)
    assert 'id="mfa-nudge"' not in client.post(reverse("escrow:withdraw"), {"amount": "10.00"}).content.decode()
