"""The SQLite side of a KB: documents, clauses, tags, windows, cached vectors, FTS5 tables.

FAISS ids are ``windows.id``; a window belongs to one clause (``clauses.id``, which is
also the rowid of both FTS5 tables). Writes happen inside ``transaction()`` only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from index.filters import Filters
from index.lexical import index_text, phrase_key
from index.windows import Span
from ingest.models import ParsedDocument
from ingest.text import normalize, normalize_brackets

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, title_key TEXT NOT NULL,
    doc_number TEXT, doc_number_key TEXT, issuers TEXT NOT NULL, date TEXT, year INTEGER,
    level TEXT NOT NULL, region TEXT, status TEXT NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, extraction TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source);
CREATE TABLE IF NOT EXISTS clauses (
    id INTEGER PRIMARY KEY, clause_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents (doc_id) ON DELETE CASCADE,
    label TEXT NOT NULL, path TEXT NOT NULL, text TEXT NOT NULL, position INTEGER NOT NULL,
    depth INTEGER NOT NULL, kind TEXT NOT NULL, parent_id TEXT,
    targets TEXT NOT NULL, citations TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clauses_doc ON clauses (doc_id, position);
CREATE TABLE IF NOT EXISTS clause_units (
    clause INTEGER NOT NULL REFERENCES clauses (id) ON DELETE CASCADE,
    name TEXT NOT NULL, canonical TEXT NOT NULL, role TEXT NOT NULL, kind TEXT NOT NULL,
    region TEXT
);
CREATE INDEX IF NOT EXISTS clause_units_clause ON clause_units (clause);
CREATE INDEX IF NOT EXISTS clause_units_canonical ON clause_units (canonical);
CREATE INDEX IF NOT EXISTS clause_units_name ON clause_units (name);
CREATE TABLE IF NOT EXISTS windows (
    id INTEGER PRIMARY KEY,
    clause INTEGER NOT NULL REFERENCES clauses (id) ON DELETE CASCADE,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_clause ON windows (clause);
CREATE TABLE IF NOT EXISTS embeddings (text_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
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
CREATE TABLE IF NOT EXISTS doc_vectors (
    doc_id TEXT PRIMARY KEY REFERENCES documents (doc_id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS doc_validity (
    doc_id TEXT PRIMARY KEY REFERENCES documents (doc_id) ON DELETE CASCADE,
    evidence TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS doc_status (
    doc_id TEXT PRIMARY KEY REFERENCES documents (doc_id) ON DELETE CASCADE,
    group_id TEXT NOT NULL, version INTEGER NOT NULL, superseded_by TEXT,
    draft INTEGER NOT NULL, valid_from TEXT, valid_to TEXT, ended_by TEXT,
    from_reason TEXT, to_reason TEXT, reason_doc TEXT
);
CREATE INDEX IF NOT EXISTS doc_status_group ON doc_status (group_id);
CREATE VIRTUAL TABLE IF NOT EXISTS clauses_bm25 USING fts5 (words, tokenize = 'unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS clauses_phrase USING fts5 (key, tokenize = 'trigram');
"""

DOCUMENT_COLUMNS = (
    "doc_id, title, doc_number, issuers, date, level, region, status, source, content_hash,"
    " extraction"
)
CLAUSE_COLUMNS = (
    "c.id, c.clause_id, c.doc_id, c.label, c.path, c.text, c.position, c.depth, c.kind,"
    " c.parent_id, c.targets, c.citations"
)


class Store:
    """One connection to a KB's SQLite database: the writer's, or a reader's (``read_only``)."""

    def __init__(self, path: Path, read_only: bool = False):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if read_only:  # the writer made the schema and WAL mode; a reader never writes
            self.db.execute("PRAGMA query_only = ON")
            return
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same committed state (WAL)."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: any exception (or Ctrl-C) rolls every write back."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # --- writing documents -----------------------------------------------------------------

    def content_hash(self, doc_id: str) -> str | None:
        row = self.db.execute(
            "SELECT content_hash FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        return row[0] if row else None

    def doc_ids_from_source(self, source: str) -> list[str]:
        rows = self.db.execute("SELECT doc_id FROM documents WHERE source = ?", (source,))
        return [r[0] for r in rows]

    def delete_document(self, doc_id: str) -> bool:
        """Delete a document with its clauses, tags, windows and FTS rows."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM clauses WHERE doc_id = ?", (doc_id,))]
        for table in ("clauses_bm25", "clauses_phrase"):
            self.db.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(i,) for i in ids])
        return self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount > 0

    def insert_document(
        self, parsed: ParsedDocument, clause_windows: list[list[tuple[Span, str]]]
    ) -> None:
        """Insert a document; ``clause_windows[i]`` lists (span, text hash) of clause i."""
        doc = parsed.document
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
        self.db.execute(
            "INSERT INTO doc_validity VALUES (?, ?)", (doc.doc_id, _json(asdict(doc.validity)))
        )
        for clause, spans in zip(parsed.clauses, clause_windows, strict=True):
            row = self.db.execute(
                "INSERT INTO clauses (clause_id, doc_id, label, path, text, position, depth,"
                " kind, parent_id, targets, citations) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    clause.clause_id, doc.doc_id, clause.label, _json(clause.path), clause.text,
                    clause.position, clause.depth, clause.kind, clause.parent_id,
                    _json([asdict(t) for t in clause.targets]),
                    _json([asdict(c) for c in clause.citations]),
                ),
            ).lastrowid  # fmt: skip
            self.db.executemany(
                "INSERT INTO clause_units VALUES (?,?,?,?,?,?)",
                [(row, normalize_brackets(u.name), u.canonical, u.role.value, u.kind, u.region)
                 for u in clause.units],
            )  # fmt: skip
            self.db.executemany(
                "INSERT INTO windows (clause, start, end, text_hash) VALUES (?,?,?,?)",
                [(row, span.start, span.end, digest) for span, digest in spans],
            )
            self.db.execute(
                "INSERT INTO clauses_bm25 (rowid, words) VALUES (?, ?)",
                (row, index_text(clause.text)),
            )
            self.db.execute(
                "INSERT INTO clauses_phrase (rowid, key) VALUES (?, ?)",
                (row, phrase_key(clause.text)),
            )

    # --- vectors ----------------------------------------------------------------------------

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

    def counts(self) -> dict[str, int]:
        return {
            "documents": self.db.execute("SELECT count(*) FROM documents").fetchone()[0],
            "clauses": self.db.execute("SELECT count(*) FROM clauses").fetchone()[0],
            "windows": self.window_count(),
        }

    def window_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM windows").fetchone()[0]

    # --- reading ----------------------------------------------------------------------------

    def documents(self) -> list[sqlite3.Row]:
        return self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS}, (SELECT count(*) FROM clauses c"
            " WHERE c.doc_id = d.doc_id) AS clauses FROM documents d ORDER BY level, region, title"
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

    def units_of(self, ids: list[int]) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {i: [] for i in ids}
        if not ids:
            return out
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT clause, name, canonical, role, kind, region FROM clause_units"
            f" WHERE clause IN ({marks}) ORDER BY rowid",
            ids,
        )
        for r in rows:
            out[r["clause"]].append(
                {"name": r["name"], "canonical": r["canonical"], "role": r["role"],
                 "kind": r["kind"], "region": r["region"]}
            )  # fmt: skip
        return out

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

    # --- cross-level links ---------------------------------------------------------------------

    def clause_vectors(self, doc_id: str) -> tuple[list[sqlite3.Row], np.ndarray]:
        """A document's clauses and one unit vector each: the mean of its windows' vectors."""
        clauses = self.clauses_of(doc_id)
        rows = self.db.execute(
            "SELECT w.clause, e.vector FROM windows w JOIN embeddings e USING (text_hash)"
            " JOIN clauses c ON c.id = w.clause WHERE c.doc_id = ? ORDER BY w.id",
            (doc_id,),
        ).fetchall()
        sums: dict[int, np.ndarray] = {}
        for clause, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            sums[clause] = sums[clause] + vector if clause in sums else vector.copy()
        kept = [c for c in clauses if c["id"] in sums]
        if not kept:
            return [], np.empty((0, 0), dtype=np.float32)
        matrix = np.vstack([sums[c["id"]] for c in kept])
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12
        return kept, matrix

    def save_doc_vector(self, doc_id: str, vector: np.ndarray) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO doc_vectors VALUES (?, ?)",
            (doc_id, np.asarray(vector, dtype=np.float32).tobytes()),
        )

    def doc_vectors(self) -> dict[str, np.ndarray]:
        rows = self.db.execute("SELECT doc_id, vector FROM doc_vectors")
        return {d: np.frombuffer(v, dtype=np.float32) for d, v in rows}

    def all_citations(self, doc_id: str) -> list[dict]:
        rows = self.db.execute(
            "SELECT citations FROM clauses WHERE doc_id = ? AND citations != '[]'"
            " ORDER BY position",
            (doc_id,),
        )
        return [c for (blob,) in rows for c in json.loads(blob)]

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

    def documents_with_unresolved_citations(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT doc_id FROM doc_links WHERE target IS NULL")
        return [r[0] for r in rows]

    def replace_clause_links(self, doc_id: str, links: list[tuple]) -> None:
        """links: (clause_id, source_id, source_doc, rank, score, kind, diff JSON)."""
        self.db.execute("DELETE FROM clause_links WHERE doc_id = ?", (doc_id,))
        self.db.executemany(
            "INSERT INTO clause_links (clause_id, doc_id, source_id, source_doc, rank, score,"
            " kind, diff) VALUES (?,?,?,?,?,?,?,?)",
            [(link[0], doc_id, *link[1:]) for link in links],
        )

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

    # --- validity and versions (index.versions) -------------------------------------------------

    def validity_evidence(self) -> dict[str, dict]:
        """doc_id → what its sidecar, catalogue or text said of its validity (ingest.validity)."""
        rows = self.db.execute("SELECT doc_id, evidence FROM doc_validity")
        return {d: json.loads(e) for d, e in rows}

    def replace_statuses(self, rows: list[tuple]) -> None:
        """rows: (doc_id, group_id, version, superseded_by, draft, valid_from, valid_to,
        ended_by, from_reason, to_reason, reason_doc) for every document."""
        self.db.execute("DELETE FROM doc_status")
        self.db.executemany("INSERT INTO doc_status VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def statuses(self, doc_ids: list[str] | None = None) -> dict[str, sqlite3.Row]:
        """doc_id → its doc_status row (all documents, or those given)."""
        if doc_ids is None:
            return {r["doc_id"]: r for r in self.db.execute("SELECT * FROM doc_status")}
        found: dict[str, sqlite3.Row] = {}
        for start in range(0, len(doc_ids), 500):
            chunk = doc_ids[start : start + 500]
            rows = self.db.execute(
                f"SELECT * FROM doc_status WHERE doc_id IN ({','.join('?' * len(chunk))})", chunk
            )
            found.update((r["doc_id"], r) for r in rows)
        return found

    def group_members(self, group_id: str) -> list[sqlite3.Row]:
        """The versions of one group, oldest first, with their documents' metadata."""
        return self.db.execute(
            f"SELECT s.*, {', '.join('d.' + c.strip() for c in DOCUMENT_COLUMNS.split(','))}"
            " FROM doc_status s JOIN documents d USING (doc_id) WHERE s.group_id = ?"
            " ORDER BY s.version",
            (group_id,),
        ).fetchall()

    def superseded_windows(self, window_ids: list[int]) -> set[int]:
        """Those of these windows whose document a newer version or a repeal superseded."""
        if not window_ids:
            return set()
        marks = ",".join("?" * len(window_ids))
        rows = self.db.execute(
            "SELECT w.id FROM windows w JOIN clauses c ON c.id = w.clause"
            " JOIN doc_status s ON s.doc_id = c.doc_id"
            f" WHERE w.id IN ({marks}) AND s.superseded_by IS NOT NULL",
            window_ids,
        )
        return {r[0] for r in rows}

    # --- units and targets ---------------------------------------------------------------------

    def unit_names(self) -> list[sqlite3.Row]:
        """Every (canonical, name as written, role) with its region, kind and clause count."""
        return self.db.execute(
            "SELECT canonical, name, role, kind, region, count(DISTINCT clause) AS clauses"
            " FROM clause_units GROUP BY canonical, name, role ORDER BY canonical"
        ).fetchall()

    def unit_clauses(self, canonical: str, region: str | None = None) -> list[sqlite3.Row]:
        """Clauses naming a unit, with its role; optionally only in one region's documents."""
        condition, params = "", [canonical]
        if region:
            condition, params = " AND (d.region = ? OR d.region LIKE ? || '%')", [
                canonical, region, region,
            ]  # fmt: skip
        return self.db.execute(
            f"SELECT {CLAUSE_COLUMNS}, u.role, d.title AS doc_title, d.doc_number, d.region"
            " FROM clause_units u JOIN clauses c ON c.id = u.clause JOIN documents d USING (doc_id)"
            f" WHERE u.canonical = ?{condition} ORDER BY d.date DESC, d.doc_id, c.position",
            params,
        ).fetchall()

    def target_rows(self, filters: Filters) -> list[sqlite3.Row]:
        """Clauses that carry targets, with their document's title, level and region."""
        where, params = filters.sql([])
        return self.db.execute(
            f"SELECT {CLAUSE_COLUMNS}, d.title AS doc_title, d.doc_number, d.level, d.region,"
            " d.year AS doc_year FROM clauses c JOIN documents d USING (doc_id)"
            f" WHERE c.targets != '[]' AND {where} ORDER BY d.level, d.doc_id, c.position",
            params,
        ).fetchall()

    def windows_of(self, window_ids: list[int]) -> dict[int, tuple[int, Span]]:
        """window id → (clauses.id, span)."""
        if not window_ids:
            return {}
        marks = ",".join("?" * len(window_ids))
        rows = self.db.execute(
            f"SELECT id, clause, start, end FROM windows WHERE id IN ({marks})", window_ids
        )
        return {r[0]: (r[1], Span(r[2], r[3])) for r in rows}

    # --- search -----------------------------------------------------------------------------

    def regions(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT region FROM documents WHERE region IS NOT NULL")
        return [r[0] for r in rows]

    def allowed_windows(self, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """Window ids of the clauses that pass the filters."""
        where, params = filters.sql(unit_names)
        rows = self.db.execute(
            "SELECT w.id FROM windows w JOIN clauses c ON c.id = w.clause"
            f" JOIN documents d USING (doc_id) WHERE {where}",
            params,
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def fts(
        self, table: str, match: str, limit: int, filters: Filters, unit_names: list[str]
    ) -> list[tuple[int, float]]:
        """(clauses.id, score) from an FTS5 table, best first; score = -bm25 (higher better)."""
        where, params = filters.sql(unit_names)
        rows = self.db.execute(
            f"SELECT f.rowid, -bm25({table}) FROM {table} f"
            " JOIN clauses c ON c.id = f.rowid JOIN documents d USING (doc_id)"
            f" WHERE {table} MATCH ? AND {where} ORDER BY bm25({table}) LIMIT ?",
            [match, *params, limit],
        )
        return [(r[0], float(r[1])) for r in rows]

    def substring_matches(
        self, key: str, limit: int, filters: Filters, unit_names: list[str]
    ) -> list[int]:
        """Clauses whose phrase key contains ``key``: for phrases too short for trigrams."""
        where, params = filters.sql(unit_names)
        rows = self.db.execute(
            "SELECT f.rowid FROM clauses_phrase f JOIN clauses c ON c.id = f.rowid"
            " JOIN documents d USING (doc_id)"
            f" WHERE instr(f.key, ?) > 0 AND {where} ORDER BY c.doc_id, c.position LIMIT ?",
            [key, *params, limit],
        )
        return [r[0] for r in rows]


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


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)
