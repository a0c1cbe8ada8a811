import re
import zoneinfo

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from marketplace.accounts import email_verified
from marketplace.models import User

SIGNUP = {
    "name": "Ada Lovelace",
    "email": "Ada@Example.com",
    "password1": "analytical-engine-1843",
    "password2": "analytical-engine-1843",
    "role": "both",
    "timezone": "Europe/London",
    "accept_terms": "on",
}

pytestmark = pytest.mark.django_db


def confirmation_link(message) -> str:
    return re.search(r"https?://[^/]+(/accounts/confirm-email/\S+/)", message.body).group(1)


def test_signup_creates_an_unverified_account_and_emails_a_confirmation_link(client, deliver_emails):
    response = client.post(reverse("account_signup"), SIGNUP)
    deliver_emails()

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get()
    assert user.email == "ada@example.com"  # stored lower-case
    assert user.name == "Ada Lovelace"
    assert user.wants_to_hire and user.wants_to_work
    assert user.timezone == zoneinfo.ZoneInfo("Europe/London")
    assert user.check_password("analytical-engine-1843")
    assert not email_verified(user)
    # Not logged in until the address is confirmed.
    assert client.get(reverse("dashboard")).status_code == 302
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_confirming_the_email_verifies_it_and_logs_in(client, deliver_emails):
    client.post(reverse("account_signup"), SIGNUP)
    deliver_emails()
    link = confirmation_link(mail.outbox[0])

    page = client.get(link)  # a link scanner opening the email confirms nothing
    assert page.status_code == 200
    assert not email_verified(User.objects.get())

    response = client.post(link)
    assert response.status_code == 302
    user = User.objects.get()
    assert email_verified(user)
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert dashboard.context["user"] == user


def test_an_unverified_account_cannot_log_in_and_gets_a_new_link(client, deliver_emails):
    client.post(reverse("account_signup"), SIGNUP)
    deliver_emails()
    mail.outbox.clear()
    cache.clear()  # the resend limit (one per three minutes) is not what this test is about

    response = client.post(reverse("account_login"), {"login": "ada@example.com", "password": SIGNUP["password1"]})

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert client.get(reverse("dashboard")).status_code == 302
    assert "/accounts/confirm-email/" in deliver_emails()[0].body


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password2": "something-else-1843"}, "password2", "You must type the same password each time."),
        ({"password1": "12345678", "password2": "12345678"}, "password1", "This password is too common."),
        ({"role": "landlord"}, "role", "Select a valid choice."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice."),
    ],
)
def test_signup_with_bad_input_shows_error_next_to_field_and_creates_nothing(client, changes, field, message):
    response = client.post(reverse("account_signup"), {**SIGNUP, **changes})

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert f'id="error_1_id_{field}"' in response.content.decode()  # rendered next to the field
    assert User.objects.count() == 0


def test_signup_with_an_address_already_used_reveals_nothing_and_tells_its_owner(client, client_user, deliver_emails):
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": client_user.email.upper()})
    deliver_emails()

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")  # the same answer as a new address
    assert User.objects.count() == 1
    assert [m.to for m in mail.outbox] == [[client_user.email]]  # the owner learns someone tried


def test_signup_keeps_what_was_typed_on_error(client):
    response = client.post(reverse("account_signup"), {**SIGNUP, "password2": "nope"})

    assert 'value="Ada Lovelace"' in response.content.decode()


def test_login_with_email_in_any_case_and_logout(client, client_user, password):
    response = client.post(reverse("login"), {"login": client_user.email.upper(), "password": password})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")

    response = client.post(reverse("account_logout"), follow=True)
    assert "You have signed out." in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302  # back to the login page


def test_login_with_wrong_password_says_so(client, client_user):
    response = client.post(reverse("login"), {"login": client_user.email, "password": "wrong"})

    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.content.decode()


def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_password_change_sends_a_security_email(client, client_user, password, deliver_emails):
    client.force_login(client_user)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": "a-brand-new-secret-42", "password2": "a-brand-new-secret-42"},
    )

    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.check_password("a-brand-new-secret-42")
    assert [m.to for m in deliver_emails()] == [[client_user.email]]
    assert "password" in mail.outbox[0].subject.lower()


def test_password_reset_by_email(client, client_user, deliver_emails):
    response = client.post(reverse("account_reset_password"), {"email": client_user.email})
    deliver_emails()
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [client_user.email]

    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"password1": "reset-and-remembered-7", "password2": "reset-and-remembered-7"},
    )
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.check_password("reset-and-remembered-7")


def test_password_reset_for_unknown_email_sends_nothing_and_reveals_nothing(client):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")
    assert mail.outbox == []


def test_email_change_takes_effect_only_once_the_new_address_is_confirmed(client, client_user, deliver_emails):
    client.force_login(client_user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": "clara.new@example.com"})
    deliver_emails()
    assert response.status_code == 302

    client_user.refresh_from_db()
    assert client_user.email == "clara@example.com"  # unchanged until confirmed
    confirm = next(m for m in mail.outbox if m.to == ["clara.new@example.com"])
    mail.outbox.clear()
    client.post(confirmation_link(confirm))

    client_user.refresh_from_db()
    assert client_user.email == "clara.new@example.com"
    assert email_verified(client_user)
    # The old address is told about the change (a security email).
    assert any(m.to == ["clara@example.com"] for m in deliver_emails())


def test_account_settings_change_name_role_and_timezone(client, client_user):
    client.force_login(client_user)
    data = {"name": "Clara C.", "role": "work", "timezone": "Asia/Tokyo", "refund_to": "card", "language": "en"}
    response = client.post(reverse("account_settings"), data)

    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.name == "Clara C."
    assert (client_user.wants_to_hire, client_user.wants_to_work) == (False, True)
    assert client_user.timezone == zoneinfo.ZoneInfo("Asia/Tokyo")
    assert client_user.refund_to == "card"


def test_account_settings_bad_input_changes_nothing(client, client_user):
    client.force_login(client_user)
    response = client.post(reverse("account_settings"), {"name": " ", "role": "work", "timezone": "Asia/Tokyo"})

    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["This field is required."]
    client_user.refresh_from_db()
    assert client_user.name == "Clara Client"
    assert str(client_user.timezone) == "UTC"


def test_pages_are_shown_in_the_users_timezone(client, client_user):
    client_user.timezone = "Asia/Tokyo"
    client_user.save()
    client.force_login(client_user)

    response = client.get(reverse("dashboard"))

    assert "Times shown in Asia/Tokyo" in response.content.decode()


def test_landing_page_explains_the_product(client):
    body = client.get(reverse("home")).content.decode()

    for phrase in ["fixed-price", "milestone", "escrow", "14-day review"]:
        assert phrase in body
