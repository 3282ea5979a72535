"""The ``doc_validity`` and ``doc_status`` tables: what documents say of their validity, and
the versions and status index.versions derives from it."""

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
"""

    def _insert_validity(self, doc: Document) -> None:
        evidence = json.dumps(asdict(doc.validity), ensure_ascii=False)
        self.db.execute("INSERT INTO doc_validity VALUES (?, ?)", (doc.doc_id, evidence))

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
