"""Legacy Word (.doc) and WPS (.wps) binaries, read with Debian's ``antiword``.

Both are OLE compound files with the Word 97 text stream inside (WPS Office writes the same
container under its own suffix). ``antiword -x db`` writes the document as DocBook XML:
paragraphs in order and tables as rows of cells, in UTF-8 whatever the code page. Chosen by
measurement on the three real files of ../shared/realdocs: antiword reads each in 0.01-0.03 s
and gives the same body text as LibreOffice (which takes 8-10 s a file and 259 MB more to
install); a 0.6 MB package. Its footer separator (a run of hyphens) is dropped; the page
number after it is dropped by the cleaning like any other.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from ingest.readers.base import (
    Block,
    IngestError,
    RawDocument,
    Reader,
    TableBlock,
    TextBlock,
    read_bytes,
)
from ingest.readers.word import DocxReader

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_INSTALL = "install Debian's antiword (`apt-get install antiword`, or `make system` as root)"
_TIMEOUT = 60  # seconds; antiword reads a large file in well under one
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>", re.S)
_SEPARATOR = re.compile(r"^-{10,}")  # antiword's rule above footers and footnotes
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


class LegacyWordReader(Reader):
    suffixes = (".doc", ".wps")

    def read(self, path: Path) -> RawDocument:
        data = read_bytes(path)
        if data.startswith(b"PK") and zipfile.is_zipfile(path):
            return DocxReader().read(path)  # a .docx saved under the old suffix
        if not data.startswith(_OLE_MAGIC):
            kind = "an RTF file" if data.lstrip().startswith(b"{\\rtf") else "not an OLE file"
            raise IngestError(path, f"not a Word 97-2003 binary ({kind})")
        try:
            blocks = docbook_blocks(_run_antiword(path))
        except ValueError as error:
            raise IngestError(path, str(error)) from error
        if not any(_block_text(block) for block in blocks):
            raise IngestError(path, "no text in the document (antiword found none)")
        return RawDocument(path, blocks, hints={"converter": "antiword"}, raw_bytes=data)


def _run_antiword(path: Path) -> bytes:
    """antiword's DocBook XML for the file; its complaint, in one line, when it fails."""
    tool = shutil.which("antiword")
    if tool is None:
        raise IngestError(
            path, f"reading .doc/.wps needs antiword, which is not installed: {_INSTALL}"
        )
    try:
        done = subprocess.run(
            [tool, "-x", "db", str(path)], capture_output=True, timeout=_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise IngestError(path, f"antiword took more than {_TIMEOUT} s") from error
    if done.returncode != 0 or not done.stdout.strip():
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = said[0] if said else f"exit status {done.returncode}"
        raise IngestError(path, f"antiword cannot read it: {reason}")
    return done.stdout


def docbook_blocks(xml: bytes) -> list[Block]:
    """Paragraphs and tables of antiword's DocBook output, in document order."""
    try:
        root = ET.fromstring(_DOCTYPE.sub(b"", xml, count=1))
    except ET.ParseError as error:
        raise ValueError(f"antiword wrote XML that does not parse ({error})") from error
    blocks: list[Block] = []
    for chapter in root.iter("chapter"):
        _walk(chapter, blocks)
    return blocks


def _walk(element: ET.Element, blocks: list[Block]) -> None:
    """Append the element's paragraphs (to the open text block) and tables, depth first."""
    for child in element:
        if child.tag in ("informaltable", "table"):
            rows = [[_text(entry) for entry in row.iter("entry")] for row in child.iter("row")]
            blocks.append(TableBlock(rows))
        elif child.tag in ("para", "title"):
            text = _SEPARATOR.sub("", _text(child)).strip()
            if text:
                if not blocks or not isinstance(blocks[-1], TextBlock):
                    blocks.append(TextBlock([], reflow=False))
                blocks[-1].lines.append(text)
        else:
            _walk(child, blocks)


def _text(element: ET.Element) -> str:
    """All text inside an element, its lines joined (antiword pads tags with newlines)."""
    text = ""
    for line in "".join(element.itertext()).splitlines():
        line = line.strip()
        if text and line and _ASCII_WORD.match(text[-1]) and _ASCII_WORD.match(line[0]):
            text += " "
        text += line
    return text


def _block_text(block: Block) -> str:
    rows = block.rows if isinstance(block, TableBlock) else [block.lines]
    return "".join(cell for row in rows for cell in row)
