"""Plain text (.txt): UTF-8 or GB18030/GBK, detected; tab-celled tables recognised.

GB18030 decodes almost any byte string, Japanese and Korean encodings included, into Chinese
characters: a GB18030 reading is kept only when it is made of common characters and the
bytes do not look like another language's encoding. Anything else is refused, not indexed as
mojibake.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from charset_normalizer import from_bytes

from ingest.readers.base import IngestError, RawDocument, Reader, TableBlock, TextBlock, read_bytes

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_OTHER_CHINESE_ENCODINGS = {"big5", "big5hkscs", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "hz"}

# Encodings of other languages whose bytes GB18030 also decodes (charset_normalizer's names).
_FOREIGN_ENCODINGS = {
    "shift_jis", "cp932", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004",
    "euc_jisx0213", "iso2022_jp", "euc_kr", "cp949", "johab", "iso2022_kr",
}  # fmt: skip
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
# Share of Han characters among GB2312's 3,755 common ones: 0.998-1.0 in real Chinese text,
# 0.0 in Shift_JIS and 0.4 in Big5 read as GB18030.
_MIN_COMMON_SHARE = 0.5
_MIN_HAN = 10  # fewer Han characters than this say nothing either way
_MAX_KANA_SHARE = 0.05  # of Han and kana: Japanese (EUC-JP) read as GB18030 keeps its kana
_MIN_SNIFF_BYTES = 200  # charset_normalizer's guess on fewer bytes is not trusted to refuse

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
            text = None
        if text is None or not _reads_as_chinese(data, text):
            text = _decode_other(path, data, utf8_error, gb18030=text is not None)
    _refuse_binary(path, text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _reads_as_chinese(data: bytes, text: str) -> bool:
    """Whether a GB18030 reading is Chinese: common characters, little kana, and bytes that
    charset_normalizer does not take for Japanese or Korean."""
    han = _HAN.findall(text)
    if len(han) >= _MIN_HAN:
        common = sum(ch in _common_han() for ch in han) / len(han)
        kana = len(_KANA.findall(text))
        if common < _MIN_COMMON_SHARE or kana > _MAX_KANA_SHARE * (kana + len(han)):
            return False
    return len(data) < _MIN_SNIFF_BYTES or _guess(data) not in _FOREIGN_ENCODINGS


def _decode_other(
    path: Path, data: bytes, utf8_error: UnicodeDecodeError, gb18030: bool = False
) -> str:
    """Big5 or another Chinese encoding that charset_normalizer finds; else a refusal that says
    what the bytes are not, and what they look like."""
    best = from_bytes(data).best()
    if best is not None and best.encoding in _OTHER_CHINESE_ENCODINGS:
        return str(best)
    bad = data[utf8_error.start]
    gb = "GB18030 reads it as mojibake" if gb18030 else "not GB18030 either"
    looks = f"; it looks like {best.encoding} ({best.language})" if best is not None else ""
    raise IngestError(
        path,
        f"cannot decode as Chinese text: invalid UTF-8 byte 0x{bad:02x} at offset"
        f" {utf8_error.start}, {gb}{looks}; UTF-8, GB18030/GBK, Big5 and UTF-16 are read",
    )


def _guess(data: bytes) -> str | None:
    best = from_bytes(data).best()
    return best.encoding if best is not None else None


@cache
def _common_han() -> frozenset[str]:
    """GB2312's level-1 characters: the 3,755 in everyday use, rows 0xB0-0xD7."""
    pairs = (bytes([row, cell]) for row in range(0xB0, 0xD8) for cell in range(0xA1, 0xFF))
    return frozenset(p.decode("gb2312", "ignore") for p in pairs) - {""}


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
