"""API tokens of a KB: only their sha256 is kept, in tokens.sqlite (mode 0600) in the KB folder.

There are no default credentials: a KB without tokens refuses every write over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

TOKEN_FILE = "tokens.sqlite"
TOKEN_PREFIX = "pkb_"  # makes a leaked token easy to recognise in logs and secret scanners
_NAME = re.compile(r"^[\w.\-]{1,64}$")
_SCHEMA = """CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, created REAL NOT NULL
)"""


class TokenError(ValueError):
    """A token operation that cannot be done: the message says why, in one line."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as the KB knows it: its name and when it was made, never its value."""

    name: str
    created: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The tokens of the KB in ``folder``; every call opens its own connection (thread-safe)."""

    def __init__(self, folder: Path | str):
        self.path = Path(folder) / TOKEN_FILE

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.execute(_SCHEMA)
            yield db

    def _create_file(self) -> None:
        """The token file, readable by its owner only, before anything is written to it."""
        if not self.path.parent.is_dir():
            raise TokenError(f"{self.path.parent}: no such KB folder")
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(self.path, 0o600)

    def create(self, name: str | None = None) -> tuple[TokenInfo, str]:
        """A new token: its info and its value, which is shown this once and never stored."""
        self._create_file()
        with self._db() as db:
            taken = {row[0] for row in db.execute("SELECT name FROM tokens")}
            name = name or next(f"token-{n}" for n in range(1, len(taken) + 2)
                                if f"token-{n}" not in taken)  # fmt: skip
            if not _NAME.match(name):
                raise TokenError(f"token name {name!r}: use 1-64 letters, digits, _ . or -")
            if name in taken:
                raise TokenError(f"a token named {name!r} exists: revoke it or choose another")
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            info = TokenInfo(name, time.time())
            db.execute("INSERT INTO tokens VALUES (?, ?, ?)", (name, _digest(token), info.created))
        return info, token

    def list(self) -> list[TokenInfo]:
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT name, created FROM tokens ORDER BY created").fetchall()
        return [TokenInfo(name, created) for name, created in rows]

    def revoke(self, name: str) -> bool:
        """Forget the token called ``name``; False when there is none."""
        if not self.path.exists():
            return False
        with self._db() as db:
            return db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount > 0

    def verify(self, token: str) -> str | None:
        """The name of the token, or None: every stored hash is compared in constant time."""
        if not token or not self.path.exists():
            return None
        digest = _digest(token)
        with self._db() as db:
            rows = db.execute("SELECT name, sha256 FROM tokens").fetchall()
        found = None
        for name, stored in rows:
            if hmac.compare_digest(stored, digest):
                found = name
        return found
