"""The numbering systems of Chinese official documents: 第X编/章/节/条, 一、, （一）, 1., （1）, ①.

``match_label`` finds the label that opens a paragraph; the tree builder nests labels by the
order in which their kinds first appear, which is how these documents use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN = "[一二三四五六七八九十百零〇两]+"
_GAP = r"[ \t\u3000]*"

# (kind, pattern); the order matters only where two patterns could match the same start.
_LABELS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern))
    for kind, pattern in [
        ("part", rf"第{_CN}编(?![，,、。的])"),
        ("chapter", rf"第{_CN}章(?![，,、。的])"),
        ("section", rf"第{_CN}节(?![，,、。的])"),
        ("article", rf"第{_CN}条(?=[ \t\u3000]|$|[^，,、。的款项])"),
        ("cn", rf"{_CN}(?:、|[．.](?!\d))"),
        ("cn_paren", rf"[（(]{_CN}[）)]"),
        ("arabic", r"\d{1,3}(?:[.．](?![\d.．])|、)"),
        ("arabic_paren", r"[（(]\d{1,3}[）)]"),
        ("arabic_half", r"\d{1,3}[）)]"),
        ("circled", r"[①-⑳]"),
    ]
]

_ATTACHMENT = re.compile(rf"附件{_GAP}(\d{{1,2}}|{_CN})?{_GAP}[：:]?")


@dataclass(frozen=True)
class Label:
    kind: str
    text: str  # the label as written, e.g. "（一）" or "第三条"
    rest: str  # the paragraph after the label


def match_label(paragraph: str) -> Label | None:
    """The numbering label that opens a paragraph, or None."""
    for kind, pattern in _LABELS:
        match = pattern.match(paragraph)
        if match:
            rest = paragraph[match.end() :].lstrip(" \t\u3000")
            if kind == "arabic" and rest[:1] in ("%", "％"):
                return None
            return Label(kind, match.group(0), rest)
    return None


def match_attachment(paragraph: str) -> Label | None:
    """An attachment heading such as ``附件2：`` or ``附件 1``; a list of attachments is not one."""
    match = _ATTACHMENT.match(paragraph)
    if not match:
        return None
    rest = paragraph[match.end() :].strip()
    if len(rest) > 60 or match_label(rest):
        return None  # running text that starts with 附件, or a numbered list of attachments
    number = match.group(1) or ""
    return Label("attachment", f"附件{number}", rest)


_SENTENCE_END = re.compile(r"[。；;！？!?\n]")


def heading_of(label: str, text: str, limit: int = 40) -> str:
    """Label plus the first sentence: how a clause shows in a descendant's path."""
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    if len(first) > limit:
        first = first[:limit] + "…"
    gap = " " if label.startswith("第") or label.startswith("附件") else ""
    return f"{label}{gap}{first}".strip()
