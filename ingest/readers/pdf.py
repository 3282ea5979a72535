"""PDF with pdfplumber: text lines and ruled tables in reading order.

A page whose text layer is unusable is rendered and read by OCR (``ingest.readers.ocr``):
a scan with no text layer, text that extracts as (cid:NNN) glyph codes or as glyph-name
garbage (fonts with private encodings: '!"#$%&'), and a scan whose own OCR layer is wrong
(punctuation split onto lines of its own). Normal text pages never pay for OCR. A document
whose pages OCR cannot read either, or that needs OCR without the engine, is refused:
indexing it would put garbage in the knowledge base. A red header (发文机关标志) drawn as
graphics is in no text layer: the top band of page 1 is read by OCR on demand, only when the
text names no issuer (``RawDocument.header_lines``).
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from pathlib import Path

import pdfplumber
import pypdfium2
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
from ingest.readers.ocr import MAX_SIDE, OcrUnavailable, engine

_CID = re.compile(r"\(cid:\d+\)")
_MAX_CID_SHARE = 0.05  # of the extracted characters
_MIN_TEXT_CHARS = 20
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# Symbols a Chinese document hardly prints but private font encodings spill: 0.31-0.54 of
# the gazette's and the (cid) sample's characters, at most 0.03 on the real text PDFs.
_GLYPH_JUNK = re.compile(
    r"[!\"#$&'*+<=>?@\[\\\]^_`{|}~\u00a0-\u02ff\u2018\u2019\u2020-\u2022\ufb01\ufb02]"
)
_MAX_JUNK_SHARE = 0.15
_PUNCT_ONLY = re.compile(r"^[\W_]+$")
# A scan's OCR layer with punctuation set on lines of its own (0.37-0.41 of the lines of the
# wrong layer in realdocs; at most 0.03 on text PDFs) is misaligned: read the image instead.
_MAX_PUNCT_LINES = 0.15
_MIN_LAYER_CJK = 0.5  # a scan's layer, and OCR output, below this share of Chinese is not text
_MIN_SCAN_COVER = 0.5  # share of the page under images that makes it a scan
_OCR_DPI = 200
_OCR_MAX_PAGES = 30  # POLICYKB_OCR_MAX_PAGES: about 5 s a page on 2 cores
# The 版头 (发文机关标志, 文号, red line) sits in the top third of page 1 (GB/T 9704: the mark
# from 35 mm, the red line under the 文号); a little more allows for a 上行文's taller header.
_HEADER_BAND = 0.4

NO_TEXT = "no text layer (a scanned image)"
CID_CODES = "text extracts as (cid:NNN) glyph codes: the PDF's fonts have no Unicode map"
GLYPH_JUNK = "text extracts as glyph-name garbage ('!\"#$%&'): the PDF's fonts are private"
WRONG_OCR = "the scan's OCR text layer is wrong (punctuation on lines of its own)"


class PdfReader(Reader):
    suffixes = (".pdf",)

    def read(self, path: Path) -> RawDocument:
        data = read_bytes(path)
        try:
            with pdfplumber.open(path) as pdf:
                pages = [_page_blocks(page, number) for number, page in enumerate(pdf.pages, 1)]
                problems = {
                    number: problem
                    for number, page in enumerate(pdf.pages, 1)
                    if (problem := _layer_problem(page, pages[number - 1]))
                }
        except (PDFPasswordIncorrect, PDFEncryptionError) as error:
            raise IngestError(path, "encrypted PDF: cannot read it without the password") from error
        except (PdfminerException, PDFSyntaxError) as error:
            cause = _root_cause(error)
            if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
                raise IngestError(
                    path, "encrypted PDF: cannot read it without the password"
                ) from error
            raise IngestError(path, f"not a readable PDF ({type(cause).__name__})") from error
        hints = _ocr_pages(path, pages, problems) if problems else {}
        _refuse_garbage(path, pages, ocr="ocr" in hints)
        _drop_running_lines(pages)
        blocks = [block for page in pages for block in page]
        header = None if 1 in problems else functools.partial(header_band_lines, path)
        return RawDocument(path, blocks, hints=hints, raw_bytes=data, header_lines=header)


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


def _layer_problem(page, blocks: list[Block]) -> str | None:
    """Why the page's text layer cannot be used (so OCR must read it), or None when it can."""
    chars = re.sub(r"\s", "", _page_text(blocks))
    scan = _image_cover(page) >= _MIN_SCAN_COVER
    if len(chars) < _MIN_TEXT_CHARS:
        return NO_TEXT if scan else None
    if sum(len(m) for m in _CID.findall(chars)) > _MAX_CID_SHARE * len(chars):
        return CID_CODES
    if len(_GLYPH_JUNK.findall(chars)) > _MAX_JUNK_SHARE * len(chars):
        return GLYPH_JUNK
    lines = [line for b in blocks if isinstance(b, TextBlock) for line in b.lines if line.strip()]
    split = sum(1 for line in lines if _PUNCT_ONLY.match(line.strip()))
    if scan and (split > _MAX_PUNCT_LINES * len(lines) or _cjk_share(chars) < _MIN_LAYER_CJK):
        return WRONG_OCR
    return None


def _image_cover(page) -> float:
    """The share of the page that images cover (a scan is one image the size of the page)."""
    area = float(page.width * page.height) or 1.0
    covered = 0.0
    for image in page.images:
        width = min(image["x1"], page.width) - max(image["x0"], 0)
        height = min(image["bottom"], page.height) - max(image["top"], 0)
        covered += max(width, 0) * max(height, 0)
    return min(covered / area, 1.0)


def _cjk_share(chars: str) -> float:
    return len(_CJK.findall(chars)) / len(chars) if chars else 0.0


def _ocr_pages(path: Path, pages: list[list[Block]], problems: dict[int, str]) -> dict:
    """Replace each problem page's blocks by its OCR lines; refuse pages OCR cannot read."""
    first, problem = next(iter(problems.items()))
    limit = int(os.environ.get("POLICYKB_OCR_MAX_PAGES") or _OCR_MAX_PAGES)
    if len(problems) > limit:
        raise IngestError(
            path,
            f"{len(problems)} pages need OCR (page {first}: {problem}), more than the limit of"
            f" {limit} (POLICYKB_OCR_MAX_PAGES)",
        )
    try:
        ocr = engine()
    except OcrUnavailable as error:
        raise IngestError(path, f"page {first}: {problem}; {error}") from error
    for number, image in _rendered(path, problems):
        lines = [line for line in ocr.read(image) if line.strip()]
        if not _recovered("".join(lines), problems[number]):
            raise IngestError(
                path, f"page {number}: {problems[number]}; OCR of the page found no Chinese text"
            )
        pages[number - 1] = [TextBlock(lines, reflow=False, page=number)] if lines else []
    return {"ocr": True, "ocr_engine": ocr.name, "ocr_pages": sorted(problems)}


def _rendered(path: Path, numbers):
    """Each numbered page as an image at 200 dpi, no larger than the OCR engine reads."""
    document = pypdfium2.PdfDocument(path)
    try:
        for number in numbers:
            page = document[number - 1]
            scale = min(_OCR_DPI / 72, MAX_SIDE / max(page.get_size()))
            yield number, page.render(scale=scale).to_pil()
    finally:
        document.close()


def header_band_lines(path: Path) -> list[str]:
    """The text lines OCR reads in the top band of page 1 ([] without the engine): where a red
    发文机关标志 drawn as graphics can be read, at the cost of OCR of a part of one page."""
    try:
        ocr = engine()
    except OcrUnavailable:
        return []
    document = pypdfium2.PdfDocument(path)
    try:
        page = document[0]
        width, height = page.get_size()
        scale = min(_OCR_DPI / 72, MAX_SIDE / max(width, height))
        band = (0, height * (1 - _HEADER_BAND), 0, 0)  # cut off: left, bottom, right, top
        image = page.render(scale=scale, crop=band).to_pil()
    finally:
        document.close()
    return [line for line in ocr.read(image, rejoin_rows=False) if line.strip()]


def _recovered(text: str, problem: str) -> bool:
    """Whether OCR read the page: Chinese text, or (for a blank scan) next to nothing."""
    chars = re.sub(r"\s", "", text)
    if len(chars) < _MIN_TEXT_CHARS:
        return problem == NO_TEXT
    return _cjk_share(chars) >= _MIN_LAYER_CJK


def _refuse_garbage(path: Path, pages: list[list[Block]], ocr: bool = False) -> None:
    """Refuse a document left without text, or still made of (cid:NNN) codes."""
    text = "".join(_page_text(page) for page in pages)
    chars = len(re.sub(r"\s", "", text))
    if chars < _MIN_TEXT_CHARS:
        raise IngestError(
            path, "no text: OCR found none on the scanned pages" if ocr else "no extractable text"
        )
    cid_chars = sum(len(m) for m in _CID.findall(text))
    if cid_chars > _MAX_CID_SHARE * chars:
        raise IngestError(path, CID_CODES)


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
