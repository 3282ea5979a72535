"""A KB's vectors as immutable segments plus per-segment deletions, the pattern of Lucene.

A change writes one new segment file with the windows it adds, and records the windows it
removes as tombstones (rows in SQLite); nothing already written is rewritten. Small
segments are merged when there are too many (the smallest together, so a vector is
rewritten O(log n) times over the KB's life), and a segment is rewritten without its
deleted vectors once a third of it is deleted.

The catalog of segments and tombstones lives in SQLite and is written in the change's own
transaction, so the SQLite commit decides what is visible: a segment file written before a
crash or a rollback is referenced by nothing and is swept by the next change, and a file
that is referenced but lost or damaged makes the reader rebuild from SQLite's vectors.
Segment files are immutable, so readers of older generations keep the ones they loaded.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from index.masks import allowed_of, is_broad, sorted_ids, widths
from index.merge_policy import MergePolicy
from index.segment_update import Merge, SegmentUpdate
from index.segment_update import sweep as sweep_files
from index.vector_index.base import SEARCH_THREADS, Hits, Tombstones, VectorIndex
from index.vector_index.factory import Policy, backend

# Segments of half a million vectors are not merged for their number (Lucene's cap): such
# a merge builds an HNSW graph for minutes.
MERGES = MergePolicy(max_merged=500_000)
SYNC_ROWS = 50_000  # the most rows a write merges when merges run in the background
FILE_PREFIX = "vectors-"  # file names: vectors-<generation>-<random>.faiss

CATALOG = (  # statement by statement: executescript would commit the change's transaction
    "CREATE TABLE IF NOT EXISTS vector_segments"
    " (name TEXT PRIMARY KEY, kind TEXT NOT NULL, rows INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vector_deletes (segment TEXT NOT NULL, window INTEGER NOT NULL,"
    " PRIMARY KEY (segment, window)) WITHOUT ROWID",
)


@dataclass(frozen=True)
class Segment:
    """One segment file's index and the windows of it deleted since it was written."""

    name: str  # file name in the KB folder; "" for one rebuilt in memory, not on disk
    index: VectorIndex
    deleted: Tombstones

    @property
    def live(self) -> int:
        return len(self.index) - len(self.deleted)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None) -> Hits:
        if allowed is not None:
            allowed = allowed[allowed_of(allowed, self.index.ids())]
            if len(self.deleted):
                allowed = self.deleted.live(allowed)
        return self.index.search(query, k, allowed, self.deleted)

    def live_ids(self) -> np.ndarray:
        return self.deleted.live(self.index.ids()) if len(self.deleted) else self.index.ids()


@dataclass
class SegmentedIndex:
    """The vector index of one committed state: what a search of that state reads."""

    dim: int
    segments: list[Segment] = field(default_factory=list)
    on_disk: bool = True  # False: rebuilt in memory; the next change writes it out whole

    def __len__(self) -> int:
        return sum(s.live for s in self.segments)

    def ids(self) -> np.ndarray:
        """Every live window id."""
        parts = [s.live_ids() for s in self.segments]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(window id, cosine) best first; ``allowed`` restricts the ids searched."""
        SEARCH_THREADS.apply()
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        if allowed is not None:
            allowed = sorted_ids(allowed)
            if is_broad(allowed, len(self)):
                hits = self._broad(query, k, allowed)
                if hits is not None:
                    return hits
        hits = [hit for s in self.segments for hit in s.search(query, k, allowed)]
        return sorted(hits, key=lambda hit: -hit[1])[:k]

    def _broad(self, query: np.ndarray, k: int, allowed: np.ndarray) -> Hits | None:
        """A broad mask's k best from a widened unmasked search (index.masks); None
        when fewer than k of its hits are allowed."""
        for width in widths(k, allowed, len(self)):
            hits = self.search(query, width)
            ids = np.array([window for window, _ in hits], dtype=np.int64)
            kept = [hit for hit, ok in zip(hits, allowed_of(ids, allowed), strict=True) if ok]
            if len(kept) >= k:
                return kept[:k]
        return None

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(
        cls, folder: Path, dim: int, db: sqlite3.Connection, loaded: dict[str, VectorIndex]
    ) -> SegmentedIndex:
        """The state ``db`` (in a read transaction) sees; ``loaded``: segments in memory
        already, by name. Raises LookupError when a file is missing or does not match."""
        segments = []
        for name, kind, rows in _catalog(db):
            index = loaded.get(name)
            if index is None:
                try:
                    index = backend(kind).load(folder / name, dim)
                except (FileNotFoundError, RuntimeError, ValueError) as error:
                    raise LookupError(f"{name}: {error}") from error
            if len(index) != rows:
                raise LookupError(f"{name}: {len(index)} vectors, the catalog says {rows}")
            deleted = db.execute("SELECT window FROM vector_deletes WHERE segment = ?", (name,))
            ids = np.array([r[0] for r in deleted], dtype=np.int64)
            segments.append(Segment(name, index, Tombstones(ids)))
        return cls(dim, segments)

    @classmethod
    def rebuilt(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, policy: Policy):
        """One in-memory segment of every window's vector (what SQLite holds)."""
        if not len(ids):
            return cls(dim, [], on_disk=False)
        index = backend(policy.kind_for(len(ids))).build(dim, ids, vectors)
        return cls(dim, [Segment("", index, Tombstones(np.zeros(0)))], on_disk=False)

    # --- changing ---------------------------------------------------------------------------

    def changed(
        self, removed: np.ndarray, added: np.ndarray, vectors: np.ndarray, generation: int,
        policy: Policy, limit: int | None = None,
    ) -> Update:  # fmt: skip
        """The next state: ``removed`` become tombstones, ``added`` a new segment; then
        the merges that pay, of at most ``limit`` rows each (None: all). Nothing is written
        here (see ``Update.commit``)."""
        update = Update(generation, full=not self.on_disk)
        segments = [self._tombstoned(s, removed, update) for s in self.segments]
        if len(added):
            index = backend(policy.kind_for(len(added))).build(
                self.dim, added, vectors, self._approx(policy)
            )
            segments.append(update.new(Segment("", index, Tombstones(np.zeros(0)))))
        segments = [s for s in segments if s.live or update.drop(s)]
        for group in _merges(segments, full=update.full, limit=limit):
            for s in group:
                update.drop(s)
                segments.remove(s)
            segments.append(update.new(self._merged(group, policy)))
        update.state = SegmentedIndex(self.dim, segments)
        return update

    def merges_due(self, generation: int, policy: Policy) -> list[Merge]:
        """The merges this state has due, built and named but not written: a background
        merge's work (none for a state rebuilt in memory: the next change writes it whole)."""
        if not self.on_disk:
            return []
        named = Update(generation).file_name
        return [
            Merge(tuple(s.name for s in group), replace(self._merged(group, policy), name=named()))
            for group in self._due(policy)
        ]

    def _due(self, policy: Policy) -> list[list[Segment]]:
        """The policy's merges, and every other exact segment merged into one approximate
        once they hold enough vectors for it: a write's own merges stay exact, so without
        this rule exact segments of up to ``write_limit`` each would pile up unsearched by
        the graph."""
        groups = _merges(self.segments, full=False)
        taken = {s.name for group in groups for s in group}
        exact, size = [], 0  # the smallest first, up to the policy's largest merge
        for s in sorted(self.segments, key=lambda s: s.live):
            if s.index.kind != policy.approx and s.name not in taken:
                if size + s.live > MERGES.max_merged:
                    break
                exact.append(s)
                size += s.live
        if policy.approx and len(exact) > 1 and size >= policy.approx_from:
            groups.append(exact)
        return groups

    def adopted(self, merges: list[Merge], generation: int) -> Update:
        """The next state: each merge, built from an earlier state, in place of what is left
        of its group (``SegmentUpdate.adopt``); none into a state rebuilt in memory. Writes
        nothing."""
        update = Update(generation)
        if not self.on_disk:  # rebuilt in memory: the next change writes it whole
            update.state = self
            return update
        segments = update.adopt(self.segments, merges, lambda s: s.index.ids(),
                                lambda s, gone: replace(s, deleted=Tombstones(gone)))  # fmt: skip
        update.state = SegmentedIndex(self.dim, segments)
        return update

    def _tombstoned(self, segment: Segment, removed: np.ndarray, update: Update) -> Segment:
        if not len(removed):
            return segment
        held = segment.live_ids()
        found = np.searchsorted(held, removed).clip(max=max(len(held) - 1, 0))
        gone = removed[held[found] == removed] if len(held) else removed[:0]
        if not len(gone):
            return segment
        update.deletes.append((segment.name, gone))
        deleted = Tombstones(np.union1d(segment.deleted.ids, gone))
        return Segment(segment.name, segment.index, deleted)

    def _approx(self, policy: Policy) -> VectorIndex | None:
        """The largest approximate segment: new ones of its kind may borrow its training."""
        approx = [s.index for s in self.segments if s.index.kind == policy.approx]
        return max(approx, key=len, default=None)

    def _merged(self, group: list[Segment], policy: Policy) -> Segment:
        ids = np.concatenate([s.live_ids() for s in group])
        vectors = np.vstack([s.index.vectors_of(s.live_ids()) for s in group])
        like = max((s.index for s in group if s.index.kind == policy.approx), key=len,
                   default=None) or self._approx(policy)  # fmt: skip
        index = backend(policy.kind_for(len(ids))).build(self.dim, ids, vectors, like)
        return Segment("", index, Tombstones(np.zeros(0)))


def _merges(segments: list[Segment], full: bool, limit: int | None = None) -> list[list[Segment]]:
    """Groups of segments to merge (index/merge_policy.py)."""
    return MERGES.groups(segments, lambda s: s.live, lambda s: len(s.index), full, limit)


def write_limit(policy: Policy) -> int:
    """The largest merge a write does itself when merges run in the background: one whose
    result stays exact, a copy of vectors (an approximate one builds a graph)."""
    return min(SYNC_ROWS, policy.approx_from - 1) if policy.approx else SYNC_ROWS


@dataclass
class Update(SegmentUpdate):
    """What one change does to the vectors: segments to write and drop, tombstones to add."""

    PREFIX, SUFFIX, TABLE, CATALOG = FILE_PREFIX, ".faiss", "vector", CATALOG
    state: SegmentedIndex | None = None

    def new(self, segment: Segment) -> Segment:
        named = Segment(self.file_name(), segment.index, segment.deleted)
        self.written.append(named)
        return named

    def catalog_row(self, segment: Segment) -> tuple:
        return segment.name, segment.index.kind, len(segment.index)


def sweep(folder: Path, keep: set[str]) -> None:
    """Delete vector segment files no state in ``keep`` refers to."""
    sweep_files(folder, FILE_PREFIX, keep)


def _has_catalog(db: sqlite3.Connection) -> bool:
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'vector_segments'").fetchone()
    return found is not None


def _catalog(db: sqlite3.Connection) -> list[tuple[str, str, int]]:
    if not _has_catalog(db):
        return []
    return [tuple(r) for r in db.execute("SELECT name, kind, rows FROM vector_segments")]
