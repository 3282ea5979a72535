"""Broad masks (index/masks.py): a filter that allows most of an index is applied after a
widened unmasked search, and must give what the masked search gives."""

from __future__ import annotations

import numpy as np
import pytest

from index.lexical_index.postings import Postings
from index.lexical_index.segments import LexicalIndex, Segment
from index.masks import allowed_of, is_broad, sorted_ids, widths
from index.vector_index.factory import policy
from index.vector_index.segments import SegmentedIndex


@pytest.fixture(scope="module")
def lexical():
    """Zipf words over 3,000 rows in two segments, a tenth tombstoned, some rows hidden."""
    rng = np.random.default_rng(11)
    weights = 1 / np.arange(1, 300) ** 1.1
    words = rng.choice(299, size=(3_000, 30), p=weights / weights.sum())
    texts = [" ".join(f"w{w}" for w in row[: rng.integers(1, 30)]) for row in words]
    ids = np.arange(1, 3_001, dtype=np.int64)
    segments = []
    for part in np.array_split(rng.permutation(3_000), 2):
        postings = Postings.build(ids[part], [texts[i] for i in part])
        gone = np.sort(rng.choice(postings.ids, 150, replace=False))
        segments.append(Segment("", postings, gone))
    hidden = np.sort(rng.choice(ids, 300, replace=False))
    return LexicalIndex(segments, on_disk=False, hidden=hidden), ids, rng


@pytest.mark.parametrize("share", [0.4, 0.6, 0.9, 1.0])
def test_a_broad_mask_gives_the_masked_bm25_hits(lexical, share):
    index, ids, rng = lexical
    allowed = np.sort(rng.choice(ids, int(share * len(ids)), replace=False))
    assert is_broad(allowed, len(index))
    for query in ("w0 OR w1 OR w5", "w3", "w40 OR w2 OR w2", "w250 OR w298"):
        match = " OR ".join(f'"{t}"' for t in query.replace(" OR ", " ").split())
        for k in (1, 10, 100, 5_000):
            fast = index.search(match, k, allowed)
            assert fast == index.search(match, k, allowed, exhaustive=True), (query, k)
            assert set(c for c, _ in fast) <= set(allowed.tolist())


def test_the_broad_path_is_taken_and_falls_back_when_short(lexical, monkeypatch):
    index, ids, _ = lexical
    calls = []
    original = LexicalIndex._broad
    monkeypatch.setattr(
        LexicalIndex, "_broad", lambda self, *a: calls.append(original(self, *a)) or calls[-1]
    )
    allowed = ids[ids % 2 == 0]  # half the rows: broad
    assert index.search('"w0"', 10, allowed) == index.search('"w0"', 10, allowed, exhaustive=True)
    assert calls and calls[-1] is not None
    # a broad mask without w0's best 1,300 rows: neither widened search finds 50 it allows
    top = {c for c, _ in index.search('"w0"', 1_300, None, hide=False)}
    rest = np.array(sorted(set(ids.tolist()) - top), dtype=np.int64)
    assert is_broad(rest, len(index))
    calls.clear()
    hits = index.search('"w0"', 50, rest)
    assert calls == [None] and len(hits) == 50  # fell back to the masked search
    assert hits == index.search('"w0"', 50, rest, exhaustive=True)


def test_a_broad_mask_gives_the_masked_dense_hits():
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(4_000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(10, 4_010, dtype=np.int64)
    index = SegmentedIndex.rebuilt(16, ids, vectors, policy("flat"))
    for share in (0.4, 0.7, 1.0):
        allowed = np.sort(rng.choice(ids, int(share * len(ids)), replace=False))
        for query in vectors[:20]:
            hits = index.search(query, 50, allowed)
            scores = vectors[np.isin(ids, allowed)] @ query
            best = allowed[np.argsort(-scores, kind="stable")[:50]]
            assert [w for w, _ in hits] == best.tolist()
    query = vectors[0]  # a broad mask without its 1,200 nearest: the fallback must run
    rest = np.sort(ids[np.argsort(-(vectors @ query))[1_200:]])
    best = rest[np.argsort(-(vectors[np.isin(ids, rest)] @ query), kind="stable")[:50]]
    assert [w for w, _ in index.search(query, 50, rest)] == best.tolist()


def test_mask_helpers():
    assert sorted_ids([5, 3, 3, 9]).tolist() == [3, 5, 9]
    ready = np.array([1, 4, 7], dtype=np.int64)
    assert sorted_ids(ready) is ready  # already a mask: not copied
    assert allowed_of(np.array([1, 2, 7, 8]), ready).tolist() == [True, False, True, False]
    assert not allowed_of(np.array([1]), np.zeros(0, dtype=np.int64)).any()
    assert not is_broad(ready, 0) and is_broad(ready, 7) and not is_broad(ready, 8)
    assert widths(10, np.arange(50), 100) == (40, 100) and widths(10, np.arange(5), 20) == (20,)
