from datetime import timedelta
from functools import partial

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from marketplace.tests.factories import UserFactory
from messaging import categories, outbox, selectors, services
from messaging.categories import notification_category_register
from messaging.models import EmailPreference, Notification, OutboundEmail

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
    assert notification.email.status == "queued"  # but the email exists, in the same transaction
    for callback in callbacks:
        callback()

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["clara@example.com"]
    assert "Felix submitted work for “Designs”" in email.subject
    assert "https://milestone.example/contracts/7/" in email.body
    assert "https://milestone.example/notifications/preferences/" in email.body
    notification.refresh_from_db()
    assert notification.email.status == "sent" and notification.read_at is None


def test_a_notification_is_emailed_once_even_if_the_task_runs_again(client_user, django_capture_on_commit_callbacks):
    from messaging.tasks import deliver_email

    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notify(user=client_user, kind="reminder", text="3 days left to review")

    deliver_email.delay(notification.email_id)
    outbox.emails_send_due(now=timezone.now() + timedelta(hours=1))

    assert len(mail.outbox) == 1


def test_one_action_makes_one_email_per_recipient(client_user, freelancer, django_capture_on_commit_callbacks):
    """Funding five milestones in one charge is one email to the freelancer, not five."""
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(1, 6):
            services.notify(user=freelancer, kind="contract", text=f"Clara funded “Part {n}”", url=f"/m/{n}/")
        services.notify(user=client_user, kind="contract", text="Your payment went through")

    assert sorted(m.to[0] for m in mail.outbox) == [client_user.email, freelancer.email]
    to_felix = next(m for m in mail.outbox if m.to == [freelancer.email])
    assert to_felix.subject == "Clara funded “Part 1” (and 4 more updates)"
    assert all(f"Clara funded “Part {n}”" in to_felix.body for n in range(1, 6))
    assert Notification.objects.filter(user=freelancer).values("email").distinct().count() == 1


def test_notify_many_is_notify_for_each_in_constant_queries_and_one_delivery_task(
    client_user, freelancer, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    """A sweep's batch: the same notifications and joined emails as notify in turn, one task sends them."""
    others = [UserFactory() for _ in range(6)]
    EmailPreference.objects.create(user=others[0], email_off=["contract"])

    def items(users):
        return [
            services.NotificationItem(user=u, kind="contract", text=f"Update {n}", url="/m/1/")
            for u in users
            for n in (1, 2)
        ]

    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(8):
        services.notify_many(items=items([client_user, freelancer]))  # no email waiting yet: two new ones
    with django_capture_on_commit_callbacks(execute=True) as callbacks, django_assert_max_num_queries(8):
        services.notify_many(items=items([client_user, *others]))  # joins Clara's waiting email

    tasks = [c.args[0].name for c in callbacks if isinstance(c, partial)]  # the others drop cached pages
    assert tasks == ["messaging.tasks.deliver_emails"]  # the five new emails
    assert Notification.objects.count() == 2 * 2 + 7 * 2
    clara = OutboundEmail.objects.get(to_email=client_user.email)
    assert clara.subject == "Update 1 (and 3 more updates)"
    assert Notification.objects.filter(user=client_user, email=clara).count() == 4
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in others[1:])  # others[0] switched off
    assert all(m.subject == "Update 1 (and 1 more update)" for m in mail.outbox)
    assert not Notification.objects.filter(user=others[0], email__isnull=False).exists()


def test_the_next_action_makes_a_new_email(client_user, django_capture_on_commit_callbacks):
    for text in ("First", "Second"):
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(user=client_user, kind="contract", text=text)

    assert [m.subject for m in mail.outbox] == ["First", "Second"]


def test_a_rolled_back_action_sends_nothing(client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.notify(user=client_user, kind="contract", text="Never happened")
        raise RuntimeError("the action failed")

    assert mail.outbox == [] and not OutboundEmail.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize("kind", ["message", "contract", "reminder"])
def test_preferences_turn_off_each_kind_of_email(client_user, django_capture_on_commit_callbacks, kind):
    services.email_preferences_update(user=client_user, emails_on={"message": True, "contract": True, kind: False})

    for each in ("message", "contract", "reminder"):
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(user=client_user, kind=each, text=f"Also {each}")

    others = [k for k in ("message", "contract", "reminder") if k != kind]
    assert sorted(m.subject.split("Also ")[-1] for m in mail.outbox) == sorted(others)
    assert Notification.objects.filter(user=client_user).count() == 3  # in-app they are all there


def test_an_unregistered_kind_is_refused(client_user):
    with pytest.raises(ValueError, match="Unknown notification category 'payout'"):
        services.notify(user=client_user, kind="payout", text="Paid")


def test_a_registered_category_needs_no_migration_and_gets_a_switch(
    clara, client_user, django_capture_on_commit_callbacks
):
    notification_category_register("test_payout", "Payouts", help_text="When money reaches your bank.")
    try:
        page = clara.get(reverse("notifications:preferences")).content.decode()
        assert "Payouts" in page and "When money reaches your bank." in page
        clara.post(reverse("notifications:preferences"), {"message": "on", "contract": "on", "reminder": "on"})
        with django_capture_on_commit_callbacks(execute=True):
            notification = services.notify(user=client_user, kind="test_payout", text="$90.00 is on its way")
        assert notification.category_label == "Payouts" and notification.email is None and mail.outbox == []
        with pytest.raises(ValueError, match="already registered differently"):
            notification_category_register("test_payout", "Something else")
    finally:
        categories._CATEGORIES.pop("test_payout")


def test_a_category_without_a_switch_is_always_emailed(client_user, django_capture_on_commit_callbacks):
    notification_category_register("test_security", "Security", email_preference=False)
    try:
        services.email_preferences_update(user=client_user, emails_on={"test_security": False, "contract": False})
        with django_capture_on_commit_callbacks(execute=True):
            services.notify(user=client_user, kind="test_security", text="New sign-in")
        assert [m.subject for m in mail.outbox] == ["New sign-in"]
    finally:
        categories._CATEGORIES.pop("test_security")


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

    response = clara.post(reverse("notifications:preferences"), {"message": "on", "reminder": "on"})

    assert response.status_code == 302
    preference = EmailPreference.objects.get(user=client_user)
    assert preference.email_off == ["contract"]
    assert clara.get(reverse("notifications:preferences")).content.decode().count("checked") == 2


@pytest.mark.django_db(transaction=True)
def test_notify_outside_a_transaction_is_its_own_and_emails_once(client_user):
    """A sweep may notify in autocommit mode: the notification and its email still commit together."""
    notification = services.notify(user=client_user, kind="contract", text="Released automatically")

    assert [m.subject for m in mail.outbox] == ["Released automatically"]
    notification.refresh_from_db()
    assert notification.email.status == "sent"
