"""Marked text for the web page: a clause cut into runs, each with the marks that cover it.

Marks are offsets, never HTML: templates print each run escaped inside its own element, so
clause text can hold anything (``<script>`` included) and still shows as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Mark:
    """A span of a text (end exclusive) and what it is: hit, sentence, target, added..."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class Run:
    """Consecutive characters covered by the same marks."""

    text: str
    kinds: tuple[str, ...]

    @property
    def css(self) -> str:
        return " ".join(f"m-{k}" for k in self.kinds)


def runs(text: str, marks: list[Mark]) -> list[Run]:
    """Cut ``text`` where the set of covering marks changes; marks may overlap."""
    cuts = sorted({0, len(text), *(m.start for m in marks), *(m.end for m in marks)})
    cuts = [c for c in cuts if 0 <= c <= len(text)]
    out: list[Run] = []
    for start, end in pairwise(cuts):
        if start == end:
            continue
        kinds = tuple(sorted({m.kind for m in marks if m.start <= start and end <= m.end}))
        out.append(Run(text[start:end], kinds))
    return out


def hit_marks(text: str, highlight: dict | None, targets: list[dict]) -> list[Mark]:
    """A search hit's marks: its best sentence, the matched words, and its targets."""
    marks = []
    if highlight:
        if highlight.get("sentence"):
            marks.append(Mark(*highlight["sentence"], "sentence"))
        marks += [Mark(s, e, "hit") for s, e in highlight.get("spans", [])]
    return marks + target_marks(text, targets)


def target_marks(text: str, targets: list[dict]) -> list[Mark]:
    """Where each target's own wording (培育1万家以上…) sits in the clause text."""
    marks = []
    for target in targets:
        wording = target.get("text") or ""
        start = text.find(wording) if wording else -1
        if start >= 0:
            marks.append(Mark(start, start + len(wording), "target"))
    return marks


def diff_marks(diff: list[dict], side: str) -> list[Mark]:
    """Marks of one side of a source/local pair: ``local`` shows what the locality added or
    changed, ``source`` what it dropped or changed."""
    shown = {"local": ("added", "changed"), "source": ("dropped", "changed")}[side]
    return [Mark(*change[side], change["kind"]) for change in diff if change["kind"] in shown]
