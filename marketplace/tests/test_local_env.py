"""`make run` writes the development settings every README command needs, with email links on its PORT."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra) -> dict[str, str]:
    """The environment of a fresh shell in a fresh clone: none of the project's variables set."""
    drop = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "SITE_URL", "DATABASE_URL"}
    return {**{k: v for k, v in os.environ.items() if k not in drop and not k.startswith("CELERY")}, **extra}


@pytest.mark.django_db
def test_readme_commands_work_after_make_run_with_links_on_its_port(tmp_path):
    local_env = tmp_path / "make-run.env"
    subprocess.run(
        ["make", "-s", "local-env", "PORT=9123", f"LOCAL_ENV_FILE={local_env}"], cwd=ROOT, check=True, timeout=60
    )
    db = connection.settings_dict
    env = clean_env(
        LOCAL_ENV_FILE=str(local_env),
        # The test database instead of the SQLite default, so nothing in var/ is touched.
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    shown = manage(
        "shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG, settings.SITE_URL)"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["True", "http://127.0.0.1:9123"]
    audit = manage("escrow_audit")
    assert audit.returncode == 0, audit.stderr
    assert "SECRET_KEY" not in audit.stderr
    assert manage("createsuperuser", "--help").returncode == 0


def test_without_make_run_a_production_process_still_refuses_to_start_without_a_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean_env(LOCAL_ENV_FILE=str(tmp_path / "absent.env")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_email_links_use_site_url(settings):
    from messaging.services import absolute_url

    settings.SITE_URL = "http://127.0.0.1:9123"
    assert absolute_url("/contracts/7/") == "http://127.0.0.1:9123/contracts/7/"
