"""What the model reads for each window: the window's text alone, or the text in its context.

A window of a 项 such as 犯罪嫌疑人系未成年人的； says little alone. Read after its
document's title, its clause path and its own label, it carries the law and the article it
belongs to. A KB embeds every window in one form, recorded in its manifest (``passage``):
the vector cache is keyed by the text the model read, so the forms never share a vector.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.windows import Span, windows
from ingest.models import Clause, ParsedDocument

FORMS = ("text", "context")
DEFAULT_FORM = "text"  # "context" is measured in docs/benchmarks.md (STARD and the seeds)


class UnknownPassageForm(ValueError):
    """A passage form this version does not know."""


@dataclass(frozen=True)
class Passage:
    """One window of a clause: its offsets into the clause text and the text the model reads."""

    span: Span
    text: str


def in_context(title: str, path: list[str], label: str, text: str) -> str:
    """The window as read in context: document title, clause path, the clause's label, text."""
    return " ".join(part for part in (title, *path, label, text) if part)


def check_form(form: str) -> str:
    """``form`` itself, when it is one of FORMS."""
    if form not in FORMS:
        raise UnknownPassageForm(f"passage form {form!r}: expected one of {', '.join(FORMS)}")
    return form


def clause_passages(title: str, clause: Clause, form: str) -> list[Passage]:
    """The windows of ``clause``, each with the text the model reads in ``form``."""
    spans = windows(clause.text)
    texts = [clause.text[s.start : s.end] for s in spans]
    if check_form(form) == "context":
        texts = [in_context(title, clause.path, clause.label, t) for t in texts]
    return [Passage(s, t) for s, t in zip(spans, texts, strict=True)]


def document_passages(doc: ParsedDocument, form: str) -> list[list[Passage]]:
    """Each clause's passages, in clause order."""
    return [clause_passages(doc.document.title, c, form) for c in doc.clauses]
