"""The ``windows`` table (FAISS ids) and ``embeddings``, the vector cache keyed by text hash."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

import numpy as np

from index.filters import Filters, unit_condition
from index.store.connection import Tables
from index.windows import Span


class Windows(Tables):
    """The windows cut from each clause, and the cached vector of each window's text."""

    TABLES = """
CREATE TABLE IF NOT EXISTS windows (
    id INTEGER PRIMARY KEY,
    clause INTEGER NOT NULL REFERENCES clauses (id) ON DELETE CASCADE,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_clause ON windows (clause);
CREATE TABLE IF NOT EXISTS embeddings (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""

    def _insert_windows(self, clause: int, spans: list[tuple[Span, str]]) -> None:
        self.db.executemany(
            "INSERT INTO windows (clause, start, end, text_hash) VALUES (?,?,?,?)",
            [(clause, span.start, span.end, digest) for span, digest in spans],
        )

    def cached_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE text_hash IN ({marks})", chunk
            )
            found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
        return found

    def save_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
            [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
        )

    def window_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(window ids, their vectors) for every window: what FAISS is built from."""
        rows = self.db.execute(
            "SELECT w.id, e.vector FROM windows w JOIN embeddings e USING (text_hash) ORDER BY w.id"
        ).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.empty((0, 0), dtype=np.float32)
        return ids, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def window_ids(self, doc_id: str) -> list[int]:
        rows = self.db.execute(
            "SELECT w.id FROM windows w JOIN clauses c ON c.id = w.clause WHERE c.doc_id = ?",
            (doc_id,),
        )
        return [r[0] for r in rows]

    def vectors_of(self, window_ids: list[int]) -> np.ndarray:
        """The cached vectors of these windows, in the order given."""
        found: dict[int, bytes] = {}
        for start in range(0, len(window_ids), 500):
            chunk = window_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    "SELECT w.id, e.vector FROM windows w JOIN embeddings e USING (text_hash)"
                    f" WHERE w.id IN ({marks})",
                    chunk,
                ).fetchall()
            )
        return np.vstack([np.frombuffer(found[i], dtype=np.float32) for i in window_ids])

    def window_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM windows").fetchone()[0]

    def windows_of(self, window_ids: list[int]) -> dict[int, tuple[int, Span]]:
        """window id → (clauses.id, span)."""
        if not window_ids:
            return {}
        marks = ",".join("?" * len(window_ids))
        rows = self.db.execute(
            f"SELECT id, clause, start, end FROM windows WHERE id IN ({marks})", window_ids
        )
        return {r[0]: (r[1], Span(r[2], r[3])) for r in rows}

    def allowed_windows(self, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """Window ids of the clauses that pass the filters."""
        where, params = filters.sql(unit_names)
        rows = self.db.execute(
            "SELECT w.id FROM windows w JOIN clauses c ON c.id = w.clause"
            f" JOIN documents d USING (doc_id) WHERE {where}",
            params,
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def window_documents(self, windows: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(window ids, sorted; the documents.rowid of each): of ``windows``, else of every
        window. What index.doc_map holds to turn selected documents into window ids."""
        if windows is None:  # documents first: clauses_doc and windows_clause cover the join
            return id_pairs(
                self.db,
                "SELECT w.id, d.rowid FROM documents d CROSS JOIN clauses c"
                " ON c.doc_id = d.doc_id CROSS JOIN windows w ON w.clause = c.id",
            )
        return id_pairs(self.db, "SELECT w.id, d.rowid FROM windows w JOIN clauses c"
                        " ON c.id = w.clause JOIN documents d USING (doc_id) WHERE w.id IN ({})",
                        windows)  # fmt: skip

    def window_ranges(self) -> list[tuple[int, int, int, int]]:
        """Per document: (documents.rowid, lowest and highest window id, windows), read as the
        windows of its clause ids' range (a scan of the windows_clause index): right for the
        documents whose clause ids are one run (Lexical.clause_ranges)."""
        return self.db.execute(
            "WITH r AS MATERIALIZED (SELECT d.rowid AS doc, min(c.id) AS lo, max(c.id) AS hi"
            " FROM documents d CROSS JOIN clauses c ON c.doc_id = d.doc_id GROUP BY d.rowid)"
            " SELECT r.doc, min(w.id), max(w.id), count(w.id) FROM r"
            " CROSS JOIN windows w ON w.clause BETWEEN r.lo AND r.hi GROUP BY r.doc"
        ).fetchall()

    def windows_naming(self, unit_names: list[str]) -> np.ndarray:
        """Window ids of the clauses naming the unit, sorted (a unit names few clauses)."""
        named, params = unit_condition(unit_names)
        rows = self.db.execute(
            "SELECT DISTINCT w.id FROM clause_units u CROSS JOIN windows w ON w.clause = u.clause"
            f" WHERE {named}",
            params,
        )
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))


def id_pairs(db, query: str, ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A query's rows of two integers (id, value) as two arrays sorted by id, read without a
    Python object per row; with ``ids``, the query is run on 500 at a time (its ``{}``)."""
    cursor = db.cursor()
    cursor.row_factory = None  # plain tuples
    if ids is None:
        rows = cursor.execute(query)
    else:
        chunks = [ids[i : i + 500] for i in range(0, len(ids), 500)]
        rows = (r for c in chunks for r in cursor.execute(query.format(",".join("?" * len(c))), c))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64)
    order = np.argsort(flat[0::2], kind="stable")
    return flat[0::2][order], flat[1::2][order]
