"""The numbering systems of Chinese official documents: 第X编/章/节/条, 一、, （一）, 1., （1）, ①.

``match_label`` finds the label that opens a paragraph; the tree builder nests labels by the
order in which their kinds first appear, which is how these documents use them. ``cn_to_int``
reads the number of a label, so the builder can check that articles run in sequence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN = "[一二三四五六七八九十百零〇两]+"  # list labels: 一、 （十二）
_CN_ANY = "[一二三四五六七八九十百千万零〇○两]+"  # 第一千二百五十八条, 第一万条
_NUMBER = rf"(?:{_CN_ANY}|\d+)"
_GAP = r"[ \t\u3000]*"
# A label followed by 、 and another label is a list of references: （1）、（3）的材料, ①-③.
_SERIES = (
    r"(?![、，,～~\-－—至](?:[（(][\d一二三四五六七八九十]|[\d一二三四五六七八九十]+[）)]|[①-⑳]))"
)

# (kind, pattern); the order matters only where two patterns could match the same start.
_LABELS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern))
    for kind, pattern in [
        ("part", rf"第{_GAP}{_NUMBER}{_GAP}编(?![，,、。的])"),
        ("chapter", rf"第{_GAP}{_NUMBER}{_GAP}章(?![，,、。的])"),
        ("section", rf"第{_GAP}{_NUMBER}{_GAP}节(?![，,、。的])"),
        ("article", rf"第{_GAP}{_NUMBER}{_GAP}条(?:之{_CN})?(?=[ \t\u3000]|$|[^，,、。；;的款之])"),
        ("cn", rf"{_CN}(?:、|[．.](?!\d)){_SERIES}(?!{_CN}、)"),
        ("cn_paren", rf"(?:[（(]{_GAP}{_CN}{_GAP}[）)]|[㈠-㈩]){_SERIES}"),
        ("arabic", r"(?:\d{1,3}(?:[.．](?![\d.．])|、)|[⒈-⒛])(?!\d+[、，,])"),
        ("arabic_paren", rf"(?:[（(]{_GAP}\d{{1,3}}{_GAP}[）)]|[⑴-⒇]){_SERIES}"),
        ("arabic_half", rf"\d{{1,3}}[）)]{_SERIES}"),
        ("circled", rf"[①-⑳]{_SERIES}"),
    ]
]
# 一是…二是… opening paragraphs: a label only in a run, which the tree builder checks.
_RUN = re.compile(rf"({_CN})是(?![的否])")

_ATTACHMENT = re.compile(rf"附件{_GAP}(\d{{1,2}}|{_CN})?{_GAP}[：:]?")

_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
# Numbers written as one glyph: the first and last glyph of each series (①-⑳, ⑴-⒇, ⒈-⒛, ㈠-㈩).
_GLYPHS = {"①": "⑳", "⑴": "⒇", "⒈": "⒛", "㈠": "㈩"}
_NOT_NUMERAL = re.compile(r"[第编章节条是（()）、.．\s]")


@dataclass(frozen=True)
class Label:
    kind: str
    text: str  # the label as written, e.g. "（一）" or "第三条"
    rest: str  # the paragraph after the label

    @property
    def number(self) -> int | None:
        """The label's value (第十二条 → 12, （三） → 3, ② → 2): for checking the order."""
        return label_number(self.text)


def cn_to_int(numeral: str) -> int | None:
    """The value of a numeral (一千二百五十八, 两千零一, 二〇二三, 12), or None for other text."""
    numeral = numeral.strip()
    if numeral.isdigit():
        return int(numeral)
    if not numeral:
        return None
    if len(numeral) > 1 and all(ch in _DIGITS for ch in numeral):
        return int("".join(str(_DIGITS[ch]) for ch in numeral))  # read digit by digit: 二〇二三
    total = section = 0
    digit: int | None = None
    for ch in numeral:
        if ch in _DIGITS:
            if digit:
                return None  # two digits in a row, as in 一二十
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        elif ch == "万":
            total, section, digit = total + (section + (digit or 0)) * 10_000, 0, None
        elif ch == "亿":
            total, section, digit = (total + section + (digit or 0)) * 10**8, 0, None
        else:
            return None
    return total + section + (digit or 0)


def label_number(label: str) -> int | None:
    """The number a label carries: 第一千条 → 1000, （十一） → 11, 3. → 3, ⑤ → 5, 一是 → 1."""
    for first, last in _GLYPHS.items():
        if label and first <= label[0] <= last:
            return ord(label[0]) - ord(first) + 1
    return cn_to_int(_NOT_NUMERAL.sub("", label.split("之", 1)[0]))


def match_label(paragraph: str, runs: bool = False) -> Label | None:
    """The numbering label that opens a paragraph, or None; ``runs`` also finds 一是, 二是."""
    for kind, pattern in _LABELS:
        match = pattern.match(paragraph)
        if match:
            rest = paragraph[match.end() :].lstrip(" \t\u3000")
            if kind == "arabic" and rest[:1] in ("%", "％"):
                return None
            return Label(kind, match.group(0), rest)
    match = _RUN.match(paragraph) if runs else None
    if match:
        return Label("run", match.group(0), paragraph[match.end() :].lstrip(" \t\u3000"))
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
