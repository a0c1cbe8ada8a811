"""Uploads in object storage (django-storages against an S3 API server): stored in the bucket, never on
the web host's disk, downloaded only by the people allowed, and streamed into the evidence bundle."""

import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contracts.tests.factories import make_contract
from marketplace.tests import s3_server
from marketplace.tests.factories import UserFactory
from messaging.models import Attachment
from messaging.services import message_post

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PDF = b"%PDF-1.4\n" + b"x" * 300_000 + b"\n%%EOF\n"  # several chunks


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server.s3_endpoint() as url:
        yield url


@pytest.fixture
def bucket(s3_endpoint, settings, tmp_path):
    name = s3_server.new_bucket(s3_endpoint)
    settings.MEDIA_ROOT = tmp_path / "media"  # must stay empty
    settings.STORAGES = {**settings.STORAGES, "default": s3_server.storage_settings(s3_endpoint, name)}
    return s3_server.client(s3_endpoint), name


def contract_with_a_file():
    contract = make_contract(count=1)
    files = [SimpleUploadedFile("final.pdf", PDF, content_type="application/pdf")]
    message_post(thread=contract.offer.thread, sender=contract.freelancer, body="Final files", files=files)
    return contract


def test_an_upload_is_stored_in_the_bucket_and_downloaded_only_by_the_parties(bucket, client, settings):
    s3, name = bucket
    contract = make_contract(count=1)
    thread = contract.offer.thread
    client.force_login(contract.freelancer)

    response = client.post(
        reverse("messaging:send", args=[thread.pk]),
        {"body": "The design", "files": [SimpleUploadedFile("design.pdf", PDF, content_type="application/pdf")]},
    )

    assert response.status_code == 302
    attachment = Attachment.objects.get()
    stored = s3.get_object(Bucket=name, Key=attachment.file.name)["Body"].read()
    assert stored == PDF and not (settings.MEDIA_ROOT).exists()
    url = reverse("messaging:attachment", args=[attachment.pk])

    client.force_login(contract.client)
    download = client.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert download["Content-Length"] == str(len(PDF))
    assert download["Content-Disposition"].startswith("attachment") and download["X-Content-Type-Options"] == "nosniff"

    client.force_login(UserFactory())
    assert client.get(url).status_code == 404


def test_a_private_file_has_no_public_url(bucket, s3_endpoint):
    import requests

    s3, name = bucket
    contract_with_a_file()
    key = Attachment.objects.get().file.name
    assert requests.get(f"{s3_endpoint}/{name}/{key}", timeout=5).status_code == 403


def test_the_evidence_bundle_streams_files_from_the_bucket_and_its_sums_verify(bucket, client):
    contract = contract_with_a_file()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:contracts_contract_evidence", args=[contract.pk]))

    assert response.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert PDF in [bundle.read(n) for n in bundle.namelist() if n.startswith("messages/")]
    sums = bundle.read("SHA256SUMS").decode().splitlines()
    assert len(sums) >= 5
    for line in sums:
        digest, filename = line.split("  ", 1)
        assert hashlib.sha256(bundle.read(filename)).hexdigest() == digest
