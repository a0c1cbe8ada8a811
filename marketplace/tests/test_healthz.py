from unittest import mock

import pytest
from django.db import OperationalError
from django.urls import reverse
from kombu import Connection

from marketplace.celery import app as celery_app


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_ok(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client, monkeypatch):
    unreachable = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    monkeypatch.setattr(celery_app, "connection_for_write", lambda: Connection(unreachable))

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "unavailable"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client):
    with mock.patch("marketplace.health.connection.cursor", side_effect=OperationalError("down")):
        response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
