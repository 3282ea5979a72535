"""File readers, one module per format; :func:`read` picks one by suffix."""

from __future__ import annotations

from pathlib import Path

from ingest.readers.base import IngestError, RawDocument, Reader, TableBlock, TextBlock
from ingest.readers.html import HtmlReader
from ingest.readers.legacy_word import LegacyWordReader
from ingest.readers.markdown import MarkdownReader
from ingest.readers.pdf import PdfReader
from ingest.readers.plain import PlainTextReader
from ingest.readers.word import DocxReader

READERS: list[Reader] = [
    PlainTextReader(),
    MarkdownReader(),
    PdfReader(),
    DocxReader(),
    LegacyWordReader(),
    HtmlReader(),
]
SUFFIXES = tuple(suffix for reader in READERS for suffix in reader.suffixes)

__all__ = ["SUFFIXES", "IngestError", "RawDocument", "TableBlock", "TextBlock", "read"]


def read(path: Path) -> RawDocument:
    """Read a file with the reader for its suffix; an unknown suffix is an IngestError."""
    suffix = path.suffix.lower()
    for reader in READERS:
        if suffix in reader.suffixes:
            return reader.read(path)
    raise IngestError(
        path, f"unsupported file type {suffix or '(none)'}; expected one of {', '.join(SUFFIXES)}"
    )
