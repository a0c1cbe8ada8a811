"""Validating and serving user uploads (message attachments, submitted work).

An upload is accepted only when its extension is on the allowlist AND its content matches that
extension: binary formats by their magic bytes (the `filetype` library), text formats by decoding
as UTF-8. Types that browsers render or run (HTML, SVG, XML, JavaScript, ...) and executables are
never on the list. Names are sanitised before they are stored or shown; the storage path never
contains them. Files are served only as downloads (`Content-Disposition: attachment`, `nosniff`).

Validation reads each file once, in chunks, computing its SHA-256 on the way; nothing is written.
"""

import codecs
import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse

SNIFF_BYTES = 8192  # what `filetype` needs to recognise every format it knows
MAX_NAME_LENGTH = 120


@dataclass(frozen=True)
class FileKind:
    label: str  # "does not look like a {label}"
    content_type: str  # what the download is served as
    detected: frozenset[str] = frozenset()  # `filetype` extensions the content may be recognised as
    text: bool = False  # checked as UTF-8 text instead of by magic bytes


def _kind(label, content_type, *detected, text=False) -> FileKind:
    return FileKind(label, content_type, frozenset(detected), text)


# Zip containers: Office/OpenDocument files are zips, and `filetype` recognises them as either.
_ZIP_FAMILY = ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub")
_OLE = ("doc", "xls", "ppt")  # legacy Office files share one container format

ALLOWED_TYPES: dict[str, FileKind] = {
    # documents
    "pdf": _kind("PDF file", "application/pdf", "pdf"),
    "doc": _kind("Word document", "application/msword", *_OLE),
    "docx": _kind(
        "Word document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", *_ZIP_FAMILY
    ),
    "xls": _kind("Excel spreadsheet", "application/vnd.ms-excel", *_OLE),
    "xlsx": _kind(
        "Excel spreadsheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", *_ZIP_FAMILY
    ),
    "ppt": _kind("PowerPoint presentation", "application/vnd.ms-powerpoint", *_OLE),
    "pptx": _kind(
        "PowerPoint presentation",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        *_ZIP_FAMILY,
    ),
    "odt": _kind("OpenDocument text", "application/vnd.oasis.opendocument.text", *_ZIP_FAMILY),
    "ods": _kind("OpenDocument spreadsheet", "application/vnd.oasis.opendocument.spreadsheet", *_ZIP_FAMILY),
    "odp": _kind("OpenDocument presentation", "application/vnd.oasis.opendocument.presentation", *_ZIP_FAMILY),
    "rtf": _kind("RTF document", "application/rtf", "rtf"),
    "epub": _kind("EPUB book", "application/epub+zip", *_ZIP_FAMILY),
    # plain text
    "txt": _kind("text file", "text/plain; charset=utf-8", text=True),
    "md": _kind("text file", "text/markdown; charset=utf-8", text=True),
    "csv": _kind("CSV file", "text/csv; charset=utf-8", text=True),
    "tsv": _kind("TSV file", "text/tab-separated-values; charset=utf-8", text=True),
    # images (no SVG: it is a document that can run scripts)
    "png": _kind("PNG image", "image/png", "png", "apng"),
    "jpg": _kind("JPEG image", "image/jpeg", "jpg"),
    "jpeg": _kind("JPEG image", "image/jpeg", "jpg"),
    "gif": _kind("GIF image", "image/gif", "gif"),
    "webp": _kind("WebP image", "image/webp", "webp"),
    "heic": _kind("HEIC image", "image/heic", "heic"),
    "tif": _kind("TIFF image", "image/tiff", "tif"),
    "tiff": _kind("TIFF image", "image/tiff", "tif"),
    "psd": _kind("Photoshop file", "image/vnd.adobe.photoshop", "psd"),
    # archives
    "zip": _kind("ZIP archive", "application/zip", *_ZIP_FAMILY),
    "7z": _kind("7-Zip archive", "application/x-7z-compressed", "7z"),
    "gz": _kind("gzip archive", "application/gzip", "gz"),
    "tgz": _kind("gzip archive", "application/gzip", "gz"),
    "tar": _kind("tar archive", "application/x-tar", "tar"),
    "rar": _kind("RAR archive", "application/vnd.rar", "rar"),
    # audio and video
    "mp3": _kind("MP3 file", "audio/mpeg", "mp3"),
    "wav": _kind("WAV file", "audio/wav", "wav"),
    "m4a": _kind("M4A file", "audio/mp4", "m4a", "mp4"),
    "ogg": _kind("Ogg file", "audio/ogg", "ogg"),
    "mp4": _kind("MP4 video", "video/mp4", "mp4", "m4v", "m4a", "mov"),
    "mov": _kind("QuickTime video", "video/quicktime", "mov", "mp4"),
    "webm": _kind("WebM video", "video/webm", "webm", "mkv"),
}


@dataclass(frozen=True)
class ValidatedUpload:
    """What validation learned about an accepted file. `file` is the upload itself, rewound."""

    name: str  # sanitised, safe to store and show
    content_type: str
    size: int
    sha256: str
    file: object = field(default=None, compare=False, repr=False)


def megabytes(size: int) -> str:
    """25 MB, 1.5 MB, 300 KB: a limit as people read it."""
    if size >= 1024 * 1024:
        mb = size / (1024 * 1024)
        return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


_UNSAFE_CHARACTERS = re.compile(r"[^\w\-. ()+,&@=\[\]]")


def sanitize_filename(name: str) -> str:
    """A display/download name safe anywhere: no folders, no control or format characters
    (e.g. right-to-left overrides), no quotes or markup characters, at most MAX_NAME_LENGTH long,
    extension kept. Unicode letters are kept. Returns "file" when nothing usable is left."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]  # the last path segment, whichever separator the client used
    name = "".join(
        " " if unicodedata.category(ch).startswith("Z") else ch
        for ch in name
        if not unicodedata.category(ch).startswith("C")  # control, format (bidi overrides), unassigned
    )
    name = _UNSAFE_CHARACTERS.sub("_", name)
    name = re.sub(r"_{2,}", "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")  # no leading dots (hidden files, "..") or trailing dots
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    extension = extension[:10]
    stem = stem.strip(" ._") or "file"
    stem = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(" .")
    return f"{stem}.{extension}" if extension else stem


def extension_of(name: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".")


def _scan(file, kind: FileKind) -> tuple[str, bytes, bool]:
    """Read the file once in chunks: its SHA-256, its first bytes and (for text) whether it is UTF-8."""
    digest = hashlib.sha256()
    head = b""
    decoder = codecs.getincrementaldecoder("utf-8")("strict") if kind.text else None
    is_text = True
    file.seek(0)
    for chunk in file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(64 * 1024), b""):
        digest.update(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        if decoder is not None and is_text:
            if b"\x00" in chunk:
                is_text = False
            else:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    is_text = False
    if decoder is not None and is_text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_text = False
    file.seek(0)
    return digest.hexdigest(), head, is_text


def _size_of(file) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
        file.seek(0)
    return size


def validate_upload(file) -> ValidatedUpload:
    """Check one uploaded file (a Django `UploadedFile` or `File`). Raises ValidationError with a
    message that names the file; returns what is needed to store it. Writes nothing."""
    name = sanitize_filename(getattr(file, "name", "") or "")
    extension = extension_of(name)
    kind = ALLOWED_TYPES.get(extension)
    if kind is None:
        raise ValidationError(f"“{name}”: this file type is not allowed.", code="file_type")
    size = _size_of(file)
    if size > settings.UPLOAD_MAX_FILE_BYTES:
        raise ValidationError(
            f"“{name}” is larger than {megabytes(settings.UPLOAD_MAX_FILE_BYTES)}.", code="file_too_large"
        )
    if size == 0:
        raise ValidationError(f"“{name}” is empty.", code="file_empty")
    sha256, head, is_text = _scan(file, kind)
    if kind.text:
        matches = is_text
    else:
        guess = filetype.guess(head)
        matches = guess is not None and guess.extension in kind.detected
    if not matches:
        article = "an" if kind.label[0].lower() in "aeiou" else "a"
        raise ValidationError(f"“{name}” does not look like {article} {kind.label}.", code="file_content")
    return ValidatedUpload(name=name, content_type=kind.content_type, size=size, sha256=sha256, file=file)


def validate_uploads(files: Iterable) -> list[ValidatedUpload]:
    """Check several files together: each one, their number and their total size. Every problem
    is reported at once (one message per file), and nothing is accepted unless all files are."""
    files = [f for f in files if f]
    if len(files) > settings.UPLOAD_MAX_FILES:
        raise ValidationError(f"Attach at most {settings.UPLOAD_MAX_FILES} files at a time.", code="too_many_files")
    accepted, errors = [], []
    for file in files:
        try:
            accepted.append(validate_upload(file))
        except ValidationError as error:
            errors.extend(error.error_list)
    if errors:
        raise ValidationError(errors)
    if sum(upload.size for upload in accepted) > settings.UPLOAD_MAX_TOTAL_BYTES:
        raise ValidationError(
            f"These files add up to more than {megabytes(settings.UPLOAD_MAX_TOTAL_BYTES)}. Send them in parts.",
            code="total_too_large",
        )
    return accepted


def open_stream(file_field):
    """A stored file opened for reading in chunks, wherever it is stored.

    On the local disk, the file itself. In object storage (django-storages' S3 backend), the object's
    HTTP body straight from the S3 API: django-storages' own file object would first copy the whole object
    into memory or a temporary file, which a large download or the evidence bundle must not do."""
    storage = file_field.storage
    bucket = getattr(storage, "bucket_name", None)
    if not bucket:
        return file_field.open("rb")
    key = posixpath.join(storage.location, file_field.name) if storage.location else file_field.name
    return storage.connection.meta.client.get_object(Bucket=bucket, Key=key)["Body"]


def serve_upload(file_field, download_name: str) -> FileResponse:
    """Send a stored upload as a download, streamed in chunks from storage (the caller has checked that
    the user may see it). The browser is told not to render it or guess its type."""
    name = sanitize_filename(download_name)
    kind = ALLOWED_TYPES.get(extension_of(name))
    content_type = kind.content_type if kind else "application/octet-stream"
    response = FileResponse(open_stream(file_field), as_attachment=True, filename=name, content_type=content_type)
    if "Content-Length" not in response:  # the S3 body does not know its size; the storage does
        response["Content-Length"] = str(file_field.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@contextmanager
def files_removed_on_failure(storage=None):
    """Yield a list; names of files saved into it are deleted again if the block fails.

    Wrap the transaction that saves uploads: when it rolls back, the rows that pointed at the files
    are gone, and so are the files — none is left orphaned in storage.
    """
    saved: list[str] = []
    try:
        yield saved
    except BaseException:
        for name in saved:
            (storage or default_storage).delete(name)
        raise
