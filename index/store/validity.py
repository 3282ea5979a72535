"""The ``doc_validity``, ``doc_status`` and ``version_keys`` tables: what documents say of their
validity, the versions and status index.versions derives from it, and the title keys that
tell which documents a change touches."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

from index.store.connection import Tables
from index.store.documents import DOCUMENT_COLUMNS
from ingest.models import Document


class Validity(Tables):
    """Each document's validity evidence (from ingest.validity), and its derived status."""

    TABLES = """
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
CREATE TABLE IF NOT EXISTS version_keys (
    doc_id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (doc_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS version_keys_key ON version_keys (key);
"""
    # version_keys has no foreign key on purpose: a removed document's keys stay until the next
    # versions.refresh, which reads them to find the groups the removal touched, then drops them.

    def _insert_validity(self, doc: Document) -> None:
        evidence = json.dumps(asdict(doc.validity), ensure_ascii=False)
        self.db.execute("INSERT INTO doc_validity VALUES (?, ?)", (doc.doc_id, evidence))

    def validity_evidence(self, doc_ids: list[str] | None = None) -> dict[str, dict]:
        """doc_id → what its sidecar, catalogue or text said of its validity (ingest.validity),
        for every document or those given."""
        rows = self._rows("SELECT doc_id, evidence FROM doc_validity", doc_ids)
        return {d: json.loads(e) for d, e in rows}

    def version_documents(self, doc_ids: list[str] | None = None) -> list[dict]:
        """What versions are resolved from (doc_id, title, date, region, status, level), for
        every document or those given, in one order whatever the subset: level, region, title."""
        query = "SELECT doc_id, title, date, region, status, level FROM documents"
        rows = [dict(r) for r in self._rows(query, doc_ids)]
        return sorted(rows, key=lambda d: (d["level"], d["region"] or "", d["title"], d["doc_id"]))

    def replace_statuses(self, rows: list[tuple], doc_ids: list[str] | None = None) -> None:
        """rows: (doc_id, group_id, version, superseded_by, draft, valid_from, valid_to,
        ended_by, from_reason, to_reason, reason_doc) for every document, or for ``doc_ids``."""
        self._delete("doc_status", doc_ids)
        self.db.executemany("INSERT INTO doc_status VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def documents_without_status(self) -> list[str]:
        """Documents added or replaced since the last versions.refresh."""
        rows = self.db.execute(
            "SELECT doc_id FROM documents d"
            " WHERE NOT EXISTS (SELECT 1 FROM doc_status s WHERE s.doc_id = d.doc_id)"
        )
        return [r[0] for r in rows]

    def gone_version_keys(self) -> dict[str, set[str]]:
        """doc_id → version keys, of documents removed since the last versions.refresh."""
        rows = self.db.execute(
            "SELECT doc_id, key FROM version_keys k"
            " WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = k.doc_id)"
        )
        found: dict[str, set[str]] = {}
        for doc_id, key in rows:
            found.setdefault(doc_id, set()).add(key)
        return found

    def version_keys_of(self, doc_ids: list[str]) -> set[str]:
        return {r[0] for r in self._rows("SELECT key FROM version_keys", doc_ids)}

    def documents_with_keys(self, keys: list[str]) -> set[str]:
        """Documents holding any of these version keys."""
        found: set[str] = set()
        for chunk in _chunks(keys):
            rows = self.db.execute(
                f"SELECT doc_id FROM version_keys WHERE key IN ({_marks(chunk)})", chunk
            )
            found.update(r[0] for r in rows)
        return found

    def replace_version_keys(self, keys: dict[str, set[str]], doc_ids: list[str] | None) -> None:
        """Drop the keys of ``doc_ids`` (every document's, when None), then store ``keys``."""
        self._delete("version_keys", doc_ids)
        rows = [(doc_id, key) for doc_id, own in keys.items() for key in own]
        self.db.executemany("INSERT INTO version_keys VALUES (?, ?)", rows)

    def _rows(self, query: str, doc_ids: list[str] | None) -> list[sqlite3.Row]:
        """``query``'s rows, all of them or those of ``doc_ids`` (a WHERE on doc_id is added)."""
        if doc_ids is None:
            return self.db.execute(query).fetchall()
        rows: list[sqlite3.Row] = []
        for chunk in _chunks(doc_ids):
            rows += self.db.execute(f"{query} WHERE doc_id IN ({_marks(chunk)})", chunk)
        return rows

    def _delete(self, table: str, doc_ids: list[str] | None) -> None:
        if doc_ids is None:
            self.db.execute(f"DELETE FROM {table}")
        for chunk in _chunks(doc_ids or []):
            self.db.execute(f"DELETE FROM {table} WHERE doc_id IN ({_marks(chunk)})", chunk)

    def statuses(self, doc_ids: list[str] | None = None) -> dict[str, sqlite3.Row]:
        """doc_id → its doc_status row (all documents, or those given)."""
        return {r["doc_id"]: r for r in self._rows("SELECT * FROM doc_status", doc_ids)}

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


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    items = list(items)
    return [items[start : start + size] for start in range(0, len(items), size)]


def _marks(chunk: list[str]) -> str:
    return ",".join("?" * len(chunk))
