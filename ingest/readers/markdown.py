"""Markdown (.md), including the LawRefBook layout.

LawRefBook files open with ``# title``, then event lines (``2021年11月1日 施行``) up to
``<!-- INFO END -->``, then ``## 第一章 …`` headings and ``第一条 …`` articles.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.readers.base import Block, RawDocument, Reader, TableBlock, TextBlock, read_bytes
from ingest.readers.plain import decode
from ingest.validity import lawrefbook_record

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_INFO_END = "<!-- INFO END -->"
# The version a file holds, as its name dates it: 住房公积金管理条例(2019-03-24), or …_2019.
_VERSION_IN_NAME = re.compile(
    r"(?:\((?P<date>\d{4}-\d{2}-\d{2})\)|[_\s-](?P<year>(?:19|20)\d{2}))$"
)
_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_PIPE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


class MarkdownReader(Reader):
    suffixes = (".md", ".markdown")

    def read(self, path: Path) -> RawDocument:
        data = read_bytes(path)
        text = _FRONT_MATTER.sub("", decode(path, data))
        hints: dict[str, object] = {}
        if _INFO_END in text:
            head, text = text.split(_INFO_END, 1)
            hints.update(_read_info(head))
            version = _VERSION_IN_NAME.search(path.stem)
            if version:
                hints["version"] = version["date"] or version["year"]
            record = lawrefbook_record(path, hints.get("version"))
            if record:  # the catalogue beside the files: 施行 date, expired
                hints["catalogue"] = record
        lines = _COMMENT.sub("", text).split("\n")
        title_lines, body = _split_title(lines) if "title" not in hints else ([], lines)
        if title_lines:  # a collector's heading, not always the document's own title
            hints["page_title"] = "".join(title_lines)
        return RawDocument(path, _blocks(body), hints=hints, raw_bytes=data)


def _read_info(head: str) -> dict[str, object]:
    """Title lines (``# …``) and event lines (``2021年11月1日 施行``) above INFO END."""
    titles, events = [], []
    for line in _COMMENT.sub("", head).split("\n"):
        line = line.strip()
        if not line:
            continue
        match = _HEADING.match(line)
        if match:
            titles.append(match.group(2))
        else:
            events.append(line)
    hints: dict[str, object] = {"events": events, "format": "lawrefbook"}
    if titles:
        hints["title"] = titles[0]
        hints["subtitles"] = titles[1:]
    return hints


def _split_title(lines: list[str]) -> tuple[list[str], list[str]]:
    """A leading ``# title`` of a plain markdown file, and the rest."""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            return [match.group(2)], lines[i + 1 :]
        break
    return [], lines


def _blocks(lines: list[str]) -> list[Block]:
    """Paragraph lines and pipe tables, in order; markdown lines are not hard-wrapped."""
    blocks: list[Block] = []
    for line in lines:
        if _PIPE_RULE.match(line):
            continue
        if _PIPE_ROW.match(line):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not blocks or not isinstance(blocks[-1], TableBlock):
                blocks.append(TableBlock([]))
            blocks[-1].rows.append(cells)
            continue
        if not blocks or not isinstance(blocks[-1], TextBlock):
            blocks.append(TextBlock([], reflow=False))
        blocks[-1].lines.append(_strip_markup(line))
    return blocks


def _strip_markup(line: str) -> str:
    match = _HEADING.match(line)
    if match:
        return match.group(2)
    return re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
