"""Split long clauses into overlapping windows of whole sentences for embedding.

A clause is embedded whole when it is short. A long one (a law article with many 款, a
task with a page of detail) would be truncated by the model or blurred into one vector,
so it gets windows of consecutive sentences that overlap by one sentence. Search returns
clauses; the best window points at the sentence to mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 256  # about 256 model tokens of Chinese, half of e5's 512
_SENTENCE_END = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)]*|\n|$)")


@dataclass(frozen=True)
class Span:
    """[start, end) character offsets into a clause's text."""

    start: int
    end: int


def sentences(text: str) -> list[Span]:
    """Sentence spans: text up to and including 。！？； (and any closing quote)."""
    spans = []
    for match in _SENTENCE_END.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        if end > start:
            spans.append(Span(start, end))
    return spans


def windows(text: str, max_chars: int = MAX_CHARS) -> list[Span]:
    """One span for a short text; else runs of sentences up to max_chars, overlapping by one."""
    if len(text) <= max_chars:
        return [Span(0, len(text))]
    spans = _split_long(sentences(text), max_chars)
    result: list[Span] = []
    first = 0
    while first < len(spans):
        last = first
        while last + 1 < len(spans) and spans[last + 1].end - spans[first].start <= max_chars:
            last += 1
        result.append(Span(spans[first].start, spans[last].end))
        if last == len(spans) - 1:
            break
        first = last if last > first else last + 1
    return result


def _split_long(spans: list[Span], max_chars: int) -> list[Span]:
    """Cut any single sentence longer than max_chars into max_chars pieces."""
    out = []
    for span in spans:
        for start in range(span.start, span.end, max_chars):
            out.append(Span(start, min(start + max_chars, span.end)))
    return out
