"""The FTS5 tables ``clauses_bm25`` (jieba words) and ``clauses_phrase`` (trigrams) over clauses."""

from __future__ import annotations

from index.filters import Filters
from index.lexical import index_text, phrase_key
from index.store.connection import Tables


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
