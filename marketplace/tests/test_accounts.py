import re
import zoneinfo

import pytest
from django.core import mail
from django.urls import reverse

from marketplace.models import User

SIGNUP = {
    "name": "Ada Lovelace",
    "email": "Ada@Example.com",
    "password1": "analytical-engine-1843",
    "password2": "analytical-engine-1843",
    "role": "both",
    "timezone": "Europe/London",
}

pytestmark = pytest.mark.django_db


def test_signup_creates_account_logs_in_and_redirects_to_dashboard(client):
    response = client.post(reverse("signup"), SIGNUP)

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    user = User.objects.get()
    assert user.email == "ada@example.com"  # stored lower-case
    assert user.name == "Ada Lovelace"
    assert user.wants_to_hire and user.wants_to_work
    assert user.timezone == zoneinfo.ZoneInfo("Europe/London")
    assert user.check_password("analytical-engine-1843")
    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert "Welcome, Ada" in dashboard.content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password2": "something-else-1843"}, "password2", "The two password fields didn"),
        ({"password1": "12345678", "password2": "12345678"}, "password2", "This password is too common."),
        ({"role": "landlord"}, "role", "Select a valid choice."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice."),
    ],
)
def test_signup_with_bad_input_shows_error_next_to_field_and_creates_nothing(client, changes, field, message):
    response = client.post(reverse("signup"), {**SIGNUP, **changes})

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert f'id="error_1_id_{field}"' in response.content.decode()  # rendered next to the field
    assert User.objects.count() == 0


def test_signup_refuses_an_email_already_used_in_any_case(client, client_user):
    response = client.post(reverse("signup"), {**SIGNUP, "email": client_user.email.upper()})

    assert "already exists" in response.context["form"].errors["email"][0]
    assert User.objects.count() == 1


def test_signup_keeps_what_was_typed_on_error(client):
    response = client.post(reverse("signup"), {**SIGNUP, "password2": "nope"})

    assert 'value="Ada Lovelace"' in response.content.decode()


def test_login_with_email_in_any_case_and_logout(client, client_user, password):
    response = client.post(reverse("login"), {"username": client_user.email.upper(), "password": password})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")

    response = client.post(reverse("logout"))
    assert "You are logged out." in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302  # back to the login page


def test_login_with_wrong_password_says_so(client, client_user):
    response = client.post(reverse("login"), {"username": client_user.email, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct email address and password" in response.content.decode()


def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_password_change(client, client_user, password):
    client.force_login(client_user)
    response = client.post(
        reverse("password_change"),
        {"old_password": password, "new_password1": "a-brand-new-secret-42", "new_password2": "a-brand-new-secret-42"},
    )

    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.check_password("a-brand-new-secret-42")


def test_password_reset_by_email(client, client_user):
    response = client.post(reverse("password_reset"), {"email": client_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [client_user.email]

    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "reset-and-remembered-7", "new_password2": "reset-and-remembered-7"},
    )
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.check_password("reset-and-remembered-7")


def test_password_reset_for_unknown_email_sends_nothing_and_reveals_nothing(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert mail.outbox == []


def test_account_settings_change_name_role_and_timezone(client, client_user):
    client.force_login(client_user)
    data = {"name": "Clara C.", "role": "work", "timezone": "Asia/Tokyo", "refund_to": "card"}
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
