"""Opening a KB's SQLite file (pragmas, schema, transactions) and its ``meta`` table.

FAISS ids are ``windows.id``; a window belongs to one clause (``clauses.id``, which is
also the rowid of both FTS5 tables). Writes happen inside ``transaction()`` only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar


class Tables:
    """A table family: the CREATE statements of its tables and the queries on them, run on
    the one connection that ``Store`` shares between its families."""

    TABLES: ClassVar[str] = ""
    db: sqlite3.Connection


class Connection(Tables):
    """The connection itself; ``SCHEMA`` is every family's tables, made when a writer opens."""

    TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
    SCHEMA: ClassVar[str] = TABLES

    def __init__(self, path: Path, read_only: bool = False):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if read_only:  # the writer made the schema and WAL mode; a reader never writes
            self.db.execute("PRAGMA query_only = ON")
            return
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(self.SCHEMA)

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

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
