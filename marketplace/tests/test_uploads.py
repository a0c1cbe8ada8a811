import contextlib
import hashlib
import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.db.models import FileField
from django.db.models.fields.files import FieldFile

from marketplace.uploads import sanitize_filename, serve_upload, validate_upload, validate_uploads

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000005000155e3aa950000000049454e44ae426082"
)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_bytes():
    return zipped(
        {
            "[Content_Types].xml": "<Types/>",
            "_rels/.rels": "<Relationships/>",
            "word/document.xml": "<w:document/>",
        }
    )


def refusal(file) -> str:
    with pytest.raises(ValidationError) as error:
        validate_upload(file)
    return " ".join(error.value.messages)


# --- accepted files ---


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("report.pdf", PDF, "application/pdf"),
        ("Logo.PNG", PNG, "image/png"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("notes.txt", "Grüße — naïve café ✓\n".encode(), "text/plain; charset=utf-8"),
        ("README.md", b"# Title\n\n* item\n", "text/markdown; charset=utf-8"),
        ("prices.csv", b"item,price\nlogo,300.00\n", "text/csv; charset=utf-8"),
        ("bundle.zip", zipped({"a.txt": "a"}), "application/zip"),
        (
            "contract.docx",
            docx_bytes(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_allowed_types_whose_content_matches_are_accepted(name, content, content_type):
    result = validate_upload(upload(name, content))

    assert result.name == name
    assert result.content_type == content_type
    assert result.size == len(content)
    assert result.sha256 == hashlib.sha256(content).hexdigest()


def test_the_hash_is_computed_over_every_chunk_of_a_large_file(settings):
    settings.UPLOAD_MAX_FILE_BYTES = 25 * 1024 * 1024
    content = PDF + bytes(range(256)) * 40_000  # ~10 MB, many chunks
    file = TemporaryUploadedFile("big.pdf", "application/pdf", len(content), None)
    file.write(content)
    file.seek(0)

    result = validate_upload(file)

    assert result.sha256 == hashlib.sha256(content).hexdigest()
    assert result.size == len(content)
    assert file.tell() == 0  # rewound, ready to be stored
    file.close()


def test_a_utf8_byte_order_mark_is_fine_in_text_files():
    assert validate_upload(upload("data.csv", b"\xef\xbb\xbfa,b\n1,2\n")).content_type.startswith("text/csv")


# --- refused files ---


@pytest.mark.parametrize(
    "name",
    [
        "setup.exe",
        "run.bat",
        "install.sh",
        "page.html",
        "page.htm",
        "page.xhtml",
        "logo.svg",
        "app.js",
        "data.xml",
        "script.py",
        "noextension",
        ".htaccess",
        "invoice.pdf.exe",
    ],
)
def test_types_not_on_the_allowlist_are_refused(name):
    assert refusal(upload(name, b"hello")) == f"“{sanitize_filename(name)}”: this file type is not allowed."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.pdf", b"<html><script>alert(1)</script></html>", "“report.pdf” does not look like a PDF file."),
        ("report.pdf", EXE, "“report.pdf” does not look like a PDF file."),
        ("photo.png", JPEG, "“photo.png” does not look like a PNG image."),
        ("photo.jpg", b"<svg onload=alert(1)>", "“photo.jpg” does not look like a JPEG image."),
        ("notes.txt", EXE, "“notes.txt” does not look like a text file."),
        ("notes.txt", b"caf\xe9 latin-1", "“notes.txt” does not look like a text file."),
        ("table.csv", PNG, "“table.csv” does not look like a CSV file."),
        ("archive.zip", PDF, "“archive.zip” does not look like a ZIP archive."),
        ("letter.docx", PDF, "“letter.docx” does not look like a Word document."),
    ],
)
def test_content_that_does_not_match_its_extension_is_refused(name, content, message):
    assert refusal(upload(name, content)) == message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(settings):
    settings.UPLOAD_MAX_FILE_BYTES = 25 * 1024 * 1024

    class Huge:
        name = "big.zip"
        size = 25 * 1024 * 1024 + 1

        def seek(self, *args):
            raise AssertionError("the file was read: the size alone should decide")

        chunks = read = seek

    assert refusal(Huge()) == "“big.zip” is larger than 25 MB."


def test_an_empty_file_is_refused():
    assert refusal(upload("empty.pdf", b"")) == "“empty.pdf” is empty."


def test_several_files_are_checked_together_and_every_problem_is_reported(settings):
    with pytest.raises(ValidationError) as error:
        validate_uploads([upload("ok.pdf", PDF), upload("bad.exe", EXE), upload("fake.png", PDF)])

    assert error.value.messages == [
        "“bad.exe”: this file type is not allowed.",
        "“fake.png” does not look like a PNG image.",
    ]


def test_the_total_size_is_limited(settings):
    settings.UPLOAD_MAX_FILE_BYTES = 1000
    settings.UPLOAD_MAX_TOTAL_BYTES = 1500
    files = [upload(f"part{n}.pdf", PDF + b"x" * (700 - len(PDF))) for n in range(3)]

    with pytest.raises(ValidationError) as error:
        validate_uploads(files)

    assert error.value.messages == ["These files add up to more than 1 KB. Send them in parts."]
    assert len(validate_uploads(files[:2])) == 2


def test_the_number_of_files_is_limited(settings):
    settings.UPLOAD_MAX_FILES = 2

    with pytest.raises(ValidationError, match="at most 2 files"):
        validate_uploads([upload(f"{n}.pdf", PDF) for n in range(3)])


def test_validation_writes_nothing(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    for file in (upload("x.exe", EXE), upload("x.pdf", EXE), upload("ok.pdf", PDF)):
        with contextlib.suppress(ValidationError):
            validate_upload(file)

    assert list(tmp_path.iterdir()) == []


# --- names ---


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ('my "best" file.pdf', "my _best_ file.pdf"),
        ("it's.pdf", "it_s.pdf"),
        ("<script>alert(1)</script>.pdf", "script.pdf"),  # "/" splits: only "script>.pdf" is left
        ("<img src=x onerror=alert(1)>.pdf", "img src=x onerror=alert(1).pdf"),
        ("résumé été.pdf", "résumé été.pdf"),
        ("报告 最终版.pdf", "报告 最终版.pdf"),
        ("harmless\u202efdp.exe", "harmlessfdp.exe"),  # right-to-left override removed
        ("tab\there\nnew.pdf", "tabherenew.pdf"),
        ("  ...hidden.pdf  ", "hidden.pdf"),
        ("", "file"),
        ("...", "file"),
        (".pdf", "pdf"),
    ],
)
def test_names_are_sanitised(raw, clean):
    assert sanitize_filename(raw) == clean


def test_very_long_names_are_shortened_and_keep_their_extension():
    name = sanitize_filename("a" * 500 + ".pdf")

    assert len(name) == 120
    assert name.endswith("aaa.pdf")


def test_a_hostile_name_is_sanitised_in_the_result_and_in_messages():
    result = validate_upload(upload("<b onmouseover='x'>report</b>.pdf", PDF))
    assert result.name == "b.pdf"
    assert validate_upload(upload("<i>report<i>.pdf", PDF)).name == "i_report_i.pdf"

    message = refusal(upload("../<script>.svg", b"<svg/>"))
    assert "<" not in message and "/" not in message


# --- serving ---


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("report.pdf", "application/pdf"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("page.html", "application/octet-stream"),  # never rendered, whatever got stored
        ("résumé.pdf", "application/pdf"),
    ],
)
def test_files_are_served_as_downloads_the_browser_does_not_sniff(tmp_path, name, content_type):
    storage = FileSystemStorage(location=tmp_path)
    stored = storage.save("random-token", ContentFile(b"content"))
    field_file = FieldFile(None, FileField(storage=storage), stored)

    response = serve_upload(field_file, name)

    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"content"
    response.file_to_stream.close()  # not response.close(): that signals request_finished, which touches the DB


def test_the_download_name_is_sanitised_and_encoded(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    field_file = FieldFile(None, FileField(storage=storage), storage.save("t", ContentFile(b"x")))

    response = serve_upload(field_file, 'x"; filename="evil.html')
    disposition = response["Content-Disposition"]
    response.file_to_stream.close()  # not response.close(): that signals request_finished, which touches the DB

    assert disposition == 'attachment; filename="x_ filename=_evil.html"'  # one quoted name, no injection
