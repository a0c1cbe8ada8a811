"""The site as production runs it, on one machine: two web processes (gunicorn), two Celery workers and one
beat, against PostgreSQL, Redis and an S3 API server.

- A file uploaded through web 1 downloads through web 2 (and not for an outsider).
- Beat's release sweep finds SCALE_OUT_MILESTONES overdue milestones (2,000 by default); one worker is
  SIGKILLed in the middle of it and the other finishes: every milestone released once, the ledger audit clean.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import requests
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from contracts.models import Milestone, Submission
from contracts.tests.factories import fund_milestones, make_contract
from escrow.models import Entry
from escrow.tests.helpers import assert_ledger_consistent
from marketplace.tests import s3_server
from marketplace.tests.celery_processes import (
    ROOT,
    background_process,
    beat_args,
    celery_process,
    django_env,
    only_the_release_sweep,
    wait_for,
    worker_args,
)
from marketplace.tests.factories import FreelancerFactory, UserFactory
from marketplace.tests.redis_server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MILESTONES = int(os.environ.get("SCALE_OUT_MILESTONES", "2000"))
PER_CONTRACT = 50  # the most one offer may have
PDF = b"%PDF-1.4\n" + os.urandom(200_000) + b"\n%%EOF\n"


def overdue_milestones(count: int) -> list[int]:
    """`count` funded milestones whose submitted work's review period ended a minute ago."""
    client, freelancer = UserFactory(), FreelancerFactory()
    ids = []
    while len(ids) < count:
        contract = make_contract(client=client, freelancer=freelancer, count=min(PER_CONTRACT, count - len(ids)))
        milestones = list(contract.milestones.all())
        fund_milestones(contract, *milestones)
        ids += [m.pk for m in milestones]
    Milestone.objects.filter(pk__in=ids).update(state=Milestone.State.SUBMITTED)  # as milestone_submit leaves it
    deadline = timezone.now() - timedelta(minutes=1)
    Submission.objects.bulk_create(
        Submission(milestone_id=pk, number=1, submitted_by=freelancer, message="Done", review_deadline=deadline)
        for pk in ids
    )
    return ids


def web_session(base_url: str, user) -> requests.Session:
    """A browser session for `user` (logged in through the shared session table)."""
    django_client = Client()
    django_client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", django_client.cookies["sessionid"].value)
    session.get(f"{base_url}/dashboard/", timeout=30)  # sets the CSRF cookie
    return session


def test_two_webs_two_workers_and_beat(tmp_path):
    with s3_server.s3_endpoint() as endpoint:
        bucket = s3_server.new_bucket(endpoint)
        storage_env = {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_S3_REGION_NAME": "us-east-1",
        }
        queue = f"test-{uuid.uuid4().hex}"
        env = django_env(queue, **storage_env)
        ports = [free_port(), free_port()]
        logs = {name: tmp_path / f"{name}.log" for name in ("web1", "web2", "worker1", "worker2", "beat")}

        def explain():
            return "\n".join(f"--- {n}:\n{p.read_text()[-3000:]}" for n, p in logs.items() if p.exists())

        def gunicorn(port, name):
            command = [sys.executable, "-m", "gunicorn", "marketplace.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
            return background_process(*command, env=env, log_path=logs[name])

        with gunicorn(ports[0], "web1"), gunicorn(ports[1], "web2"):
            web1, web2 = (f"http://127.0.0.1:{port}" for port in ports)
            try:
                for url in (web1, web2):
                    wait_for(lambda u=url: _answers(f"{u}/healthz"), timeout=120, what=f"{url} to start")
                _file_uploaded_on_one_web_downloads_on_the_other(web1, web2)
            except AssertionError as error:
                raise AssertionError(f"{error}\n{explain()}") from None

        ids = overdue_milestones(MILESTONES)
        only_the_release_sweep(every_seconds=2)

        def released():
            return Milestone.objects.filter(pk__in=ids, state=Milestone.State.RELEASED).count()

        started = time.monotonic()
        with (
            celery_process(*worker_args(queue, "-n", "one@%h"), env=env, log_path=logs["worker1"]) as first,
            celery_process(*worker_args(queue, "-n", "two@%h"), env=env, log_path=logs["worker2"]),
            celery_process(*beat_args(tmp_path / "beat-schedule"), env=env, log_path=logs["beat"]),
        ):
            try:
                wait_for(lambda: released() >= min(100, MILESTONES // 4), timeout=300, interval=1, what="sweep start")
                first.send_signal(signal.SIGKILL)  # in the middle of the sweep
                killed_at = released()
                wait_for(lambda: released() == MILESTONES, timeout=1200, interval=2, what="every milestone released")
            except AssertionError as error:
                raise AssertionError(f"{error}: {released()} of {MILESTONES} released\n{explain()}") from None
        elapsed = time.monotonic() - started
        print(f"\nreleased {MILESTONES} milestones in {elapsed:.0f}s; worker 1 killed after {killed_at}")
        assert 0 < killed_at < MILESTONES

    releases = Entry.objects.filter(kind=Entry.Kind.RELEASE, hold__reference__in=[f"milestone:{i}" for i in ids])
    assert releases.count() == MILESTONES
    assert not releases.values("hold").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert_ledger_consistent()
    audit = subprocess.run(
        [sys.executable, "manage.py", "escrow_audit"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.test_settings", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still starting up
        return False


def _file_uploaded_on_one_web_downloads_on_the_other(web1: str, web2: str) -> None:
    contract = make_contract(count=1)
    thread = contract.offer.thread
    freelancer = web_session(web1, contract.freelancer)
    sent = freelancer.post(
        f"{web1}/messages/{thread.pk}/send/",
        data={"body": "The design", "csrfmiddlewaretoken": freelancer.cookies["csrftoken"]},
        files={"files": ("design.pdf", PDF, "application/pdf")},
        headers={"Referer": f"{web1}/messages/{thread.pk}/"},
        allow_redirects=False,
        timeout=30,
    )
    assert sent.status_code == 302, sent.text[:2000]
    page = freelancer.get(f"{web1}/messages/{thread.pk}/", timeout=30).text
    attachment_url = re.search(r'href="(/messages/files/\d+/)"', page).group(1)

    client = web_session(web2, contract.client)
    download = client.get(f"{web2}{attachment_url}", timeout=30)
    assert download.status_code == 200 and download.content == PDF
    outsider = web_session(web2, UserFactory())
    assert outsider.get(f"{web2}{attachment_url}", timeout=30).status_code == 404
