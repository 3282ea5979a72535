"""Exact search: every vector compared with the query. Recall is 1 by construction, and at
tens of thousands of 384-d vectors a search costs a millisecond or two."""

from __future__ import annotations

import faiss
import numpy as np

from index.vector_index.base import Hits, VectorIndex


class FlatIndex(VectorIndex):
    """A flat inner-product index behind an id map (window ids)."""

    kind = "flat"

    @classmethod
    def build(cls, dim, ids, vectors, like=None) -> FlatIndex:
        return cls._mapped(faiss.IndexFlatIP(dim), ids, vectors)

    @staticmethod
    def _stored_ids(index) -> np.ndarray:
        return VectorIndex._mapped_ids(index)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]) if len(ids) else (
            np.zeros((0, self.dim), dtype=np.float32))  # fmt: skip

    def _search(self, query, k, selector, members) -> Hits:
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
