"""Documents a clause cites: 《title》 with an optional （文号） after it, and bare 文号."""

from __future__ import annotations

import re

from ingest.layout import DOC_NUMBER
from ingest.models import Citation

_TITLE = re.compile(r"《([^《》]{2,120})》")
_NUMBER_AFTER = re.compile(rf"^\s*[（(]\s*({DOC_NUMBER.pattern})\s*[）)]")


def find_citations(text: str, own_number: str | None = None) -> list[Citation]:
    """Citations in order of appearance, each once; the document's own 文号 is not one."""
    found: list[Citation] = []
    taken: list[tuple[int, int]] = []
    for match in _TITLE.finditer(text):
        after = _NUMBER_AFTER.match(text[match.end() :])
        number = _compact(after.group(1)) if after else None
        found.append(Citation(title=match.group(1).strip(), doc_number=number))
        taken.append((match.start(), match.end() + (after.end() if after else 0)))
    for match in DOC_NUMBER.finditer(text) if "号" in text else ():  # every 文号 ends in 号
        if not any(a <= match.start() < b for a, b in taken):
            found.append(Citation(title=None, doc_number=_compact(match.group(0))))
    own = _compact(own_number) if own_number else None
    unique = []
    for citation in found:
        if citation not in unique and not (citation.doc_number == own and citation.title is None):
            unique.append(citation)
    return unique


_LEADING_WORDS = re.compile(
    r"^(?:按照|根据|依据|依照|参照|印发|转发|详见|和|及|与|或|的|见|即|以|由)+"
)


def _compact(number: str) -> str:
    """The 文号 without spaces and without words the pattern caught before it (和, 根据 …)."""
    return _LEADING_WORDS.sub("", re.sub(r"\s", "", number))
