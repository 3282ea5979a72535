"""Words for BM25 (jieba) and phrases for exact-wording search, on the normalised text.

Clauses are stored pre-cut in an FTS5 table: jieba's search-mode words, joined by spaces
(unicode61 cannot cut Chinese into words). That table is the source of truth; BM25 is
scored in memory from postings built from it (index/lexical_index), exactly as FTS5 would.
Exact wording uses a second FTS5 table with the trigram tokenizer, which finds any substring
of three or more characters whatever jieba makes of it.
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from functools import cache

from ingest.text import normalize

_WORD = re.compile(r"\w")
# Question words and particles: frequent in how users ask, absent from what documents say.
_STOPWORDS = (
    "的 了 和 与 及 或 是 在 有 对 为 把 被 吗 呢 吧 啊 哪些 哪个 什么 怎么 怎样 如何 "
    "是否 能否 可以 能 会 要 需要 我 我们 你 请问 谁 哪里 多少 几 一下 相关 方面 情况 "
    "规定 有关"
)
QUERY_STOPWORDS = frozenset(_STOPWORDS.split())
_QUOTES = "\"'“”‘’「」『』"


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """Search-mode jieba words of the normalised text, lower-cased, punctuation dropped."""
    return [w.lower() for w in _jieba().cut_for_search(normalize(text)) if _WORD.search(w)]


def index_text(text: str) -> str:
    """What the BM25 table stores for a clause: its words joined by spaces."""
    return " ".join(words(text))


def _fts_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def bm25_match(query: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's words, question words left out."""
    terms = list(dict.fromkeys(w for w in words(query) if w not in QUERY_STOPWORDS))
    if not terms:
        terms = list(dict.fromkeys(words(query)))
    return " OR ".join(_fts_string(t) for t in terms) if terms else None


def phrase_key(text: str) -> str:
    """The form exact wording is matched on: normalised, with no whitespace at all.

    Line breaks and spaces inside the original wording never stop a phrase from matching.
    """
    return re.sub(r"\s+", "", normalize(text))


def quoted_phrase(query: str) -> str | None:
    """The phrase inside a fully quoted query ("…" or “…”), else None."""
    stripped = query.strip()
    if len(stripped) >= 3 and stripped[0] in _QUOTES and stripped[-1] in _QUOTES:
        inner = stripped[1:-1].strip()
        return inner or None
    return None


def phrase_match(phrase: str) -> str | None:
    """An FTS5 trigram MATCH for the phrase, or None when it is under three characters."""
    key = phrase_key(phrase)
    return _fts_string(key) if len(key) >= 3 else None


MAX_SPANS = 200  # matched spans marked in one text: enough to read, bounded work per hit


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the terms occur in the display text, ignoring whitespace, width and case.

    Matching runs on the text with whitespace taken out, each character NFKC-folded on
    its own (one character in, one out), so spans map back to display offsets even for a
    phrase that crosses an original line break. Longer terms win where matches overlap;
    at most MAX_SPANS spans are marked, so a huge text costs O(n + spans·log spans).
    """
    haystack = _SPACE.sub("", text).translate(_FOLDS)
    shifts = [at - n for n, at in enumerate(m.start() for m in _SPACE.finditer(text))]

    def shown(index: int) -> int:
        """Where the haystack's character ``index`` stands in the display text."""
        return index + bisect.bisect_right(shifts, index)

    spans = _Spans()
    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        needle = _SPACE.sub("", term).translate(_FOLDS)
        start = haystack.find(needle) if needle else -1
        while start >= 0 and len(spans.starts) < MAX_SPANS:
            spans.add(shown(start), shown(start + len(needle) - 1) + 1)
            start = haystack.find(needle, start + len(needle))
    return list(zip(spans.starts, spans.ends, strict=True))


class _Spans:
    """Disjoint spans kept sorted: a new span that overlaps one already there is dropped."""

    def __init__(self):
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        at = bisect.bisect_left(self.starts, end)  # spans before ``at`` start before ``end``
        if at and self.ends[at - 1] > start:  # disjoint and sorted: the last ends latest
            return
        self.starts.insert(at, start)
        self.ends.insert(at, end)


def _fold(char: str) -> str:
    """One character's matching form: NFKC and lower case, if that keeps it one character."""
    folded = unicodedata.normalize("NFKC", char).lower()
    return folded if len(folded) == 1 else char


class _FoldTable(dict):
    """A ``str.translate`` table of ``_fold``, filled as characters are first seen."""

    def __missing__(self, code: int) -> str:
        self[code] = folded = _fold(chr(code))
        return folded


_FOLDS = _FoldTable()
_SPACE = re.compile(r"\s")
