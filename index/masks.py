"""The allowed-id masks a filter hands to both indexes, and how a broad one is applied.

A mask is the sorted ids a filter allows (index.doc_map makes them so; ``sorted_ids`` checks).
For a filter that allows most of an index, both indexes search without the mask and apply it
after.

Handing FAISS a bitmap, or MaxScore an allowed mask, of 500k–860k ids costs 34–54 ms at 1M
clauses (docs/benchmarks.md, the 1M KB), several times an unmasked search. When a mask
allows a share s ≥ BROAD_SHARE of the index, both indexes search unmasked for about k/s
hits (with a margin), then for four times as many, and keep the allowed ones. If at least k
remain, they are the k best allowed hits of the unmasked ranking (any allowed hit ranked
higher would be among them), so an exact index returns exactly what the masked search
returns; otherwise the masked search runs as before.
"""

from __future__ import annotations

import numpy as np

BROAD_SHARE = 0.4  # below it, k/s grows past what the masked search costs
MARGIN = 1.5  # a filter's share of the top hits varies around its share of the index


def is_broad(allowed: np.ndarray, size: int) -> bool:
    """Whether a mask of ``allowed`` ids is better applied after an unmasked search."""
    return size > 0 and len(allowed) >= BROAD_SHARE * size


def widths(k: int, allowed: np.ndarray, size: int) -> tuple[int, ...]:
    """How many unmasked hits to ask for so that about k of them are allowed, then once more
    four times as many: the hits a query ranks first often share a document family, which a
    filter keeps or drops together."""
    first = min(size, int(k * MARGIN * size / max(len(allowed), 1)) + 10)
    return (first,) if first == size else (first, min(size, 4 * first))


def allowed_of(ids: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in ``allowed`` (sorted, unique), as a boolean array."""
    if not len(allowed):
        return np.zeros(len(ids), dtype=bool)
    at = np.searchsorted(allowed, ids).clip(max=len(allowed) - 1)
    return allowed[at] == ids


def sorted_ids(ids) -> np.ndarray:
    """``ids`` sorted without repeats. Masks come sorted already, and a linear check is ~50×
    cheaper than numpy 2's hashing np.unique over a broad mask (86k ids: 37 ms)."""
    ids = np.asarray(ids, dtype=np.int64)
    return ids if bool(np.all(ids[1:] > ids[:-1])) else np.unique(ids)
