"""files → documents → clause tree → tagged clauses."""

from __future__ import annotations

from pathlib import Path

from ingest.cleaning import clean
from ingest.metadata import infer
from ingest.models import ParsedDocument
from ingest.readers import read
from ingest.readers.base import IngestError
from ingest.tagging import tag_clauses
from ingest.tree import build_tree


def parse_file(path: Path | str) -> ParsedDocument:
    """Parse one file; raises IngestError naming the file and the reason on bad input."""
    path = Path(path)
    raw = read(path)
    items = clean(raw)
    document, consumed = infer(raw, items)
    clauses = build_tree(items, consumed, document.doc_id)
    if not clauses:
        raise IngestError(path, "no body text to index (only a title and front matter)")
    tag_clauses(clauses, document)
    return ParsedDocument(document, clauses)
