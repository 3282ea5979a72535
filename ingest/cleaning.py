"""From raw blocks to paragraphs: drop page furniture, rejoin hard-wrapped lines.

Text extracted from PDFs breaks lines mid-word ("试点城" / "市"), double-spaces them, starts
them with stray spaces and scatters page numbers ("— 5 —"). A line is joined to the next when
it was cut short of its sentence: it fills the page width without ending a sentence, it leaves
a bracket or quote open, or the next line starts with punctuation that cannot open a sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from ingest.numbering import match_attachment, match_label
from ingest.readers.base import RawDocument, TableBlock
from ingest.text import tidy

_PAGE_NUMBER = re.compile(
    r"^[-—–－_~·•\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*/\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-—–－_~·•\s]*$"
)
_SPACE_IN_NUMBER = re.compile(r"(?<=\d)\s+(?=\d)")
_FURNITURE = re.compile(r"^(?:[-—–－_~·•\s]+|[A-Za-z])$")
_MIN_VERTICAL_RUN = 4
_SENTENCE_END = tuple("。！？；：!?;:")
_CONTINUATION_START = tuple("，,。、；;：:）)》〉”’」』】〕%％")
_CLAUSE_PUNCTUATION = set("，,。；;：:")
_PAIRS = {
    "（": "）",
    "(": ")",
    "《": "》",
    "〈": "〉",
    "“": "”",
    "「": "」",
    "【": "】",
    "〔": "〕",
}
_MIN_WRAPPED_LINES = 6
# A wrapped line may fall short of the page width by a first-line indent (2 characters) and
# a character pushed to the next line by line-breaking rules: 6 display columns.
_FULL_LINE_SLACK = 6


@dataclass
class Paragraph:
    """A paragraph of running text, in display form."""

    text: str
    page: int | None = None


Item = Paragraph | TableBlock


def clean(raw: RawDocument) -> list[Item]:
    """Paragraphs and tables in reading order, page furniture removed."""
    items: list[Item] = []
    for block in raw.blocks:
        if isinstance(block, TableBlock):
            table = clean_table(block)
            if table.rows:
                items.append(table)
            continue
        lines = [line.strip(" \t\u3000\u00a0") for line in block.lines]
        lines = _join_vertical([line for line in lines if line and not is_page_furniture(line)])
        joined = reflow(lines) if block.reflow else lines
        items.extend(Paragraph(text, block.page) for text in joined)
    return items


def is_page_furniture(line: str) -> bool:
    """Page numbers (- 2 -, — 1 0 —, 第3页), their dashes left alone (— —), a lone mark."""
    squeezed = _SPACE_IN_NUMBER.sub("", line)
    return bool(_PAGE_NUMBER.match(squeezed) or _FURNITURE.match(line))


def _join_vertical(lines: list[str]) -> list[str]:
    """A broken text layer gives one character per line: runs of them are one line."""
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if len(line) == 1:
            run.append(line)
            continue
        out += ["".join(run)] if len(run) >= _MIN_VERTICAL_RUN else run
        run = []
        if line:
            out.append(line)
    return out


def display_width(text: str) -> int:
    """Columns the text takes in print: CJK characters count two, stray spaces none."""
    text = tidy(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def page_width(lines: list[str]) -> int | None:
    """The width most lines were wrapped at, or None when the text is not hard-wrapped."""
    widths = [display_width(line) for line in lines]
    if len(widths) < _MIN_WRAPPED_LINES:
        return None
    counts = Counter(w for w in widths if w >= 20)
    if not counts:
        return None
    mode = counts.most_common(1)[0][0]
    near = sum(counts[w] for w in range(mode - 2, mode + 3))
    return mode if near >= 0.3 * len(widths) else None


def reflow(lines: list[str]) -> list[str]:
    """Join lines that were wrapped mid-sentence; keep real paragraph breaks."""
    width = page_width(lines)
    paragraphs: list[str] = []
    last_line = ""
    for line in lines:
        if paragraphs and _continues(paragraphs[-1], last_line, line, width):
            paragraphs[-1] = _glue(paragraphs[-1], line)
        else:
            paragraphs.append(line)
        last_line = line
    return paragraphs


def _continues(paragraph: str, last_line: str, line: str, width: int | None) -> bool:
    """Whether ``line`` goes on the paragraph whose last physical line is ``last_line``."""
    if match_label(line) or match_attachment(line) or _columnar(line) or _columnar(last_line):
        return False
    if line.startswith(_CONTINUATION_START) or _open_brackets(paragraph):
        return True
    if last_line.endswith(_SENTENCE_END):
        return False
    return width is not None and display_width(last_line) >= width - _FULL_LINE_SLACK


def _columnar(line: str) -> bool:
    """Names set in columns, as in a signature block: words of 4+ characters between spaces."""
    words = line.split()
    return len(words) >= 2 and all(len(w) >= 4 and not _CLAUSE_PUNCTUATION & set(w) for w in words)


def _open_brackets(text: str) -> bool:
    """True when an opening bracket or quote is still open at the end of the text."""
    depth = Counter()
    for ch in text:
        if ch in _PAIRS:
            depth[ch] += 1
        else:
            for opening, closing in _PAIRS.items():
                if ch == closing and depth[opening]:
                    depth[opening] -= 1
    return any(depth.values())


def _glue(left: str, right: str) -> str:
    if left[-1:].isascii() and left[-1:].isalpha() and right[:1].isascii() and right[:1].isalpha():
        return f"{left} {right}"
    return left + right


def clean_table(table: TableBlock) -> TableBlock:
    """Strip cells, drop empty rows and header rows repeated after a page break."""
    rows = [[tidy(cell) for cell in row] for row in table.rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return TableBlock([], table.page)
    header = rows[0]
    body = [row for row in rows[1:] if row != header]
    return TableBlock([header, *body], table.page)
