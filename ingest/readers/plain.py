"""Plain text (.txt): UTF-8 or GB18030/GBK, detected; tab-celled tables recognised."""

from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from ingest.readers.base import IngestError, RawDocument, Reader, TableBlock, TextBlock, read_bytes

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OTHER_CHINESE_ENCODINGS = {"big5", "big5hkscs", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "hz"}

# Share of control characters above which a file is taken as binary.
_MAX_CONTROL_SHARE = 0.01


def decode(path: Path, data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), else GB18030, else a Chinese or UTF-16 charset found by
    charset_normalizer; anything else is refused rather than indexed as mojibake."""
    if b"\x00" in data[:4096] and not data.startswith(_UTF16_BOMS):
        raise IngestError(path, "binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-16" if data.startswith(_UTF16_BOMS) else "utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            text = _decode_other(path, data, utf8_error)
    _refuse_binary(path, text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_other(path: Path, data: bytes, utf8_error: UnicodeDecodeError) -> str:
    best = from_bytes(data).best()
    if best is None or best.encoding not in _OTHER_CHINESE_ENCODINGS:
        bad = data[utf8_error.start]
        raise IngestError(
            path,
            f"cannot decode: invalid UTF-8 byte 0x{bad:02x} at offset {utf8_error.start}, "
            "and not GB18030 or another Chinese encoding either",
        )
    return str(best)


def _refuse_binary(path: Path, text: str) -> None:
    control = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > _MAX_CONTROL_SHARE * len(text):
        raise IngestError(path, "binary file (control characters), not text")


def split_tab_tables(lines: list[str]) -> list[TextBlock | TableBlock]:
    """Split text lines into running text and tables whose cells are lines starting with a tab.

    This is how tables come out of many PDF-to-text tools: one cell per line, prefixed by a
    tab, rows separated by blank lines, and a cell's second line unprefixed.
    """
    blocks: list[TextBlock | TableBlock] = []
    text: list[str] = []
    rows: list[list[str]] = []
    row: list[str] = []
    in_table = False
    for line in lines:
        if line.startswith("\t"):
            if not in_table:
                if text:
                    blocks.append(TextBlock(text))
                text, rows, row, in_table = [], [], [], True
            row.append(line.strip())
        elif in_table and not line.strip():
            if row:
                rows.append(row)
            row = []
        elif in_table and row:
            row[-1] += line.strip()  # the cell's text goes on on an unprefixed line
        else:
            if in_table:
                blocks.append(TableBlock(rows))
                in_table = False
            text.append(line)
    if in_table:
        if row:
            rows.append(row)
        blocks.append(TableBlock(rows))
    if text:
        blocks.append(TextBlock(text))
    return [b for b in blocks if not isinstance(b, TableBlock) or b.rows]


class PlainTextReader(Reader):
    suffixes = (".txt",)

    def read(self, path: Path) -> RawDocument:
        data = read_bytes(path)
        text = decode(path, data)
        return RawDocument(path, split_tab_tables(text.split("\n")), raw_bytes=data)
