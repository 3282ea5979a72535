"""Uploaded files vetted before any ingest: name, size, type by extension and by content.

A file name is never a path: names with folders are refused, and an accepted file is stored
as a content-addressed copy, ``KB/sources/<sha256>/<name>``, with its sidecar beside it
under the name ingest.metadata looks for (``<stem>.meta.json``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pypdfium2

from api.settings import Settings
from ingest.metadata import SIDECAR_FIELDS
from ingest.models import Level
from ingest.readers import SUFFIXES
from ingest.readers.base import IngestError
from ingest.readers.plain import decode
from ingest.validity import SIDECAR_FIELDS as VALIDITY_FIELDS

SIDECAR_SUFFIX = ".meta.json"
MAX_NAME_BYTES = 200  # in UTF-8: a file system takes 255 a name
MAX_SIDECAR_BYTES = 64 * 1024
MB = 1024 * 1024
_TEXT = {".txt", ".md", ".markdown"}
_HTML = {".html", ".htm", ".shtml", ".xhtml"}
_OLE = {".doc", ".wps"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TAG = re.compile(rb"<(?:!doctype|[a-z][a-z0-9]*)[\s>/]", re.IGNORECASE)


@dataclass(frozen=True)
class UploadLimits:
    """How big and how many: from the settings, in bytes."""

    file_bytes: int
    files: int
    pdf_pages: int
    unzipped_bytes: int
    zip_entries: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(int(settings.max_upload_mb * MB), settings.max_upload_files,
                   settings.max_pdf_pages, int(settings.max_unzipped_mb * MB),
                   settings.max_zip_entries)  # fmt: skip


@dataclass(frozen=True)
class Incoming:
    """One file as the client sent it; ``oversized`` when it was cut at the size limit."""

    name: str
    data: bytes
    oversized: bool = False


@dataclass(frozen=True)
class Rejection:
    """A file refused, why, and the HTTP status that fits (413 size, 415 type, 422 content)."""

    file: str
    reason: str
    status: int = 422

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Accepted:
    """A document that passed every check, with its sidecar's bytes when one came with it."""

    name: str
    data: bytes
    sidecar: bytes | None = None


@dataclass
class Vetted:
    """An upload sorted into the documents to ingest and the files refused."""

    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class Refusal(Exception):
    """Raised by a check: becomes a Rejection of the file being checked."""

    def __init__(self, reason: str, status: int = 422):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def vet(files: list[Incoming], limits: UploadLimits) -> Vetted:
    """Check every file; documents and sidecars are paired by name (X.txt, X.meta.json)."""
    vetted = Vetted()
    named: dict[str, Incoming] = {}
    for incoming in files:
        try:
            _check_name(incoming.name, named)
            _check_size(incoming, limits)
        except Refusal as refusal:
            vetted.rejected.append(Rejection(incoming.name, refusal.reason, refusal.status))
            continue
        named[incoming.name] = incoming
    sidecars = {n[: -len(SIDECAR_SUFFIX)]: f for n, f in named.items() if _is_sidecar(n)}
    documents = [f for n, f in named.items() if not _is_sidecar(n)]
    for document in documents:
        sidecar = sidecars.pop(Path(document.name).stem, None)
        _vet_document(document, sidecar, limits, vetted)
    for stem, sidecar in sidecars.items():
        reason = f"sidecar without its document: no {stem}.* in this upload"
        vetted.rejected.append(Rejection(sidecar.name, reason))
    return vetted


def _vet_document(
    document: Incoming, sidecar: Incoming | None, limits: UploadLimits, vetted: Vetted
) -> None:
    try:
        if sidecar is not None:
            _check_sidecar(sidecar.data)
    except Refusal as refusal:
        reason = f"its sidecar {sidecar.name} is refused: {refusal.reason}"
        vetted.rejected.append(Rejection(sidecar.name, refusal.reason, refusal.status))
        vetted.rejected.append(Rejection(document.name, reason, refusal.status))
        return
    try:
        _check_content(document, limits)
    except Refusal as refusal:
        vetted.rejected.append(Rejection(document.name, refusal.reason, refusal.status))
        return
    vetted.accepted.append(
        Accepted(document.name, document.data, sidecar.data if sidecar else None)
    )


def _is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIX)


def with_doc_id(files: list[Incoming], doc_id: str) -> list[Incoming]:
    """The upload with its one document's sidecar (made if missing) naming ``doc_id``: how the
    form uploads a new version of a document uploaded before. Refusal if it does not fit."""
    documents = [f for f in files if not _is_sidecar(f.name)]
    if len(documents) != 1:
        raise Refusal(f"doc_id names one document, and this upload holds {len(documents)}")
    name = Path(documents[0].name).stem + SIDECAR_SUFFIX
    given = next((f for f in files if f.name == name), None)
    meta: object = {}
    if given is not None:
        try:
            meta = json.loads(given.data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return files  # vetting refuses the sidecar, with its reason
    if not isinstance(meta, dict):
        return files
    if meta.setdefault("doc_id", doc_id) != doc_id:
        raise Refusal(f"doc_id {doc_id!r} differs from its sidecar's {meta['doc_id']!r}")
    sidecar = Incoming(name, json.dumps(meta, ensure_ascii=False).encode())
    return [f for f in files if f is not given] + [sidecar]


# --- names and sizes ------------------------------------------------------------------------


def _check_name(name: str, seen: dict[str, Incoming]) -> None:
    """A plain file name of a supported type: never a path, never a hidden or control name."""
    if not name:
        raise Refusal("the file has no name")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise Refusal("a file name must be a plain name, without folders")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Refusal("the file name holds control characters")
    if name.startswith("."):
        raise Refusal("the file name starts with a dot")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise Refusal(f"the file name is longer than {MAX_NAME_BYTES} bytes")
    if name in seen:
        raise Refusal("the upload holds two files of this name")
    suffix = Path(name).suffix.lower()
    if not _is_sidecar(name) and suffix not in SUFFIXES:
        expected = ", ".join((*SUFFIXES, SIDECAR_SUFFIX))
        raise Refusal(f"unsupported file type {suffix or '(none)'}; expected {expected}", 415)


def _check_size(incoming: Incoming, limits: UploadLimits) -> None:
    if incoming.oversized or len(incoming.data) > limits.file_bytes:
        raise Refusal(f"larger than the {limits.file_bytes / MB:g} MB a file may have", 413)
    if not incoming.data.strip():
        raise Refusal("empty file")


# --- sidecars -------------------------------------------------------------------------------


def _check_sidecar(data: bytes) -> None:
    """A JSON object of known fields, each of the type and form the KB stores."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise Refusal(f"a sidecar may hold at most {MAX_SIDECAR_BYTES // 1024} KB", 413)
    try:
        meta = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Refusal(f"invalid sidecar JSON: {error}") from error
    if not isinstance(meta, dict):
        raise Refusal("a sidecar must hold a JSON object")
    unknown = set(meta) - SIDECAR_FIELDS - VALIDITY_FIELDS - {"doc_id"}
    if unknown:
        raise Refusal(f"unknown sidecar field(s) {sorted(unknown)}")
    for key, value in meta.items():
        _check_sidecar_field(key, value)


def _check_sidecar_field(key: str, value: object) -> None:
    if key == "issuers":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Refusal("sidecar field issuers must be a list of names")
        return
    if key == "expired":
        if not isinstance(value, bool):
            raise Refusal("sidecar field expired must be true or false")
        return
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise Refusal(f"sidecar field {key} must be a non-empty text of at most 500 characters")
    if key == "level" and value not in {lv.value for lv in Level}:
        raise Refusal(f"sidecar level {value!r} is not one of {[lv.value for lv in Level]}")
    if key in ("date", "valid_from", "valid_to"):
        try:
            date.fromisoformat(value)
        except ValueError as error:
            raise Refusal(f"sidecar {key} {value!r} is not a date such as 2023-12-15") from error
    if key == "doc_id" and not (value.isascii() and value.replace("-", "").isalnum()):
        raise Refusal(f"sidecar doc_id {value!r}: use letters, digits and -")


# --- content by type ------------------------------------------------------------------------


def _check_content(incoming: Incoming, limits: UploadLimits) -> None:
    """The content must be what the extension says it is, and not too big once unpacked."""
    suffix = Path(incoming.name).suffix.lower()
    data = incoming.data
    if suffix == ".pdf":
        _check_pdf(data, limits)
    elif suffix == ".docx":
        _check_docx(data, limits)
    elif suffix in _OLE and not data.startswith(_OLE_MAGIC):
        raise Refusal(f"not a Word 97-2003/WPS file: no OLE header, yet named {suffix}", 415)
    elif suffix in _HTML:
        _check_html(data)
    elif suffix in _TEXT:
        try:
            decode(Path(incoming.name), data)
        except IngestError as error:
            raise Refusal(error.reason, 415) from error


def _check_pdf(data: bytes, limits: UploadLimits) -> None:
    if b"%PDF-" not in data[:1024]:
        raise Refusal("not a PDF: no %PDF- header", 415)
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        if "password" in str(error).lower():
            raise Refusal("encrypted PDF: it needs a password") from error
        raise Refusal(f"not a readable PDF ({error})", 415) from error
    try:
        pages = len(pdf)
    finally:
        pdf.close()
    if pages > limits.pdf_pages:
        raise Refusal(f"{pages} pages; a PDF may have at most {limits.pdf_pages}", 413)
    if pages == 0:
        raise Refusal("a PDF without pages")


def _check_docx(data: bytes, limits: UploadLimits) -> None:
    """A zip holding word/document.xml, whose entries and unpacked size stay in bounds."""
    if not data.startswith(b"PK\x03\x04"):
        raise Refusal("not a DOCX: not a zip archive", 415)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as error:
        raise Refusal(f"not a DOCX: damaged zip archive ({error})", 415) from error
    if len(entries) > limits.zip_entries:
        raise Refusal(f"a DOCX of {len(entries)} parts; at most {limits.zip_entries}", 413)
    unpacked = sum(e.file_size for e in entries)
    if unpacked > limits.unzipped_bytes:
        raise Refusal(
            f"unpacks to {unpacked / MB:.0f} MB, over the {limits.unzipped_bytes / MB:g} MB"
            " allowed (a zip bomb?)", 413,
        )  # fmt: skip
    if "word/document.xml" not in {e.filename for e in entries}:
        raise Refusal("not a Word document: the zip has no word/document.xml", 415)


def _check_html(data: bytes) -> None:
    head = data[:65536]
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        raise Refusal("binary content (NUL bytes), not HTML", 415)
    if not _TAG.search(head):
        raise Refusal("not HTML: no markup found", 415)


# --- storing --------------------------------------------------------------------------------


def store(document: Accepted, sources: Path) -> Path:
    """The content-addressed copy of an accepted document (and its sidecar): its path."""
    key = hashlib.sha256(
        hashlib.sha256(document.data).digest() + hashlib.sha256(document.sidecar or b"").digest()
    ).hexdigest()
    folder = sources / key
    folder.mkdir(parents=True, exist_ok=True)
    path = _write_once(folder, document.name, document.data)
    if document.sidecar is not None:
        _write_once(folder, Path(document.name).stem + SIDECAR_SUFFIX, document.sidecar)
    return path


def _write_once(folder: Path, name: str, data: bytes) -> Path:
    """Write ``folder/name`` atomically unless it holds these bytes already."""
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise ValueError(f"{name!r} would leave {folder}")
    if path.is_file() and path.read_bytes() == data:
        return path
    partial = folder / f".{secrets.token_hex(8)}.partial"
    partial.write_bytes(data)
    os.replace(partial, path)
    return path


def prune(sources: Path, kept: set[Path]) -> None:
    """Remove the stored uploads no document refers to (failed ones, replaced versions)."""
    if not sources.is_dir():
        return
    kept = {p.resolve() for p in kept}
    for folder in sources.iterdir():
        if folder.is_dir() and folder.resolve() not in kept:
            shutil.rmtree(folder, ignore_errors=True)
