import pytest
from django.urls import reverse

from marketplace.tests.factories import UserFactory
from messaging import services
from messaging.tests.factories import make_thread, pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def thread(client_user, freelancer):
    thread = make_thread(people=[client_user, freelancer], subject="Online shop")
    services.message_post(thread=thread, sender=freelancer, body="The designs are attached", files=[pdf("designs.pdf")])
    services.event_post(thread=thread, text="Clara Client funded “Designs” ($300.00)", actor=client_user)
    return thread


def test_staff_search_threads_by_subject_and_participant_email(staff_client, thread):
    make_thread(subject="Something else")
    url = reverse("admin:messaging_thread_changelist")

    for query in ("Online", "felix@example.com"):
        page = staff_client.get(url, {"q": query}).content.decode()
        assert "Online shop" in page and "Something else" not in page, query


def test_staff_search_messages_by_body(staff_client, thread):
    page = staff_client.get(reverse("admin:messaging_message_changelist"), {"q": "designs are"}).content.decode()

    assert "The designs are attached" in page
    assert "funded" not in page


def test_a_thread_in_admin_shows_its_messages_and_files_read_only(staff_client, thread):
    response = staff_client.get(reverse("admin:messaging_thread_change", args=[thread.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "The designs are attached" in page and "funded “Designs”" in page
    attachment = thread.messages.first().attachments.get()
    assert reverse("messaging:attachment", args=[attachment.pk]) in page
    assert 'name="messages-0-body"' not in page  # nothing editable
    assert 'type="submit" value="Save"' not in page


def test_nothing_can_be_added_changed_or_deleted_in_admin(staff_client, thread):
    message = thread.messages.first()

    assert staff_client.get(reverse("admin:messaging_thread_add")).status_code == 403
    assert staff_client.get(reverse("admin:messaging_message_add")).status_code == 403
    assert staff_client.get(reverse("admin:messaging_message_delete", args=[message.pk])).status_code == 403
    response = staff_client.post(reverse("admin:messaging_message_change", args=[message.pk]), {"body": "Edited"})
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.body == "The designs are attached"


def test_other_lists_open(staff_client, thread, client_user):
    services.notify(user=client_user, kind="contract", text="Hello", email=False)
    for name in ("notification", "emailpreference", "message"):
        assert staff_client.get(reverse(f"admin:messaging_{name}_changelist")).status_code == 200
