"""The ``clause_units`` table (who a clause assigns work to) and the targets clauses carry."""

from __future__ import annotations

import sqlite3

from index.filters import Filters
from index.store.connection import Tables
from index.store.documents import CLAUSE_COLUMNS
from ingest.models import UnitTag
from ingest.text import normalize_brackets


class Owners(Tables):
    """Units named by clauses, with their role, and the clauses that set targets."""

    TABLES = """
CREATE TABLE IF NOT EXISTS clause_units (
    clause INTEGER NOT NULL REFERENCES clauses (id) ON DELETE CASCADE,
    name TEXT NOT NULL, canonical TEXT NOT NULL, role TEXT NOT NULL, kind TEXT NOT NULL,
    region TEXT
);
CREATE INDEX IF NOT EXISTS clause_units_clause ON clause_units (clause);
CREATE INDEX IF NOT EXISTS clause_units_canonical ON clause_units (canonical);
CREATE INDEX IF NOT EXISTS clause_units_name ON clause_units (name);
"""

    def _insert_units(self, clause: int, units: list[UnitTag]) -> None:
        self.db.executemany(
            "INSERT INTO clause_units VALUES (?,?,?,?,?,?)",
            [(clause, normalize_brackets(u.name), u.canonical, u.role.value, u.kind, u.region)
             for u in units],
        )  # fmt: skip

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
