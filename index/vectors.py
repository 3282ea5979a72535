"""The vector side of a KB: the vector index of each recent generation, shared by readers;
and query vectors, encoded in batches when many searches run at once.

The index itself is index/vector_index: segments (exact, or HNSW past a size) plus
deletions. SQLite keeps every vector, so the segment files can always be rebuilt from it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from index.vector_index.base import VectorIndex
from index.vector_index.factory import DEFAULT
from index.vector_index.segments import SegmentedIndex

INDEX_TYPE = DEFAULT.index_type  # a new KB's, unless a setting asks for another


class VectorCache:
    """The vector index of each recent generation, loaded once and shared by all readers.

    A reader asks for the generation its SQLite snapshot holds; one that is not loaded yet
    is loaded by the first reader to ask, while readers of other generations go on.
    """

    KEEP = 2  # the newest and the one before: a request that began before a change keeps its own

    def __init__(self):
        self._indexes: dict[int, SegmentedIndex] = {}
        self._loading: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, generation: int, load: Callable[[], SegmentedIndex]) -> SegmentedIndex:
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

    def segments(self) -> dict[str, VectorIndex]:
        """Segments loaded by any cached generation, by file name: immutable, so shared."""
        with self._lock:
            states = list(self._indexes.values())
        return {s.name: s.index for state in states for s in state.segments if s.name}

    def put(self, generation: int, index: SegmentedIndex) -> None:
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
