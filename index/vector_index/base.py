"""The seam every vector index backend implements: window vectors searched by inner product.

A backend index is immutable once built (one segment of a KB's vectors, see segments.py):
it is built from (ids, vectors), saved to one file, loaded, searched, and read back.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np

Hits = list[tuple[int, float]]  # (window id, cosine), best first


class SearchThreads(threading.local):
    """The OpenMP threads each searching thread gives FAISS. FAISS's setting is per thread,
    so setting it once where a server starts leaves its request threads at one per core:
    two teams per request on 2 cores, 3x the CPU of one exact search under load."""

    wanted: int | None = None  # for every thread (a class attribute); None: FAISS's default
    applied: int | None = None  # in this thread

    def set(self, threads: int | None) -> None:
        """Every thread that searches from now on uses ``threads``."""
        SearchThreads.wanted = threads

    def apply(self) -> None:
        """Give the calling thread the wanted count (once per thread and value)."""
        if self.wanted is not None and self.applied != self.wanted:
            faiss.omp_set_num_threads(self.wanted)
            self.applied = self.wanted


SEARCH_THREADS = SearchThreads()


def bitmap_selector(ids: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    """A FAISS selector of ``ids`` and the bitmap it reads (keep both alive while searching).

    A bitmap is built by numpy in a millisecond even for a million ids, where a hash set
    (IDSelectorBatch) takes tens of milliseconds."""
    size = int(ids.max()) + 1 if len(ids) else 1
    flags = np.zeros(size, dtype=bool)
    flags[ids] = True
    bitmap = np.packbits(flags, bitorder="little")
    return faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap  # n: bytes


class Tombstones:
    """Deleted ids of one segment, with the FAISS selector that skips them (built once)."""

    def __init__(self, ids: np.ndarray):
        self.ids = np.unique(np.asarray(ids, dtype=np.int64))
        self._selector, self._bitmap = bitmap_selector(self.ids)
        self.selector = faiss.IDSelectorNot(self._selector)

    def __len__(self) -> int:
        return len(self.ids)

    def live(self, ids: np.ndarray) -> np.ndarray:
        """``ids`` (sorted) without the deleted ones."""
        return np.setdiff1d(ids, self.ids, assume_unique=True)


class VectorIndex(ABC):
    """One immutable set of window vectors; ``kind`` names the backend in the catalog."""

    kind: ClassVar[str]

    def __init__(self, index: faiss.Index, ids: np.ndarray):
        self.index = index
        self._ids = np.sort(np.asarray(ids, dtype=np.int64))

    @classmethod
    @abstractmethod
    def build(
        cls, dim: int, ids: np.ndarray, vectors: np.ndarray, like: VectorIndex | None = None
    ) -> VectorIndex:
        """An index of these vectors; ``like`` is an index of the same kind to borrow from
        (e.g. its trained centroids), when the backend can."""

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex:
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path}: vectors have dimension {index.d}, the KB says {dim}")
        return cls(index, cls._stored_ids(index))

    @staticmethod
    @abstractmethod
    def _stored_ids(index: faiss.Index) -> np.ndarray:
        """The ids a loaded FAISS index holds."""

    @classmethod
    def _mapped(cls, inner: faiss.Index, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """``inner`` behind an id map (ids are SQLite window ids), filled with ``vectors``."""
        index = faiss.IndexIDMap2(inner)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        return cls(index, ids)

    @staticmethod
    def _mapped_ids(index: faiss.Index) -> np.ndarray:
        """The ids of an index built by ``_mapped``."""
        return faiss.vector_to_array(index.id_map)

    def save(self, path: Path) -> None:
        """Written whole to a temporary name, flushed to disk, then renamed into place."""
        temporary = path.with_suffix(".tmp")
        faiss.write_index(self.index, str(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(path)

    def __len__(self) -> int:
        return self.index.ntotal

    @property
    def dim(self) -> int:
        return self.index.d

    def ids(self) -> np.ndarray:
        """Every id held, sorted."""
        return self._ids

    @abstractmethod
    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` (all held here), in that order."""

    @abstractmethod
    def _search(self, query: np.ndarray, k: int, selector, members: int) -> Hits:
        """The backend's own search; ``members`` is how many ids the selector lets through."""

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
        deleted: Tombstones | None = None,
    ) -> Hits:  # fmt: skip
        """The k best of ``allowed`` (default: all held) that are not ``deleted``; ``allowed``
        must already exclude the deleted.

        A selective filter never comes back short: when the backend finds fewer than k
        (an approximate index probes only part of the vectors), the allowed ids are
        searched exactly."""
        dead = len(deleted) if deleted is not None else 0
        members = len(self) - dead if allowed is None else len(allowed)
        k = min(k, members)
        if k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if allowed is not None and members <= self.exact_below(k):
            return self.exact(query, k, allowed)
        if allowed is not None:
            selector, bitmap = bitmap_selector(allowed)
            hits = self._search(query, k, selector, members)
            del bitmap
        else:
            hits = self._search(query, k, deleted.selector if dead else None, members)
        if len(hits) < k:
            if allowed is None:
                allowed = deleted.live(self._ids) if dead else self._ids
            return self.exact(query, k, allowed)
        return hits

    def exact_below(self, k: int) -> int:
        """Allowed sets this small are searched exactly (reading their vectors back)."""
        return 0

    def exact(self, query: np.ndarray, k: int, ids: np.ndarray) -> Hits:
        """Exact inner product over ``ids``: the reference every backend must agree with."""
        scores = self.vectors_of(ids) @ query.reshape(-1)
        top = np.argpartition(-scores, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top]
