"""Staff read feedback, private notes included, and change nothing."""

import pytest
from django.urls import reverse

from feedback.models import Role
from feedback.tests.factories import ended_contract, leave
from marketplace.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_staff_read_feedback_with_the_private_note_and_cannot_change_it(client):
    feedback = leave(ended_contract(), Role.CLIENT, comment="Public words", note="Only for staff")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    body = client.get(reverse("admin:feedback_feedback_change", args=[feedback.pk])).content.decode()
    assert "Public words" in body and "Only for staff" in body
    assert 'name="_save"' not in body
    window_page = client.get(reverse("admin:feedback_feedbackwindow_change", args=[feedback.window_id]))
    assert "Only for staff" in window_page.content.decode()
    assert client.get(reverse("admin:feedback_feedback_add")).status_code == 403
    assert (
        client.post(reverse("admin:feedback_feedback_delete", args=[feedback.pk]), {"post": "yes"}).status_code == 403
    )
    assert client.get(reverse("admin:feedback_freelancerrating_changelist")).status_code == 200
