"""The vector side of a KB: window vectors by window id, inner product on unit vectors;
and query vectors, encoded in batches when many searches run at once.

The index is exact (a flat inner-product index behind an id map): at a few hundred
thousand 384-d vectors a search is a few milliseconds, and recall is 1 by construction.
SQLite keeps every vector, so this file can always be rebuilt from it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

INDEX_TYPE = "IDMap2,Flat,IP"


class VectorIndex:
    """Window vectors searchable by inner product, optionally within a set of ids."""

    def __init__(self, dim: int, index: faiss.Index | None = None):
        self.dim = dim
        self.index = index or faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        built = cls(dim)
        if len(ids):
            built.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        return built

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex:
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path}: vectors have dimension {index.d}, the KB says {dim}")
        return cls(dim, index)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    def __len__(self) -> int:
        return self.index.ntotal

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """(window id, cosine) best first; ``allowed`` restricts the ids searched."""
        if not len(self) or k <= 0 or (allowed is not None and not len(allowed)):
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.search(query, min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


class VectorCache:
    """The vector index of each recent generation, loaded once and shared by all readers.

    A reader asks for the generation its SQLite snapshot holds; one that is not loaded yet
    is loaded by the first reader to ask, while readers of other generations go on.
    """

    KEEP = 2  # the newest and the one before: a request that began before a change keeps its own

    def __init__(self):
        self._indexes: dict[int, VectorIndex] = {}
        self._loading: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, generation: int, load: Callable[[], VectorIndex]) -> VectorIndex:
        with self._lock:
            found = self._indexes.get(generation)
            loading = self._loading.setdefault(generation, threading.Lock())
        if found is not None:
            return found
        with loading:
            with self._lock:
                found = self._indexes.get(generation)
            if found is None:
                found = load()
                self.put(generation, found)
        return found

    def put(self, generation: int, index: VectorIndex) -> None:
        with self._lock:
            self._indexes[generation] = index
            for old in sorted(self._indexes)[: -self.KEEP]:
                del self._indexes[old]
                self._loading.pop(old, None)


@dataclass
class _Query:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: np.ndarray | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Encodes queries for many threads at once: what waits while the model is busy goes in
    the next batch. A short query costs the model little more in a batch of 16 than alone,
    so a busy server answers more searches; a lone search waits for no one."""

    MAX_BATCH = 32

    def __init__(self, encode: Callable[[list[str]], np.ndarray], workers: int | None = None):
        self._encode = encode
        self._queue: queue.SimpleQueue[_Query] = queue.SimpleQueue()
        self._workers = workers or os.cpu_count() or 1  # one batch at a time per core
        self._started = False
        self._lock = threading.Lock()

    def encode(self, text: str) -> np.ndarray:
        """The query's vector (the encoder's error, if it fails)."""
        self._start()
        query = _Query(text)
        self._queue.put(query)
        query.done.wait()
        if query.error is not None:
            raise query.error
        return query.vector

    def _start(self) -> None:
        with self._lock:
            if not self._started:
                for n in range(self._workers):
                    name = f"query-encoder-{n}"
                    threading.Thread(target=self._work, name=name, daemon=True).start()
                self._started = True

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            share = -(-(1 + self._queue.qsize()) // self._workers)  # the rest for the others:
            while len(batch) < min(share, self.MAX_BATCH):  # one batch runs on one core
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._answer(batch)

    def _answer(self, batch: list[_Query]) -> None:
        try:
            vectors = self._encode([q.text for q in batch])
            for query, vector in zip(batch, vectors, strict=True):
                query.vector = vector
        except BaseException as error:  # the callers get it; this worker keeps serving
            for query in batch:
                query.error = error
        for query in batch:
            query.done.set()
