"""The ``doc_links``, ``clause_links``, ``doc_sources`` and ``doc_vectors`` tables: links
across documents."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from index.store.connection import Tables


class Links(Tables):
    """Document-to-document links from citations, clause-to-clause links (index.links), and
    the one vector per document that picks the candidates for the latter."""

    TABLES = """
CREATE TABLE IF NOT EXISTS doc_links (
    doc_id TEXT NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    title TEXT, doc_number TEXT, target TEXT, relation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_links_doc ON doc_links (doc_id);
CREATE INDEX IF NOT EXISTS doc_links_target ON doc_links (target);
CREATE TABLE IF NOT EXISTS clause_links (
    clause_id TEXT NOT NULL, doc_id TEXT NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    source_id TEXT NOT NULL, source_doc TEXT NOT NULL, rank INTEGER NOT NULL,
    score REAL NOT NULL, kind TEXT NOT NULL, diff TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clause_links_clause ON clause_links (clause_id);
CREATE INDEX IF NOT EXISTS clause_links_source ON clause_links (source_id);
CREATE INDEX IF NOT EXISTS clause_links_doc ON clause_links (doc_id);
CREATE TABLE IF NOT EXISTS doc_sources (
    doc_id TEXT PRIMARY KEY REFERENCES documents (doc_id) ON DELETE CASCADE,
    sources TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS doc_vectors (
    doc_id TEXT PRIMARY KEY REFERENCES documents (doc_id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
"""

    # --- document vectors -----------------------------------------------------------------

    def save_doc_vector(self, doc_id: str, vector: np.ndarray) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO doc_vectors VALUES (?, ?)",
            (doc_id, np.asarray(vector, dtype=np.float32).tobytes()),
        )

    def doc_vectors(self) -> dict[str, np.ndarray]:
        rows = self.db.execute("SELECT doc_id, vector FROM doc_vectors")
        return {d: np.frombuffer(v, dtype=np.float32) for d, v in rows}

    # --- document links -------------------------------------------------------------------

    def all_citations(self, doc_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT citations FROM clauses WHERE doc_id = ? AND citations != '[]'"
            " ORDER BY position",
            (doc_id,),
        )
        return [c for (blob,) in rows for c in json.loads(blob)]

    def replace_doc_links(self, doc_id: str, links: list[tuple]) -> None:
        """links: (title, doc_number, target doc_id or None, relation)."""
        self.db.execute("DELETE FROM doc_links WHERE doc_id = ?", (doc_id,))
        self.db.executemany(
            "INSERT INTO doc_links VALUES (?,?,?,?,?)", [(doc_id, *link) for link in links]
        )

    def doc_links(self, doc_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT l.title, l.doc_number, l.target, l.relation, d.title AS target_title"
            " FROM doc_links l LEFT JOIN documents d ON d.doc_id = l.target"
            " WHERE l.doc_id = ? ORDER BY l.rowid",
            (doc_id,),
        ).fetchall()

    def linked_from(self, target: str) -> list[str]:
        """Documents whose citations resolve to ``target``."""
        rows = self.db.execute("SELECT DISTINCT doc_id FROM doc_links WHERE target = ?", (target,))
        return [r[0] for r in rows]

    def doc_links_to(self, target: str) -> list[sqlite3.Row]:
        """Documents whose citations resolve to ``target``, with the relation, newest first."""
        return self.db.execute(
            "SELECT DISTINCT l.doc_id, l.relation, d.title, d.doc_number, d.level, d.region"
            " FROM doc_links l JOIN documents d USING (doc_id) WHERE l.target = ?"
            " ORDER BY d.date DESC, d.title",
            (target,),
        ).fetchall()

    def unresolved_citations(self) -> list[tuple[str, str | None, str | None]]:
        """(doc_id, title, 文号) of every citation no document in the KB answers yet."""
        rows = self.db.execute(
            "SELECT doc_id, title, doc_number FROM doc_links WHERE target IS NULL"
        )
        return [tuple(r) for r in rows]

    # --- clause links ---------------------------------------------------------------------

    def replace_clause_links(self, doc_id: str, links: list[tuple]) -> None:
        """links: (clause_id, source_id, source_doc, rank, score, kind, diff JSON)."""
        self.db.execute("DELETE FROM clause_links WHERE doc_id = ?", (doc_id,))
        self.db.executemany(
            "INSERT INTO clause_links (clause_id, doc_id, source_id, source_doc, rank, score,"
            " kind, diff) VALUES (?,?,?,?,?,?,?,?)",
            [(link[0], doc_id, *link[1:]) for link in links],
        )

    def save_doc_sources(self, doc_id: str, sources: list[str]) -> None:
        """The documents whose clauses ``doc_id``'s clause links were computed against."""
        self.db.execute(
            "INSERT OR REPLACE INTO doc_sources VALUES (?, ?)", (doc_id, json.dumps(sources))
        )

    def doc_sources(self) -> dict[str, set[str]]:
        """doc_id → its recorded source documents (a document linked before they were
        recorded is absent)."""
        rows = self.db.execute("SELECT doc_id, sources FROM doc_sources")
        return {doc_id: set(json.loads(sources)) for doc_id, sources in rows}

    def clause_links(self, column: str, clause_id: str) -> list[sqlite3.Row]:
        """Links by local clause (``column`` = clause_id) or by source (``source_id``)."""
        assert column in ("clause_id", "source_id")
        return self.db.execute(
            f"SELECT * FROM clause_links WHERE {column} = ? ORDER BY rank, score DESC",
            (clause_id,),
        ).fetchall()

    def derived_counts(self, source_doc: str) -> dict[str, int]:
        """How many local clauses link to each clause of ``source_doc``."""
        rows = self.db.execute(
            "SELECT source_id, count(*) FROM clause_links WHERE source_doc = ? GROUP BY source_id",
            (source_doc,),
        )
        return dict(rows.fetchall())

    def clause_links_of_doc(self, doc_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM clause_links WHERE doc_id = ? ORDER BY rowid", (doc_id,)
        ).fetchall()
