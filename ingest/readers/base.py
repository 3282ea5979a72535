"""What every reader returns, and the error it raises on bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class IngestError(Exception):
    """Bad input: names the file and the reason, in one line."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class TextBlock:
    """Lines of running text; ``reflow`` says they may be hard-wrapped (PDF, extracted text)."""

    lines: list[str]
    reflow: bool = True
    page: int | None = None


@dataclass
class TableBlock:
    """A table as rows of cell texts; the first row is usually the header."""

    rows: list[list[str]]
    page: int | None = None


Block = TextBlock | TableBlock


@dataclass
class RawDocument:
    """A file's content before cleaning: blocks in reading order, plus format-given hints."""

    path: Path
    blocks: list[Block]
    hints: dict[str, object] = field(default_factory=dict)
    raw_bytes: bytes = b""
    # The first page's header band read by OCR, on demand: a 发文机关标志 drawn as graphics is
    # in no text layer (text PDFs; None where the format has no such band).
    header_lines: Callable[[], list[str]] | None = None


class Reader:
    """One reader per file format; ``suffixes`` says which files it takes."""

    suffixes: tuple[str, ...] = ()

    def read(self, path: Path) -> RawDocument:
        raise NotImplementedError


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing missing and empty files with a clear reason."""
    if not path.exists():
        raise IngestError(path, "no such file")
    if not path.is_file():
        raise IngestError(path, "not a regular file")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(path, "empty file")
    return data
