"""BM25 over a KB's clauses in memory: FTS5's scores, term at a time in numpy.

``clauses_bm25`` (SQLite FTS5) stays the source of truth; this package keeps an inverted
index of its rows as immutable segments plus tombstones, like index/vector_index, and
ranks a MATCH expression the way FTS5's bm25() would, at a few ns per posting.
"""
