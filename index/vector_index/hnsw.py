"""Approximate search by a navigable small-world graph (HNSW, flat vectors): a query walks
the graph from an entry point towards its nearest neighbours, visiting a few thousand
vectors however many the segment holds.

Chosen over IVF by measurement (docs/benchmarks.md, ``bench/scale.py --compare``): on
100,000 vectors from real clauses, IVF needed a fifth of its lists probed to approach
recall@10 0.97, while HNSW gives 0.99 in a few milliseconds. Its cost is the build
(minutes for a million vectors on 2 cores), so the segment policy merges big segments
rarely. M=16 builds faster but its recall fell to 0.88 at 300k and 0.62 at 1M vectors.
"""

from __future__ import annotations

import faiss
import numpy as np

from index.vector_index.base import Hits, VectorIndex

LINKS = 32  # M: neighbours per node (16 builds faster but loses recall past 100k: measured)
BUILD_DEPTH = 80  # efConstruction
SEARCH_DEPTH = 600  # efSearch (at least k): the searcher asks for 300 windows
EXACT_SHARE = 0.02  # an allowed set under 2 % of the segment is searched exactly: a graph
EXACT_BELOW = 4096  # walk finds too few of a sparse set (and reading them back is cheap)


class HnswIndex(VectorIndex):
    """HNSW-Flat over inner product behind an id map (window ids; vectors can be read back)."""

    kind = "hnsw"

    @classmethod
    def build(cls, dim, ids, vectors, like=None) -> HnswIndex:
        graph = faiss.IndexHNSWFlat(dim, LINKS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = BUILD_DEPTH
        return cls._mapped(graph, ids, vectors)

    @staticmethod
    def _stored_ids(index) -> np.ndarray:
        return VectorIndex._mapped_ids(index)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return self.index.reconstruct_batch(ids) if len(ids) else (
            np.zeros((0, self.dim), dtype=np.float32))  # fmt: skip

    def exact_below(self, k: int) -> int:
        return max(EXACT_BELOW, int(EXACT_SHARE * len(self)))

    def _search(self, query, k, selector, members) -> Hits:
        depth = max(SEARCH_DEPTH, k)
        if members < len(self):  # a filter: the walk must visit more to meet k members
            depth = min(max(depth, int(k * len(self) / max(members, 1))), 4 * depth)
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=depth)
        scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
