"""Merging segments in the background, so a write never pays for a large merge.

A KB opened with background merges (the server's) merges in a write only what stays cheap
(``limit`` in index/merge_policy.py: a copy of vectors, not a graph build); the rest is
``KnowledgeBase.merge``'s work, run by a thread after each change or by `policykb merge`.
It reads one committed state, builds the merged segments of it and writes their files under
staging names, all outside the write lock. Then, under the lock, it puts them in place of
their groups in whatever state is committed by then: rows deleted meanwhile become the
merged segments' tombstones, and a group no longer all there is left alone. The files are
renamed and the catalog written in one SQLite transaction, as a change does, so a kill at
any point leaves the last committed state; a killed merge's staged files go at the next.

One merge at a time per KB, across processes: an flock on ``merge.lock``.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss

from index.segment_update import STAGING, Merge, stage

LOCK_FILE = "merge.lock"
log = logging.getLogger(__name__)


class MergeCancelled(RuntimeError):
    """The KB was closed while a merge was at work: it commits nothing."""


@dataclass
class MergeReport:
    """What one ``KnowledgeBase.merge`` did."""

    vector_merges: int = 0  # merged segments committed, of each index
    lexical_merges: int = 0
    rows: int = 0  # rows written into them
    build_seconds: float = 0.0  # outside the write lock: building and writing the files
    commit_seconds: float = 0.0  # under it
    busy: bool = False  # another process was merging this KB: nothing was done

    @property
    def merged(self) -> bool:
        return bool(self.vector_merges or self.lexical_merges)


@contextmanager
def merge_lock(folder: Path) -> Iterator[bool]:
    """The KB's merge lock, if no other merge holds it (not waited for): whether it is ours.
    The OS frees it when the process dies."""
    with open(folder / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_staged(folder: Path) -> None:
    """Delete staged files a killed merge left (only the holder of the merge lock may)."""
    for path in folder.glob(f"{STAGING}*"):
        path.unlink(missing_ok=True)


def stage_all(folder: Path, merges: list[Merge]) -> list[Path]:
    """Write each merged segment's file under its staging name; every path it may leave."""
    paths: list[Path] = []
    for merge in merges:
        path = stage(folder, merge.segment.name, merge.segment.index)
        paths += [path, path.with_suffix(".tmp")]
    return paths


class BackgroundMerger:
    """Runs ``merge`` in one daemon thread when asked, again while it finds work; a failed
    merge is logged and leaves the KB as it was."""

    def __init__(self, merge: Callable[[], MergeReport]):
        self._merge = merge
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def request(self) -> None:
        """Merge what is due, soon (after a change)."""
        with self._lock:
            if self._closed:
                return
            self._idle.clear()
            self._wanted.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kb-merge", daemon=True)
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no merge is asked for or running; False when ``timeout`` ran out."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the merge at work, waiting for it at most ``timeout`` seconds (a merge
        cut off by the process's exit leaves the last commit)."""
        with self._lock:
            self._closed = True
            self._wanted.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._idle.set()  # nothing more will run: ``wait`` returns

    def _run(self) -> None:
        faiss.omp_set_num_threads(1)  # per thread: a graph build leaves the other cores to search
        while True:
            self._wanted.wait()
            with self._lock:
                if self._closed:
                    return
                self._wanted.clear()
            try:
                while self._merge().merged and not self._closed:
                    pass
            except MergeCancelled:
                return
            except Exception:
                log.exception("background merge failed; the KB keeps its last commit")
            with self._lock:
                if not self._wanted.is_set():
                    self._idle.set()
