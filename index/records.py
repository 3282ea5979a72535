"""What the KB hands back when read: typed records, apart from SQLite rows."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field


@dataclass
class StoredDocument:
    doc_id: str
    title: str
    doc_number: str | None
    issuers: list[str]
    date: str | None
    level: str
    region: str | None
    status: str
    source: str
    clauses: int = 0
    extraction: str = "text"

    @classmethod
    def from_row(cls, row: sqlite3.Row, clauses: int = 0) -> StoredDocument:
        return cls(
            row["doc_id"], row["title"], row["doc_number"], json.loads(row["issuers"]),
            row["date"], row["level"], row["region"], row["status"], row["source"], clauses,
            row["extraction"],
        )  # fmt: skip


@dataclass
class StoredClause:
    clause_id: str
    doc_id: str
    label: str
    path: list[str]
    text: str
    position: int
    depth: int
    kind: str
    parent_id: str | None
    units: list[dict]
    targets: list[dict]
    citations: list[dict]
    children: list[StoredClause] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: sqlite3.Row, units: list[dict]) -> StoredClause:
        return cls(
            row["clause_id"], row["doc_id"], row["label"], json.loads(row["path"]), row["text"],
            row["position"], row["depth"], row["kind"], row["parent_id"], units,
            json.loads(row["targets"]), json.loads(row["citations"]),
        )  # fmt: skip


@dataclass
class ClauseCitation:
    """Which clause of which document: what every clause-level answer starts with."""

    clause_id: str
    doc_id: str
    doc_title: str
    doc_number: str | None
    level: str
    region: str | None


class DocumentNotFound(LookupError):
    """No document, or more than one, answers to a reference; the message lists the matches."""


def clause_tree(clauses: list[StoredClause]) -> list[StoredClause]:
    """Nest clauses (in document order) under their parents; returns the roots."""
    by_id = {c.clause_id: c for c in clauses}
    roots = []
    for clause in clauses:
        parent = by_id.get(clause.parent_id) if clause.parent_id else None
        (parent.children if parent else roots).append(clause)
    return roots
