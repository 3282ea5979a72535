"""One change to a segmented index (vectors or BM25 postings), written with its catalog.

Segment files are immutable: a change writes new ones and records, in the caller's SQLite
transaction, which files make up the state and which of their rows are deleted. The SQLite
commit makes it visible; a file written before a failure is referenced by nothing and is
swept by the next change.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

KEPT = 2 / 3  # the least share of its rows a merge committed late must keep live (merge_policy)
STAGING = "merging-"  # a background merge's files until its commit renames them (merging.py)


@dataclass
class SegmentUpdate:
    """Segments to write and drop and tombstones to add; a subclass names its files and
    tables (``<TABLE>_segments``, ``<TABLE>_deletes``) and its catalog row."""

    PREFIX: ClassVar[str]  # segment file names: <PREFIX><generation>-<random><SUFFIX>
    SUFFIX: ClassVar[str]
    TABLE: ClassVar[str]
    CATALOG: ClassVar[tuple[str, ...]]  # CREATE statements, run one by one

    generation: int
    full: bool = False  # the state is written whole: the old catalog goes
    written: list[Any] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deletes: list[tuple[str, np.ndarray]] = field(default_factory=list)
    staged: set[str] = field(default_factory=set)  # written already, under a staging name

    def file_name(self) -> str:
        return f"{self.PREFIX}{self.generation}-{secrets.token_hex(4)}{self.SUFFIX}"

    def catalog_row(self, segment) -> tuple:
        """The segment's row in ``<TABLE>_segments``."""
        raise NotImplementedError

    def drop(self, segment) -> bool:
        """Drop a segment from the catalog (False, for use in a filter)."""
        if segment in self.written:
            self.written.remove(segment)
        elif segment.name:
            self.dropped.append(segment.name)
        return False

    def adopt(
        self, segments: list, merges: list[Merge], ids_of: Callable[[Any], np.ndarray],
        tombstoned: Callable[[Any, np.ndarray], Any],
    ) -> list:  # fmt: skip
        """``segments`` with each merge, built from an earlier state, in place of what is left
        of its group. Rows of the group that are no longer live where they were (deleted, or
        their segment merged into another by a write meanwhile) become the merged segment's
        tombstones (``tombstoned(segment, ids)``), so each row is served once. A merge that
        would keep less than ``KEPT`` of its rows is left out: it would be rewritten at once."""
        segments = list(segments)
        for merge in merges:
            held = {s.name: s for s in segments}
            group = [held[name] for name in merge.group if name in held]
            live = np.concatenate([s.live_ids() for s in group] or [np.zeros(0, np.int64)])
            ids = ids_of(merge.segment)
            if not len(ids) or len(live) < KEPT * len(ids):
                continue
            for s in group:
                self.drop(s)
                segments.remove(s)
            gone = np.setdiff1d(ids, live)
            segments.append(tombstoned(merge.segment, gone))
            self.written.append(segments[-1])
            self.staged.add(merge.segment.name)
            self.deletes.append((merge.segment.name, gone))
        return segments

    def commit(self, folder: Path, db: sqlite3.Connection, paths: list[Path]) -> None:
        """Write the new segment files, then the catalog rows, inside the caller's SQLite
        transaction (whose commit makes them visible); ``paths`` gets each file as it is
        begun, so a caller that fails can delete them."""
        for statement in self.CATALOG:
            db.execute(statement)
        for segment in self.written:
            paths += [folder / segment.name, (folder / segment.name).with_suffix(".tmp")]
            if segment.name in self.staged:
                os.replace(staged_path(folder, segment.name), paths[-2])
            else:
                segment.index.save(paths[-2])
        segments, deletes = f"{self.TABLE}_segments", f"{self.TABLE}_deletes"
        if self.full:
            db.execute(f"DELETE FROM {segments}")
            db.execute(f"DELETE FROM {deletes}")
        for name in self.dropped:
            db.execute(f"DELETE FROM {segments} WHERE name = ?", (name,))
            db.execute(f"DELETE FROM {deletes} WHERE segment = ?", (name,))
        rows = [self.catalog_row(s) for s in self.written]
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f"INSERT INTO {segments} VALUES ({marks})", rows)
        dropped = set(self.dropped)
        db.executemany(
            f"INSERT OR IGNORE INTO {deletes} VALUES (?, ?)",
            [(name, int(row)) for name, gone in self.deletes if name not in dropped and name
             for row in gone],
        )  # fmt: skip


@dataclass(frozen=True)
class Merge:
    """A segment merged from ``group`` (file names) of an earlier state, its file staged:
    what a background merge built outside the write lock and commits under it."""

    group: tuple[str, ...]
    segment: Any  # the index's own Segment, named, with no tombstones yet


def staged_path(folder: Path, name: str) -> Path:
    """Where a background merge writes segment ``name`` before its commit: a name no change
    sweeps, so a change committed meanwhile leaves it be."""
    return folder / f"{STAGING}{name}"


def stage(folder: Path, name: str, index: Any) -> Path:
    """Write a merged segment's file under its staging name; the path written."""
    path = staged_path(folder, name)
    index.save(path)
    return path


def sweep(folder: Path, prefix: str, keep: set[str]) -> None:
    """Delete segment files no state in ``keep`` refers to (and leftovers of a crash)."""
    for path in folder.glob(f"{prefix}*"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
