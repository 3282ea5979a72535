"""The FAISS side of a KB: window vectors by window id, inner product on unit vectors.

The index is exact (a flat inner-product index behind an id map): at a few hundred
thousand 384-d vectors a search is a few milliseconds, and recall is 1 by construction.
SQLite keeps every vector, so this file can always be rebuilt from it.
"""

from __future__ import annotations

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
