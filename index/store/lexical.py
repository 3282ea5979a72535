"""The FTS5 tables ``clauses_bm25`` (jieba words) and ``clauses_phrase`` (trigrams) over clauses."""

from __future__ import annotations

import numpy as np

from index.filters import Filters, unit_condition
from index.lexical import index_text, phrase_key
from index.store.connection import Tables
from index.store.windows import id_pairs


class Lexical(Tables):
    """Full-text indexes whose rowid is ``clauses.id``, and the filtered queries on them."""

    TABLES = """
CREATE VIRTUAL TABLE IF NOT EXISTS clauses_bm25 USING fts5 (words, tokenize = 'unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS clauses_phrase USING fts5 (key, tokenize = 'trigram');
"""

    def _index_clause(self, clause: int, text: str) -> None:
        self.db.execute(
            "INSERT INTO clauses_bm25 (rowid, words) VALUES (?, ?)", (clause, index_text(text))
        )
        self.db.execute(
            "INSERT INTO clauses_phrase (rowid, key) VALUES (?, ?)", (clause, phrase_key(text))
        )

    def _unindex_clauses(self, clauses: list[int]) -> None:
        """FTS5 rows do not cascade: they go before their clauses."""
        for table in ("clauses_bm25", "clauses_phrase"):
            self.db.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(i,) for i in clauses])

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

    # --- what index/lexical_index reads -----------------------------------------------------

    def bm25_rows(self, clauses: list[int] | None = None) -> tuple[np.ndarray, list[str]]:
        """(clause ids, their ``clauses_bm25`` words): of ``clauses``, else of every row."""
        if clauses is None:
            rows = self.db.execute("SELECT rowid, words FROM clauses_bm25 ORDER BY rowid")
            found = rows.fetchall()
        else:
            found = []
            for start in range(0, len(clauses), 500):
                chunk = clauses[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found += self.db.execute(
                    f"SELECT rowid, words FROM clauses_bm25 WHERE rowid IN ({marks})", chunk
                ).fetchall()
        return np.array([r[0] for r in found], dtype=np.int64), [r[1] for r in found]

    def clause_ids_of(self, doc_id: str) -> list[int]:
        """The document's clauses.id (the rowids of its ``clauses_bm25`` rows)."""
        return [r[0] for r in self.db.execute("SELECT id FROM clauses WHERE doc_id = ?", (doc_id,))]

    def clause_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM clauses").fetchone()[0]

    def allowed_clauses(self, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """clauses.id of the clauses that pass the filters, sorted. Documents first (CROSS
        JOIN fixes the order): their clause ids come from the clauses_doc index, so the big
        clause rows are never read (selective filters: 5 ms instead of 180 at 100k)."""
        where, params = filters.sql(unit_names)
        rows = self.db.execute(
            "SELECT c.id FROM documents d CROSS JOIN clauses c ON c.doc_id = d.doc_id"
            f" WHERE {where}",
            params,
        )
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))

    def clause_documents(self, clauses: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(clauses.id, sorted; the documents.rowid of each): of ``clauses``, else of every
        clause (read from the clauses_doc index alone). What index.doc_map holds."""
        if clauses is None:
            return id_pairs(
                self.db,
                "SELECT c.id, d.rowid FROM documents d CROSS JOIN clauses c ON c.doc_id = d.doc_id",
            )
        return id_pairs(self.db, "SELECT c.id, d.rowid FROM clauses c JOIN documents d"
                        " USING (doc_id) WHERE c.id IN ({})", clauses)  # fmt: skip

    def clause_ranges(self) -> list[tuple[int, int, int, int]]:
        """Per document: (documents.rowid, lowest and highest clauses.id, clauses); one scan of
        the clauses_doc index. A document's clauses are written together, so their ids are
        one run (highest − lowest + 1 = clauses) unless SQLite ran out of rowids."""
        return self.db.execute(
            "SELECT d.rowid, min(c.id), max(c.id), count(*) FROM documents d"
            " CROSS JOIN clauses c ON c.doc_id = d.doc_id GROUP BY d.rowid"
        ).fetchall()

    def document_facts(self) -> list[tuple]:
        """Per document: its rowid and what Filters.document_sql reads (documents, doc_status):
        doc_id, level, region, doc_number_key, title_key, year, has a status, superseded, draft,
        valid_from, valid_to, ended_by. What index.doc_map tests filters on, in memory."""
        cursor = self.db.cursor()
        cursor.row_factory = None
        return cursor.execute(
            "SELECT d.rowid, d.doc_id, d.level, d.region, d.doc_number_key, d.title_key, d.year,"
            " s.doc_id IS NOT NULL, s.superseded_by IS NOT NULL, s.draft, s.valid_from,"
            " s.valid_to, s.ended_by FROM documents d LEFT JOIN doc_status s USING (doc_id)"
        ).fetchall()

    def clauses_naming(self, unit_names: list[str]) -> np.ndarray:
        """clauses.id of the clauses naming the unit, sorted (a unit names few clauses)."""
        named, params = unit_condition(unit_names)
        query = f"SELECT DISTINCT u.clause FROM clause_units u WHERE {named}"
        rows = self.db.execute(query, params)
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))

    def superseded_clauses(self) -> np.ndarray:
        """clauses.id of superseded versions' clauses, sorted: what a search by default skips
        (Filters' default condition)."""
        rows = self.db.execute(
            "SELECT c.id FROM doc_status s CROSS JOIN clauses c ON c.doc_id = s.doc_id"
            " WHERE s.superseded_by IS NOT NULL"
        )
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))
