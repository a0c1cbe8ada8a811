import pytest
from django.core.management import call_command

from marketplace.demo import DEMO_PASSWORD, DEMO_USERS
from marketplace.models import User


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_logins_work(client):
    call_command("seed_demo")
    call_command("seed_demo")

    assert User.objects.count() == len(DEMO_USERS)
    for fields in DEMO_USERS:
        assert client.login(username=fields["email"], password=DEMO_PASSWORD)
    assert User.objects.get(email="admin@demo.test").is_staff
