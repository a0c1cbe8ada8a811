import pytest
from django.core import mail
from django.urls import reverse

from marketplace.tests.factories import UserFactory
from messaging import selectors, services
from messaging.models import EmailPreference, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def clara(client, client_user):
    client.force_login(client_user)
    return client


# --- notify ---


def test_notify_creates_a_notification_and_emails_it_after_commit(
    client_user, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://milestone.example"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification = services.notify(
            user=client_user, kind="contract", text="Felix submitted work for “Designs”", url="/contracts/7/"
        )
    assert mail.outbox == []  # nothing is sent before the transaction commits
    for callback in callbacks:
        callback()

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["clara@example.com"]
    assert "Felix submitted work for “Designs”" in email.subject
    assert "https://milestone.example/contracts/7/" in email.body
    assert "https://milestone.example/notifications/preferences/" in email.body
    notification.refresh_from_db()
    assert notification.emailed_at is not None and notification.read_at is None


def test_a_notification_is_emailed_once_even_if_the_task_runs_again(client_user, django_capture_on_commit_callbacks):
    from messaging.tasks import send_notification_email

    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notify(user=client_user, kind="reminder", text="3 days left to review")

    send_notification_email.delay(notification.pk)

    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("kind", "preference"),
    [("message", "messages"), ("contract", "contract_updates"), ("reminder", "reminders")],
)
def test_preferences_turn_off_each_kind_of_email(client_user, django_capture_on_commit_callbacks, kind, preference):
    services.email_preferences_update(
        user=client_user,
        **{"messages": True, "contract_updates": True, "reminders": True, preference: False},
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.notify(user=client_user, kind=kind, text="Something happened")
        others = [k for k in ("message", "contract", "reminder") if k != kind]
        for other in others:
            services.notify(user=client_user, kind=other, text=f"Also {other}")

    assert sorted(m.subject.split("Also ")[-1] for m in mail.outbox) == sorted(others)
    assert Notification.objects.filter(user=client_user).count() == 3  # in-app they are all there


def test_notify_without_email_sends_nothing(client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(user=client_user, kind="contract", text="Quiet", email=False)

    assert mail.outbox == []


def test_notify_refuses_an_unknown_kind_and_a_dangerous_url(client_user):
    with pytest.raises(ValueError):
        services.notify(user=client_user, kind="spam", text="x")
    with pytest.raises(Exception, match="not a link"):
        services.notify(user=client_user, kind="contract", text="x", url="javascript:alert(1)")


# --- pages ---


def test_the_notifications_page_lists_newest_first_and_paginates(clara, client_user):
    for n in range(25):
        services.notify(user=client_user, kind="contract", text=f"Update {n}", url=f"/contracts/{n}/", email=False)
    services.notify(user=UserFactory(), kind="contract", text="Someone else's", email=False)

    first = clara.get(reverse("notifications:list"))
    second = clara.get(reverse("notifications:list"), {"page": 2})

    assert [n.text for n in first.context["page"]][:2] == ["Update 24", "Update 23"]
    assert len(first.context["page"]) == 20 and len(second.context["page"]) == 5
    assert "Someone else's" not in first.content.decode() + second.content.decode()
    assert "Mark all as read" in first.content.decode()
    assert reverse("notifications:preferences") in first.content.decode()


def test_the_notifications_page_has_an_empty_state(clara):
    assert "No notifications yet." in clara.get(reverse("notifications:list")).content.decode()


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(clara, client_user):
    notification = services.notify(user=client_user, kind="contract", text="Funded", url="/contracts/7/", email=False)

    response = clara.get(reverse("notifications:open", args=[notification.pk]))

    assert response.status_code == 302 and response.url == "/contracts/7/"
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert selectors.unread_counts(user=client_user).notifications == 0


def test_a_notification_without_a_local_url_opens_the_list(clara, client_user):
    notification = services.notify(
        user=client_user, kind="contract", text="Elsewhere", url="https://other.example/", email=False
    )

    assert clara.get(reverse("notifications:open", args=[notification.pk])).url == reverse("notifications:list")


def test_someone_elses_notification_is_404(clara):
    notification = services.notify(user=UserFactory(), kind="contract", text="Not yours", email=False)

    assert clara.get(reverse("notifications:open", args=[notification.pk])).status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_as_read(clara, client_user):
    for n in range(3):
        services.notify(user=client_user, kind="contract", text=f"Update {n}", email=False)
    someone_else = services.notify(user=UserFactory(), kind="contract", text="Not yours", email=False)

    response = clara.post(reverse("notifications:read_all"))

    assert response.status_code == 302
    assert not Notification.objects.filter(user=client_user, read_at__isnull=True).exists()
    someone_else.refresh_from_db()
    assert someone_else.read_at is None
    assert clara.get(reverse("notifications:read_all")).status_code == 405  # a GET changes nothing


def test_the_preferences_page_shows_all_on_by_default_and_saves_changes(clara, client_user):
    page = clara.get(reverse("notifications:preferences")).content.decode()
    assert page.count("checked") == 3
    assert not EmailPreference.objects.exists()

    response = clara.post(reverse("notifications:preferences"), {"messages": "on", "reminders": "on"})

    assert response.status_code == 302
    preference = EmailPreference.objects.get(user=client_user)
    assert (preference.messages, preference.contract_updates, preference.reminders) == (True, False, True)
    assert clara.get(reverse("notifications:preferences")).content.decode().count("checked") == 2
