"""The ``documents`` and ``clauses`` tables: writing a document's rows, and reading them back."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

from index.store.connection import Tables
from ingest.models import Clause, Document
from ingest.text import normalize, normalize_brackets

DOCUMENT_COLUMNS = (
    "doc_id, title, doc_number, issuers, date, level, region, status, source, content_hash,"
    " extraction"
)
CLAUSE_COLUMNS = (
    "c.id, c.clause_id, c.doc_id, c.label, c.path, c.text, c.position, c.depth, c.kind,"
    " c.parent_id, c.targets, c.citations"
)


class Documents(Tables):
    """Documents with their metadata, and their clauses in order."""

    TABLES = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, title_key TEXT NOT NULL,
    doc_number TEXT, doc_number_key TEXT, issuers TEXT NOT NULL, date TEXT, year INTEGER,
    level TEXT NOT NULL, region TEXT, status TEXT NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, extraction TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source);
CREATE INDEX IF NOT EXISTS documents_title ON documents (title_key);  -- citations resolve
CREATE INDEX IF NOT EXISTS documents_number ON documents (doc_number_key);  -- by these
CREATE TABLE IF NOT EXISTS clauses (
    id INTEGER PRIMARY KEY, clause_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    label TEXT NOT NULL, path TEXT NOT NULL, text TEXT NOT NULL, position INTEGER NOT NULL,
    depth INTEGER NOT NULL, kind TEXT NOT NULL, parent_id TEXT,
    targets TEXT NOT NULL, citations TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clauses_doc ON clauses (doc_id, position);
"""

    # --- writing --------------------------------------------------------------------------

    def content_hash(self, doc_id: str) -> str | None:
        row = self.db.execute(
            "SELECT content_hash FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return row[0] if row else None

    def doc_ids_from_source(self, source: str) -> list[str]:
        rows = self.db.execute("SELECT doc_id FROM documents WHERE source = ?", (source,))
        return [r[0] for r in rows]

    def _insert_document_row(self, doc: Document) -> None:
        self.db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.doc_id, doc.title, normalize(doc.title), doc.doc_number,
                normalize_brackets(doc.doc_number) if doc.doc_number else None,
                json.dumps(doc.issuers, ensure_ascii=False), doc.date,
                int(doc.date[:4]) if doc.date else None, doc.level.value, doc.region,
                doc.status, doc.source, doc.content_hash, doc.extraction,
            ),
        )  # fmt: skip

    def _insert_clause(self, doc_id: str, clause: Clause) -> int:
        """Insert one clause; returns its ``clauses.id``."""
        return self.db.execute(
            "INSERT INTO clauses (clause_id, doc_id, label, path, text, position, depth,"
            " kind, parent_id, targets, citations) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                clause.clause_id, doc_id, clause.label, _json(clause.path), clause.text,
                clause.position, clause.depth, clause.kind, clause.parent_id,
                _json([asdict(t) for t in clause.targets]),
                _json([asdict(c) for c in clause.citations]),
            ),
        ).lastrowid  # fmt: skip

    def _clause_ids(self, doc_id: str) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM clauses WHERE doc_id = ?", (doc_id,))]

    def _delete_document_row(self, doc_id: str) -> bool:
        """Delete a document; its clauses and every row hanging from them go by cascade."""
        return self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount > 0

    # --- reading --------------------------------------------------------------------------

    def documents(self) -> list[sqlite3.Row]:
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS}, (SELECT count(*) FROM clauses c"
            " WHERE c.doc_id = d.doc_id) AS clauses FROM documents d ORDER BY level, region, title"
        ).fetchall()

    def document_rows(self) -> list[sqlite3.Row]:
        """``documents`` without the clause count, in the same order: linking reads every
        document each change, and counting their clauses cost most of it."""
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents d ORDER BY level, region, title"
        ).fetchall()

    def document(self, doc_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()

    def clauses_of(self, doc_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            f"SELECT {CLAUSE_COLUMNS} FROM clauses c WHERE c.doc_id = ? ORDER BY c.position",
            (doc_id,),
        ).fetchall()

    def clause_by_id(self, clause_id: str) -> sqlite3.Row | None:
        return self.db.execute(
            f"SELECT {CLAUSE_COLUMNS} FROM clauses c WHERE c.clause_id = ?", (clause_id,)
        ).fetchone()

    def clause_rows(self, ids: list[int]) -> dict[int, sqlite3.Row]:
        """Clauses with their document's title, 文号, level and region, by clauses.id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT {CLAUSE_COLUMNS}, d.title AS doc_title, d.doc_number, d.level, d.region"
            f" FROM clauses c JOIN documents d USING (doc_id) WHERE c.id IN ({marks})",
            ids,
        )
        return {r["id"]: r for r in rows}

    def find_documents(self, ref: str) -> list[sqlite3.Row]:
        """Documents a reference names: a doc_id or 文号 exactly, else a part of the title."""
        key = normalize(ref)
        exact = self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ? OR doc_number_key = ?",
            (key, normalize_brackets(key)),
        ).fetchall()
        if exact:
            return exact
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE instr(title_key, ?) > 0"
            " ORDER BY title",
            (key,),
        ).fetchall()

    def documents_by_title(self, keys: list[str]) -> list[sqlite3.Row]:
        marks = ",".join("?" * len(keys))
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE title_key IN ({marks})"
            " ORDER BY date DESC",
            keys,
        ).fetchall()

    def documents_by_number(self, number: str) -> list[sqlite3.Row]:
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE doc_number_key = ?",
            (normalize_brackets(number),),
        ).fetchall()

    def regions(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT region FROM documents WHERE region IS NOT NULL")
        return [r[0] for r in rows]


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)
