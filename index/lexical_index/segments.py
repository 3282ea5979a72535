"""The BM25 index of one committed state: postings segments plus per-segment deletions.

As index/vector_index/segments.py does for vectors: a change writes one segment file
(``lexical-<generation>-<random>.npz``) with the clauses it adds and records the clauses it
removes as tombstones, in a catalog written in the change's own SQLite transaction; small
segments are merged when there are many, and a segment a third deleted is rewritten without
its deleted rows. A file that is missing or damaged makes the reader rebuild from
``clauses_bm25``; one written before a crash or a rollback is swept by the next change.
"""

from __future__ import annotations

import sqlite3
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from index.lexical_index.maxscore import live_counts
from index.lexical_index.postings import Postings
from index.lexical_index.scoring import Hit, Statistics, ranked, ranked_exhaustive
from index.masks import allowed_of, is_broad, sorted_ids, widths
from index.merge_policy import MergePolicy
from index.segment_update import Merge, SegmentUpdate
from index.segment_update import sweep as sweep_files

MERGES = MergePolicy(max_merged=2_000_000)  # postings merge fast: a higher cap than vectors
WRITE_LIMIT = 200_000  # the most rows a write merges when merges run in the background
FILE_PREFIX = "lexical-"  # file names: lexical-<generation>-<random>.npz

CATALOG = (  # statement by statement: executescript would commit the change's transaction
    "CREATE TABLE IF NOT EXISTS lexical_segments (name TEXT PRIMARY KEY, rows INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lexical_deletes (segment TEXT NOT NULL, clause INTEGER NOT NULL,"
    " PRIMARY KEY (segment, clause)) WITHOUT ROWID",
)


@dataclass(frozen=True)
class Segment:
    """One segment file's postings, the clauses of it deleted since, and the live-row mask."""

    name: str  # file name in the KB folder; "" for one rebuilt in memory, not on disk
    index: Postings
    deleted: np.ndarray  # clause ids, sorted
    live: np.ndarray = field(init=False)  # bool per row

    def __post_init__(self):
        live = np.ones(len(self.index), dtype=bool)
        live[self.rows_of(self.deleted)] = False
        object.__setattr__(self, "live", live)

    @property
    def live_count(self) -> int:
        return len(self.index) - len(self.deleted)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """The rows holding those of ``ids`` (sorted) that this segment holds."""
        held = self.index.ids
        if not len(held) or not len(ids):
            return np.zeros(0, dtype=np.int64)
        found = np.searchsorted(held, ids).clip(max=len(held) - 1)
        return found[held[found] == ids]

    def live_ids(self) -> np.ndarray:
        return self.index.ids[self.live]

    @cached_property
    def live_df(self) -> np.ndarray:
        """Each term's live rows: its document frequency, tombstones left out."""
        index = self.index
        return live_counts(index.starts, index.rows, self.live)


@dataclass
class LexicalIndex:
    """What a BM25 search of one committed state reads. ``hidden``: clauses the default
    search leaves out (superseded versions), read with the state."""

    segments: list[Segment] = field(default_factory=list)
    on_disk: bool = True  # False: rebuilt in memory; the next change writes it out whole
    hidden: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _stats: Statistics | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return sum(s.live_count for s in self.segments)

    def nbytes(self) -> int:
        """Bytes of the arrays held (the term dictionaries not counted)."""
        arrays = sum(s.index.nbytes() + s.live.nbytes for s in self.segments)
        stats = self.statistics
        return arrays + sum(a.nbytes for a in stats.norms + stats.shown)

    @property
    def statistics(self) -> Statistics:
        """N, avgdl and the per-row arrays every search of this state shares (made once;
        ``hidden`` must be set before the first search)."""
        if self._stats is None:
            self._stats = Statistics.of(self.segments, self.hidden)
        return self._stats

    def search(
        self, match: str, k: int, allowed: np.ndarray | None = None, hide: bool = True,
        exhaustive: bool = False,
    ) -> list[Hit] | None:  # fmt: skip
        """(clause id, FTS5's -bm25) best first for an FTS5 MATCH of OR-ed quoted terms; None
        when a term is a phrase of several tokens (FTS5 must rank that query).
        ``allowed``: the clauses to return (else all, but ``hidden`` ones when ``hide``).
        ``exhaustive``: every posting scored (the reference), not MaxScore's top k."""
        if exhaustive:
            return ranked_exhaustive(self.segments, self.statistics, match, k, allowed, hide)
        if allowed is not None and is_broad(allowed, len(self)):
            hits = self._broad(match, k, allowed)
            if hits is not None:
                return hits
        return ranked(self.segments, self.statistics, match, k, allowed, hide)

    def _broad(self, match: str, k: int, allowed: np.ndarray) -> list[Hit] | None:
        """A broad mask's k best from a widened unmasked search (index.masks): the
        same hits as the masked search. None when fewer than k are allowed, unless the
        unmasked search returned every match (then the allowed ones are all there is)."""
        allowed = sorted_ids(allowed)
        for width in widths(k, allowed, len(self)):
            hits = ranked(self.segments, self.statistics, match, width, None, hide=False)
            if hits is None:
                return None
            ids = np.array([clause for clause, _ in hits], dtype=np.int64)
            kept = [hit for hit, ok in zip(hits, allowed_of(ids, allowed), strict=True) if ok]
            if len(kept) >= k or len(hits) < width:
                return kept[:k]
        return None

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: Path, db: sqlite3.Connection, loaded: dict[str, Postings]):
        """The state ``db`` (in a read transaction) sees; ``loaded``: postings in memory
        already, by name. Raises LookupError when a file is missing or does not match."""
        segments = []
        for name, rows in _catalog(db):
            postings = loaded.get(name)
            if postings is None:
                try:
                    postings = Postings.load(folder / name)
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                    raise LookupError(f"{name}: {error}") from error
            if len(postings) != rows:
                raise LookupError(f"{name}: {len(postings)} clauses, the catalog says {rows}")
            found = db.execute("SELECT clause FROM lexical_deletes WHERE segment = ?", (name,))
            deleted = np.array(sorted(r[0] for r in found), dtype=np.int64)
            segments.append(Segment(name, postings, deleted))
        return cls(segments)

    @classmethod
    def rebuilt(cls, ids: np.ndarray, texts: list[str]) -> LexicalIndex:
        """One in-memory segment of every row of ``clauses_bm25``."""
        if not len(ids):
            return cls([], on_disk=False)
        return cls([Segment("", Postings.build(ids, texts), _NONE)], on_disk=False)

    def persisted(self, folder: Path, database: Path, generation: int) -> LexicalIndex | None:
        """This index, rebuilt in memory for a KB without a catalog, written out as the state
        of ``generation``; None (nothing changed) when it cannot be done safely now.

        The segment file is written whole, flushed and renamed first; then, on a connection of
        its own, SQLite's write lock is taken without waiting (a writer at work: skipped) and,
        if the KB is still at ``generation`` and still has no catalog, the catalog rows go in
        one transaction. A change commits under that lock and moves the generation, and sweeps
        files only while holding it: a file found there once the lock is ours stays."""
        if self.on_disk or len(self.segments) != 1:
            return None
        segment = Segment(Update(generation).file_name(), self.segments[0].index, _NONE)
        path = folder / segment.name
        try:
            segment.index.save(path)
            if _catalogued(database, generation, segment, path):
                return LexicalIndex([segment])
        except (OSError, sqlite3.Error):
            pass
        path.unlink(missing_ok=True)
        path.with_suffix(".tmp").unlink(missing_ok=True)
        return None

    # --- changing ---------------------------------------------------------------------------

    def changed(
        self, removed: np.ndarray, added: np.ndarray, texts: list[str], generation: int,
        limit: int | None = None,
    ) -> Update:  # fmt: skip
        """The next state: ``removed`` clauses become tombstones, ``added`` (with their
        ``clauses_bm25`` words) a new segment; then the merges that pay, of at most ``limit``
        rows each (None: all). Writes nothing."""
        update = Update(generation, full=not self.on_disk)
        removed = np.unique(np.asarray(removed, dtype=np.int64))
        segments = [self._tombstoned(s, removed, update) for s in self.segments]
        if len(added):
            segments.append(update.new(Postings.build(np.asarray(added, np.int64), texts)))
        segments = [s for s in segments if s.live_count or update.drop(s)]
        for group in _merges(segments, full=update.full, limit=limit):
            for s in group:
                update.drop(s)
                segments.remove(s)
            segments.append(update.new(Postings.merged([(s.index, s.live) for s in group])))
        update.state = LexicalIndex(segments)
        return update

    def merges_due(self, generation: int) -> list[Merge]:
        """The merges this state has due, built and named but not written: a background
        merge's work (none for a state rebuilt in memory: the next change writes it whole)."""
        if not self.on_disk:
            return []
        named = Update(generation).file_name
        return [
            Merge(tuple(s.name for s in group),
                  Segment(named(), Postings.merged([(s.index, s.live) for s in group]), _NONE))
            for group in _merges(self.segments, full=False)
        ]  # fmt: skip

    def adopted(self, merges: list[Merge], generation: int) -> Update:
        """The next state: each merge, built from an earlier state, in place of what is left
        of its group (``SegmentUpdate.adopt``); none into a state rebuilt in memory. Writes
        nothing."""
        update = Update(generation)
        if not self.on_disk:  # rebuilt in memory: the next change writes it whole
            update.state = self
            return update
        segments = update.adopt(self.segments, merges, lambda s: s.index.ids,
                                lambda s, gone: Segment(s.name, s.index, gone))  # fmt: skip
        update.state = LexicalIndex(segments, hidden=self.hidden)
        return update

    @staticmethod
    def _tombstoned(segment: Segment, removed: np.ndarray, update: Update) -> Segment:
        rows = segment.rows_of(removed)
        gone = segment.index.ids[rows[segment.live[rows]]]
        if not len(gone):
            return segment
        update.deletes.append((segment.name, gone))
        return Segment(segment.name, segment.index, np.union1d(segment.deleted, gone))


_NONE = np.zeros(0, dtype=np.int64)


def _merges(segments: list[Segment], full: bool, limit: int | None = None) -> list[list[Segment]]:
    """Groups of segments to merge (index/merge_policy.py)."""
    return MERGES.groups(segments, lambda s: s.live_count, lambda s: len(s.index), full, limit)


@dataclass
class Update(SegmentUpdate):
    """What one change does to the BM25 index: segments to write and drop, tombstones."""

    PREFIX, SUFFIX, TABLE, CATALOG = FILE_PREFIX, ".npz", "lexical", CATALOG
    state: LexicalIndex | None = None

    def new(self, postings: Postings) -> Segment:
        segment = Segment(self.file_name(), postings, _NONE)
        self.written.append(segment)
        return segment

    def catalog_row(self, segment: Segment) -> tuple:
        return segment.name, len(segment.index)


def _catalogued(database: Path, generation: int, segment: Segment, path: Path) -> bool:
    """Catalog ``segment`` (its file at ``path``) if, under the write lock (not waited for), the
    KB is still at ``generation`` without a catalog and the file is still there; whether it was."""
    db = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        db.execute("BEGIN IMMEDIATE")
        found = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        if int(found[0] if found else 0) != generation or _has_catalog(db) or not path.exists():
            return False
        for statement in CATALOG:
            db.execute(statement)
        db.execute("INSERT INTO lexical_segments VALUES (?, ?)", (segment.name, len(segment.index)))
        db.execute("COMMIT")
        return True
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()


def write_limit() -> int:
    """The largest merge a write does itself when merges run in the background."""
    return WRITE_LIMIT


def sweep(folder: Path, keep: set[str]) -> None:
    """Delete BM25 segment files no state in ``keep`` refers to."""
    sweep_files(folder, FILE_PREFIX, keep)


class NoCatalog(LookupError):
    """The KB has no BM25 catalog: it was built before there was one."""


def _has_catalog(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lexical_segments'").fetchone()
    return found is not None


def _catalog(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """The catalog's segments; raises NoCatalog when the KB has none yet."""
    if not _has_catalog(db):
        raise NoCatalog("no lexical catalog: a KB built before it")
    return [tuple(r) for r in db.execute("SELECT name, rows FROM lexical_segments")]


def warm_kernels() -> None:
    """Run the top-k search once on two rows: numba compiles MaxScore's kernels on the first
    run after an install (about 20 s of CPU) and loads them from its cache in every new
    process (about 0.8 s), which a server pays at start instead of on its first query."""
    tiny = LexicalIndex.rebuilt(np.array([1, 2], dtype=np.int64), ["规定 责任", "规定"])
    tiny.search('"规定" OR "责任"', 1)
