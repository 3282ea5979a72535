"""``Store``: every table family on one connection, plus the writes and reads that span
families; ``ReadPool``: read connections reused across concurrent readers."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.store.connection import Connection
from index.store.documents import CLAUSE_COLUMNS, Documents
from index.store.lexical import Lexical
from index.store.links import Links
from index.store.owners import Owners
from index.store.validity import Validity
from index.store.windows import Windows
from index.windows import Span
from ingest.models import ParsedDocument

# In the order KBs have always created their tables (sqlite_master's order, .dump's).
FAMILIES = (Connection, Documents, Owners, Windows, Links, Validity, Lexical)
SCHEMA = "".join(family.TABLES for family in FAMILIES)


class Store(*FAMILIES):
    """One connection to a KB's SQLite database: the writer's, or a reader's (``read_only``)."""

    SCHEMA = SCHEMA

    def insert_document(
        self, parsed: ParsedDocument, clause_windows: list[list[tuple[Span, str]]]
    ) -> None:
        """Insert a document; ``clause_windows[i]`` lists (span, text hash) of clause i."""
        doc = parsed.document
        self._insert_document_row(doc)
        self._insert_validity(doc)
        for clause, spans in zip(parsed.clauses, clause_windows, strict=True):
            row = self._insert_clause(doc.doc_id, clause)
            self._insert_units(row, clause.units)
            self._insert_windows(row, spans)
            self._index_clause(row, clause.text)

    def delete_document(self, doc_id: str) -> bool:
        """Delete a document with its clauses, tags, windows and FTS rows."""
        self._unindex_clauses(self._clause_ids(doc_id))
        return self._delete_document_row(doc_id)

    def counts(self) -> dict[str, int]:
        return {
            "documents": self.db.execute("SELECT count(*) FROM documents").fetchone()[0],
            "clauses": self.db.execute("SELECT count(*) FROM clauses").fetchone()[0],
            "windows": self.window_count(),
        }

    def clause_vectors(self, doc_id: str) -> tuple[list[sqlite3.Row], np.ndarray]:
        """A document's clauses and one unit vector each: the mean of its windows' vectors."""
        return self.clause_vectors_of([doc_id])[doc_id]

    def clause_vectors_of(self, doc_ids: list[str]) -> dict[str, tuple[list, np.ndarray]]:
        """``clause_vectors`` of several documents, the same arrays, in two queries a chunk:
        linking reads a change's relinked documents and their sources together."""
        found: dict[str, tuple[list, np.ndarray]] = {}
        for start in range(0, len(doc_ids), 500):
            chunk = list(dict.fromkeys(doc_ids[start : start + 500]))
            marks = ",".join("?" * len(chunk))
            clauses: dict[str, list] = {d: [] for d in chunk}
            for row in self.db.execute(
                f"SELECT {CLAUSE_COLUMNS} FROM clauses c WHERE c.doc_id IN ({marks})"
                " ORDER BY c.doc_id, c.position", chunk,
            ):  # fmt: skip
                clauses[row["doc_id"]].append(row)
            sums: dict[int, np.ndarray] = {}
            for clause, blob in self.db.execute(
                "SELECT w.clause, e.vector FROM windows w JOIN embeddings e USING (text_hash)"
                f" JOIN clauses c ON c.id = w.clause WHERE c.doc_id IN ({marks}) ORDER BY w.id",
                chunk,
            ):  # fmt: skip
                vector = np.frombuffer(blob, dtype=np.float32)
                sums[clause] = sums[clause] + vector if clause in sums else vector.copy()
            found |= {d: _unit_rows(clauses[d], sums) for d in chunk}
        return found


def _unit_rows(clauses: list, sums: dict[int, np.ndarray]) -> tuple[list, np.ndarray]:
    """The clauses that have windows and their summed vectors, each scaled to unit length."""
    kept = [c for c in clauses if c["id"] in sums]
    if not kept:
        return [], np.empty((0, 0), dtype=np.float32)
    matrix = np.vstack([sums[c["id"]] for c in kept])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12
    return kept, matrix


class ReadPool:
    """Read connections handed out one per concurrent reader and reused: with WAL, each
    reader's transaction sees one committed state while the writer goes on."""

    def __init__(self, path: Path):
        self.path = path
        self._idle: list[Store] = []
        self._lock = threading.Lock()

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """A connection inside a read transaction, for one request (or one CLI search)."""
        with self._lock:
            store = self._idle.pop() if self._idle else None
        store = store or Store(self.path, read_only=True)
        try:
            with store.snapshot():
                yield store
        finally:
            with self._lock:
                self._idle.append(store)

    def close(self) -> None:
        with self._lock:
            for store in self._idle:
                store.close()
            self._idle.clear()
