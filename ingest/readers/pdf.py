"""PDF with pdfplumber: text lines and ruled tables in reading order.

A PDF whose text is (cid:NNN) glyph codes, or that has no text layer at all, is refused:
indexing it would put garbage in the knowledge base.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfparser import PDFSyntaxError
from pdfplumber.utils.exceptions import PdfminerException

from ingest.readers.base import (
    Block,
    IngestError,
    RawDocument,
    Reader,
    TableBlock,
    TextBlock,
    read_bytes,
)

_CID = re.compile(r"\(cid:\d+\)")
_MAX_CID_SHARE = 0.05  # of the extracted characters
_MIN_TEXT_CHARS = 20


class PdfReader(Reader):
    suffixes = (".pdf",)

    def read(self, path: Path) -> RawDocument:
        data = read_bytes(path)
        try:
            with pdfplumber.open(path) as pdf:
                pages = [_page_blocks(page, number) for number, page in enumerate(pdf.pages, 1)]
        except (PDFPasswordIncorrect, PDFEncryptionError) as error:
            raise IngestError(path, "encrypted PDF: cannot read it without the password") from error
        except (PdfminerException, PDFSyntaxError) as error:
            cause = _root_cause(error)
            if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
                raise IngestError(
                    path, "encrypted PDF: cannot read it without the password"
                ) from error
            raise IngestError(path, f"not a readable PDF ({type(cause).__name__})") from error
        _refuse_garbage(path, pages)
        _drop_running_lines(pages)
        return RawDocument(path, [block for page in pages for block in page], raw_bytes=data)


def _root_cause(error: BaseException) -> BaseException:
    """pdfplumber wraps pdfminer's error: the wrapped one says what went wrong."""
    wrapped = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
    return error.__cause__ or wrapped or error


def _page_blocks(page, number: int) -> list[Block]:
    """The page's text lines outside tables, and its tables, ordered top to bottom."""
    tables = [t for t in page.find_tables() if _is_real_table(t.extract())]
    items: list[tuple[float, Block]] = []
    for table in tables:
        rows = [[_cell(c) for c in row] for row in table.extract()]
        items.append((table.bbox[1], TableBlock(rows, page=number)))
    lines: list[tuple[float, str]] = []
    for line in page.extract_text_lines(keep_blank_chars=False):
        if not any(_inside(line, t.bbox) for t in tables):
            lines.append((line["top"], line["text"]))
    for top, group in _group_lines_between(lines, [t.bbox[1] for t in tables]):
        items.append((top, TextBlock(group, page=number)))
    items.sort(key=lambda item: item[0])
    return [block for _, block in items]


def _is_real_table(rows: list[list[str | None]]) -> bool:
    """A page frame drawn round running text is found as a one-column table: not a table."""
    multi = sum(1 for row in rows if sum(1 for c in row if c and c.strip()) >= 2)
    return len(rows) >= 2 and multi >= max(2, len(rows) / 2)


def _cell(value: str | None) -> str:
    return (value or "").replace("\n", "").strip()


def _inside(line: dict, bbox: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = bbox
    middle = (line["top"] + line["bottom"]) / 2
    return top <= middle <= bottom and line["x0"] < x1 and line["x1"] > x0


def _group_lines_between(lines: list[tuple[float, str]], cuts: list[float]):
    """Runs of text lines not separated by a table, each with the top of its first line."""
    group: list[str] = []
    start = 0.0
    for top, text in lines:
        if group and any(start < cut < top for cut in cuts):
            yield start, group
            group = []
        if not group:
            start = top
        group.append(text)
    if group:
        yield start, group


def _page_text(page: list[Block]) -> str:
    """All text of a page, running text and table cells alike."""
    parts = []
    for block in page:
        rows = block.rows if isinstance(block, TableBlock) else [block.lines]
        parts += [cell for row in rows for cell in row]
    return "".join(parts)


def _refuse_garbage(path: Path, pages: list[list[Block]]) -> None:
    text = "".join(_page_text(page) for page in pages)
    chars = len(re.sub(r"\s", "", text))
    if chars < _MIN_TEXT_CHARS:
        raise IngestError(path, "no extractable text (a scanned image? OCR it first)")
    cid_chars = sum(len(m) for m in _CID.findall(text))
    if cid_chars > _MAX_CID_SHARE * chars:
        raise IngestError(
            path, "text extracts as (cid:NNN) glyph codes: the PDF's fonts have no Unicode map"
        )


def _drop_running_lines(pages: list[list[Block]]) -> None:
    """Drop running headers and footers: a first or last line repeated on most pages."""
    if len(pages) < 3:
        return
    edges = Counter()
    for page in pages:
        texts = [b for b in page if isinstance(b, TextBlock)]
        if texts:
            edges.update({texts[0].lines[0].strip(), texts[-1].lines[-1].strip()})
    running = {line for line, count in edges.items() if line and count >= 0.6 * len(pages)}
    for page in pages:
        for block in page:
            if isinstance(block, TextBlock):
                block.lines = [line for line in block.lines if line.strip() not in running]
