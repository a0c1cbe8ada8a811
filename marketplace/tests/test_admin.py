import pytest
from django.urls import reverse

from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:index",
        "admin:marketplace_user_changelist",
        "admin:marketplace_user_add",
        "admin:django_celery_beat_periodictask_changelist",
    ],
)
def test_staff_can_open_admin_pages(client, url_name):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert client.get(reverse(url_name)).status_code == 200


def test_staff_can_search_users_and_open_one(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    other = UserFactory(name="Findable Person")
    client.force_login(staff)

    response = client.get(reverse("admin:marketplace_user_changelist"), {"q": "Findable"})
    assert "Findable Person" in response.content.decode()
    assert client.get(reverse("admin:marketplace_user_change", args=[other.pk])).status_code == 200


def test_non_staff_cannot_open_admin(client):
    client.force_login(UserFactory())

    assert client.get(reverse("admin:index")).status_code == 302
