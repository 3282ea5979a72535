"""FTS5's bm25() (fts5_aux.c) over postings segments: MaxScore for the top k (maxscore.py),
checked against an exhaustive reference that scores every posting, term at a time in numpy.

score = Σ over the query's phrases of idf · f·(k1 + 1) / (f + k1·(1 − b + b·D/avgdl)), with
k1 = 1.2, b = 0.75, f the phrase's count in the row, D the row's tokens, avgdl the mean over
the live rows, idf = ln((N − n + 0.5)/(n + 0.5)) where N counts live rows and n the live
rows holding the phrase, and idf ≤ 0 raised to 1e-6, as FTS5 does. Deleted rows are left out
of N, n and avgdl, so the statistics are those of the live clauses, exactly as FTS5's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.lexical_index.maxscore import block_maxima, top_k
from index.lexical_index.tokens import phrases

if TYPE_CHECKING:
    from index.lexical_index.segments import Segment

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6

Hit = tuple[int, float]  # (clause id, -bm25: higher is better)


@dataclass(frozen=True)
class Statistics:
    """What every query of one state shares: N, avgdl, each row's length norm
    k1·(1 − b + b·D/avgdl), and the rows a search shows by default (live, not hidden)."""

    rows: int
    avgdl: float
    norms: list[np.ndarray]
    shown: list[np.ndarray]

    @classmethod
    def of(cls, segments: Sequence[Segment], hidden: np.ndarray) -> Statistics:
        rows = sum(s.live_count for s in segments)
        tokens = sum(int(s.index.lengths[s.live].sum()) for s in segments)
        avgdl = tokens / rows if rows else 1.0
        norms = [K1 * (1 - B + B * s.index.lengths / avgdl) for s in segments]
        shown = [s.live & ~_mask(s, hidden) for s in segments]
        return cls(rows, avgdl, norms, shown)


def _mask(segment: Segment, ids: np.ndarray) -> np.ndarray:
    """True at the rows of ``ids`` (sorted) this segment holds."""
    mask = np.zeros(len(segment.index), dtype=bool)
    mask[segment.rows_of(ids)] = True
    return mask


def ranked(
    segments: Sequence[Segment], stats: Statistics, match: str, k: int,
    allowed: np.ndarray | None, hide: bool = True,
) -> list[Hit] | None:  # fmt: skip
    """The top ``k`` rows for the MATCH, best first (ties: lower clause id first); without
    ``allowed``, the stats' hidden rows are left out unless ``hide`` is False. MaxScore
    (maxscore.py): the same hits and scores as ``ranked_exhaustive``, far fewer postings."""
    terms = _tokens(match)
    if terms is None:
        return None
    k = min(k, stats.rows)
    if not terms or k <= 0:
        return []
    unique = list(dict.fromkeys(terms))
    slots = np.array([unique.index(t) for t in terms], dtype=np.int64)
    idf = _idf(np.array([sum(_df(s, t) for s in segments) for t in unique]), stats.rows)
    scores, ids = np.zeros(k), np.zeros(k, dtype=np.int64)
    size = 0
    for at, segment in enumerate(segments):
        shown = _shown(segment, stats, at, allowed, hide)
        query = _SegmentQuery.of(segment, stats, at, unique, slots, idf)
        if query is not None:
            size = query.offer(segment, stats, at, shown, scores, ids, size)
    order = np.lexsort((ids[:size], -scores[:size]))
    return list(zip(ids[order].tolist(), scores[order].tolist(), strict=True))


@dataclass(frozen=True)
class _SegmentQuery:
    """The query's terms one segment holds, as maxscore.top_k takes them."""

    begins: np.ndarray
    ends: np.ndarray
    weights: np.ndarray  # idf
    counts: np.ndarray  # the query's phrases of each term
    factors: np.ndarray  # counts · idf · the avgdl margin: times a block maximum, a bound
    slots: np.ndarray  # the query's phrases in order, as positions here (-1: not held)

    @classmethod
    def of(cls, segment, stats, at, unique, slots, idf) -> _SegmentQuery | None:
        held = [(i, segment.index.terms.get(t)) for i, t in enumerate(unique)]
        held = [(i, term) for i, term in held if term is not None]
        if not held:
            return None
        which = np.array([i for i, _ in held], dtype=np.int64)
        term_ids = np.array([term for _, term in held], dtype=np.int64)
        counts = np.bincount(slots, minlength=len(unique))[which].astype(np.float64)
        place = np.full(len(unique), -1, dtype=np.int64)
        place[which] = np.arange(len(which))
        starts = segment.index.starts
        margin = _block_maxima(segment, stats, at)[1]
        return cls(starts[term_ids], starts[term_ids + 1], idf[which], counts,
                   counts * idf[which] * margin, place[slots])  # fmt: skip

    def offer(self, segment, stats, at, shown, scores, ids, size) -> int:
        """Offer the segment's rows to the heap (``scores``, ``ids``); its new size."""
        held = segment.index
        blocks = _block_maxima(segment, stats, at)[0]
        terms = (self.begins, self.ends, self.weights, self.counts, self.factors, self.slots)
        return top_k(held.rows, held.tfs, blocks, *terms, stats.norms[at], shown, held.ids,
                     scores, ids, size)  # fmt: skip


def _block_maxima(segment: Segment, stats: Statistics, at: int) -> tuple[np.ndarray, float]:
    """(the segment's block maxima of f·(k1 + 1)/(f + norm), a margin that keeps them bounds
    at this avgdl). Computed once per segment at the avgdl then, and again only when avgdl
    has moved by 10 %: a norm shrinks by no more than old/new avgdl, so maxima · max(1,
    new/old) bound."""
    memo = segment.index.memo
    found = memo.get("blocks")
    if found is None or not 0.9 <= stats.avgdl / found[0] <= 1.1:
        index = segment.index
        found = (stats.avgdl, block_maxima(index.rows, index.tfs, stats.norms[at]))
        memo["blocks"] = found
    return found[1], max(1.0, stats.avgdl / found[0])


def _df(segment: Segment, token: str) -> int:
    """Live rows of the segment holding the token."""
    at = segment.index.terms.get(token)
    if at is None:
        return 0
    if len(segment.deleted):
        return int(segment.live_df[at])
    return int(segment.index.starts[at + 1] - segment.index.starts[at])


def _tokens(match: str) -> list[str] | None:
    """The MATCH's phrases as one token each, in order; None when one has several."""
    terms = phrases(match)
    if any(len(p) > 1 for p in terms):
        return None
    return [p[0] for p in terms]


def _idf(df: np.ndarray, rows: int) -> np.ndarray:
    idf = np.log((rows - df + 0.5) / (df + 0.5))
    idf[idf <= 0] = MIN_IDF
    return idf


def _shown(segment, stats: Statistics, at: int, allowed, hide: bool) -> np.ndarray:
    """The segment's rows a search may return: live, and allowed or (``hide``) not hidden."""
    if allowed is not None:
        return segment.live & _mask(segment, allowed)
    return stats.shown[at] if hide else segment.live


# --- the reference: every posting of every term scored, term at a time --------------------


def ranked_exhaustive(
    segments: Sequence[Segment], stats: Statistics, match: str, k: int,
    allowed: np.ndarray | None, hide: bool = True,
) -> list[Hit] | None:  # fmt: skip
    """What ``ranked`` returns, from a score for every row that matches (numpy, term at a
    time): the reference the fast path is tested against."""
    terms = _tokens(match)
    if terms is None:
        return None
    if not terms or not stats.rows or k <= 0:
        return []
    postings = [[_live_postings(s, t) for t in terms] for s in segments]
    df = np.array([sum(len(by_term[i][0]) for by_term in postings) for i in range(len(terms))])
    idf = _idf(df, stats.rows)
    hits: list[Hit] = []
    for at, segment in enumerate(segments):
        scores = _accumulated(len(segment.index), postings[at], idf, stats.norms[at])
        hits += _top(segment, scores, k, _shown(segment, stats, at, allowed, hide))
    hits.sort(key=lambda hit: (-hit[1], hit[0]))
    return hits[:k]


def _live_postings(segment: Segment, token: str) -> tuple[np.ndarray, np.ndarray]:
    rows, tfs = segment.index.term(token)
    if len(segment.deleted) and len(rows):
        keep = segment.live[rows]
        rows, tfs = rows[keep], tfs[keep]
    return rows, tfs


def _accumulated(size: int, by_term, idf: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Each row's score in one segment (0 where no phrase occurs): one pass per phrase."""
    scores = np.zeros(size, dtype=np.float64)
    for (rows, tfs), weight in zip(by_term, idf, strict=True):
        if len(rows):
            f = tfs.astype(np.float64)
            scores[rows] += weight * (f * (K1 + 1.0) / (f + norms[rows]))
    return scores


def _top(segment: Segment, scores: np.ndarray, k: int, shown: np.ndarray) -> list[Hit]:
    """The best ``k`` shown rows that matched, as (clause id, score); ties at the cut stay."""
    rows = np.flatnonzero((scores > 0) & shown)  # a match scores > 0: idf ≥ 1e-6, f ≥ 1
    if len(rows) > k:
        best = np.argpartition(-scores[rows], k - 1)[:k]
        rows = rows[scores[rows] >= scores[rows[best]].min()]
    ids = segment.index.ids[rows]
    return list(zip(ids.tolist(), scores[rows].tolist(), strict=True))
