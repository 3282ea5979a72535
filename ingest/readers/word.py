"""Word (.docx) with python-docx: paragraphs and tables in body order."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.readers.base import (
    Block,
    IngestError,
    RawDocument,
    Reader,
    TableBlock,
    TextBlock,
    read_bytes,
)

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted .docx and legacy .doc are OLE compound files


class DocxReader(Reader):
    suffixes = (".docx",)

    def read(self, path: Path) -> RawDocument:
        data = read_bytes(path)
        if data.startswith(_OLE_MAGIC):
            raise IngestError(
                path, "encrypted or legacy Word file (OLE container), not a readable .docx"
            )
        if not zipfile.is_zipfile(path):
            raise IngestError(path, "not a .docx (not a zip package)")
        try:
            document = docx.Document(str(path))
        except Exception as error:  # python-docx raises several types for broken packages
            raise IngestError(path, f"broken .docx ({type(error).__name__}: {error})") from error
        blocks: list[Block] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                if not blocks or not isinstance(blocks[-1], TextBlock):
                    blocks.append(TextBlock([], reflow=False))
                blocks[-1].lines.append(item.text)
            elif isinstance(item, Table):
                blocks.append(TableBlock(_rows(item)))
        hints: dict[str, object] = {}
        if document.core_properties.title:
            hints["title"] = document.core_properties.title
        return RawDocument(path, blocks, hints=hints, raw_bytes=data)


def _rows(table: Table) -> list[list[str]]:
    """Cell texts row by row; a merged cell spanning columns counts once."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text.strip())
        rows.append(cells)
    return rows
