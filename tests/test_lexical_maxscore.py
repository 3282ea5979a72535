"""MaxScore (index/lexical_index/maxscore.py) against the exhaustive scorer it replaces: the same
clause ids, in the same order, with the same scores to the bit, on real clause text and on
adversarial cases (filters, hidden rows, tombstones, several segments, ties, repeats)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.lexical import bm25_match, index_text
from index.lexical_index.postings import Postings
from index.lexical_index.segments import LexicalIndex, Segment
from ingest.pipeline import parse_file
from tests.conftest import ROOT, SHARED

LAWREF = SHARED / "corpora" / "lawrefbook"
NONE = np.zeros(0, dtype=np.int64)


def _same(index: LexicalIndex, match: str, k: int, allowed=None, hide: bool = True) -> list:
    """Both scorers' hits, asserted equal (ids, order and float scores); returns them."""
    fast = index.search(match, k, allowed, hide)
    assert fast == index.search(match, k, allowed, hide, exhaustive=True), (match, k)
    return fast


def _segments(ids: np.ndarray, texts: list[str], parts: int, deleted: float, rng) -> list:
    """``parts`` segments of the rows, ids interleaved; a share of each segment tombstoned."""
    split = np.array_split(rng.permutation(len(ids)), parts)
    segments = []
    for rows in split:
        postings = Postings.build(ids[rows], [texts[i] for i in rows])
        gone = rng.choice(postings.ids, int(deleted * len(rows)), replace=False)
        segments.append(Segment("", postings, np.sort(gone)))
    return segments


@pytest.fixture(scope="module")
def synthetic():
    """Zipf-distributed words with runs of identical rows (exact ties), ids not in row order."""
    rng = np.random.default_rng(7)
    weights = 1 / np.arange(1, 801) ** 1.1
    words = rng.choice(800, size=(4_000, 40), p=weights / weights.sum())
    lengths = rng.integers(1, 40, size=4_000)
    texts = [" ".join(f"w{w}" for w in row[:n]) for row, n in zip(words, lengths, strict=True)]
    for start in range(0, 400, 20):  # twenty groups of ten identical rows
        texts[start : start + 10] = [texts[start]] * 10
    ids = rng.permutation(np.arange(5, 5 * 4_001, 5))[:4_000].astype(np.int64)
    return ids, texts, rng


@pytest.fixture(scope="module")
def real():
    """Clauses of 40 lawrefbook files (jieba words, as ``clauses_bm25`` holds them)."""
    if not LAWREF.exists():
        pytest.skip(f"{LAWREF} is not present")
    files = sorted(LAWREF.rglob("*.md"))[::97][:40]
    texts = [index_text(c.text) for f in files for c in parse_file(f).clauses]
    ids = np.arange(1, len(texts) + 1, dtype=np.int64) * 3
    lines = (ROOT / "tests/eval/queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["text"] for line in lines[:60]]
    return ids, texts, [m for m in map(bm25_match, queries) if m]


def test_real_clauses_rank_the_same(real):
    ids, texts, matches = real
    rng = np.random.default_rng(1)
    one = LexicalIndex([Segment("", Postings.build(ids, texts), NONE)])
    several = LexicalIndex(_segments(ids, texts, 4, 0.1, rng), hidden=np.sort(ids[::7]))
    assert len(one) > 1_500
    for match in matches:
        for k in (1, 10, 100):
            assert len(_same(one, match, k)) == min(k, len(_same(one, match, 10**6)))
            _same(several, match, k)
            _same(several, match, k, hide=False)
        _same(several, match, 20, allowed=np.sort(rng.choice(ids, 200, replace=False)))


@pytest.mark.parametrize("parts, deleted", [(1, 0.0), (3, 0.0), (5, 0.2)])
def test_adversarial_cases_rank_the_same(synthetic, parts, deleted):
    ids, texts, rng = synthetic
    hidden = np.sort(rng.choice(ids, 300, replace=False))
    index = LexicalIndex(_segments(ids, texts, parts, deleted, rng), hidden=hidden)
    common = " OR ".join(f'"w{w}"' for w in range(10))  # many common words: little pruning
    cases = ['"w0"', '"w799"', '"w3" OR "w3"', '"W3" OR "w3" OR "w500"', '"nope" OR "w1"', common]
    for _ in range(40):
        picked = rng.choice(800, size=rng.integers(1, 12))
        cases.append(" OR ".join(f'"w{w}"' for w in picked))
    allowed = np.sort(rng.choice(ids, 150, replace=False))
    for match in cases:
        for k in (1, 7, 100, 10**6):  # 10**6: more than match
            _same(index, match, k)
            _same(index, match, k, hide=False)
            _same(index, match, k, allowed=allowed)
        _same(index, match, 5, allowed=allowed[:3])


def test_ties_are_cut_by_clause_id(synthetic):
    """Ten identical rows score the same: the top 3 are the three lowest ids."""
    ids, texts, _ = synthetic
    index = LexicalIndex([Segment("", Postings.build(ids[:10], texts[:10]), NONE)])
    word = texts[0].split()[-1]
    hits = _same(index, f'"{word}"', 3)
    assert [c for c, _ in hits] == sorted(ids[:10].tolist())[:3]
    assert len({s for _, s in hits}) == 1


def test_repeats_count_twice_and_nothing_is_empty(synthetic):
    ids, texts, _ = synthetic
    index = LexicalIndex([Segment("", Postings.build(ids, texts), NONE)])
    once, twice = _same(index, '"w3"', 5), _same(index, '"w3" OR "w3"', 5)
    assert [c for c, _ in once] == [c for c, _ in twice]
    assert all(b == pytest.approx(2 * a) for (_, a), (_, b) in zip(once, twice, strict=True))
    assert _same(index, '"absent"', 5) == [] and _same(index, '"w3"', 0) == []
    assert LexicalIndex().search('"w3"', 5) == []
