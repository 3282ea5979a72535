"""The SQLite side of a KB, one module per table family, joined on one connection by ``Store``.

connection: meta; documents: documents, clauses; owners: clause_units; windows: windows,
embeddings; links: doc_links, clause_links, doc_sources, doc_vectors; validity: doc_validity,
doc_status; lexical: the FTS5 tables. (The segment catalogs are index.vector_index.segments' and
index.lexical_index.segments'.)
"""

from index.store.database import SCHEMA, ReadPool, Store
from index.store.documents import CLAUSE_COLUMNS, DOCUMENT_COLUMNS

__all__ = ["CLAUSE_COLUMNS", "DOCUMENT_COLUMNS", "SCHEMA", "ReadPool", "Store"]
