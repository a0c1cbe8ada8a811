"""Threads and messages for tests, made through the real services."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.tests.factories import FreelancerFactory, UserFactory
from messaging import services
from messaging.models import Message, Thread

# The smallest valid PNG: enough for the content check.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000005000155e3aa950000000049454e44ae426082"
)
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def pdf(name: str = "brief.pdf") -> SimpleUploadedFile:
    return upload(name, PDF_BYTES, "application/pdf")


def png(name: str = "logo.png") -> SimpleUploadedFile:
    return upload(name, PNG_BYTES, "image/png")


def text_file(name: str = "notes.txt", text: str = "Hello, world\n") -> SimpleUploadedFile:
    return upload(name, text.encode(), "text/plain")


def zip_bytes(files: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def make_thread(*, people=None, subject="Online shop", link_url="/contracts/1/") -> Thread:
    people = people or [UserFactory(), FreelancerFactory()]
    return services.thread_create(participants=people, subject=subject, link_url=link_url)


def post_messages(thread: Thread, sender, count: int, *, prefix="Message") -> list[Message]:
    """Messages written straight to the database: for tests that need many (no rate limit)."""
    created = []
    for n in range(1, count + 1):
        message = Message.objects.create(thread=thread, sender=sender, body=f"{prefix} {n}")
        services._touch_thread(thread, message)
        created.append(message)
    return created
