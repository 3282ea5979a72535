"""FTS5's bm25() (fts5_aux.c) over postings segments, term at a time in numpy.

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
    ``allowed``, the stats' hidden rows are left out unless ``hide`` is False."""
    terms = phrases(match)
    if any(len(p) > 1 for p in terms):
        return None
    if not terms or not stats.rows or k <= 0:
        return []
    postings = [[_live_postings(s, p[0]) for p in terms] for s in segments]
    df = np.array([sum(len(by_term[i][0]) for by_term in postings) for i in range(len(terms))])
    idf = np.log((stats.rows - df + 0.5) / (df + 0.5))
    idf[idf <= 0] = MIN_IDF
    hits: list[Hit] = []
    for at, segment in enumerate(segments):
        scores = _accumulated(len(segment.index), postings[at], idf, stats.norms[at])
        if allowed is not None:
            shown = segment.live & _mask(segment, allowed)
        else:
            shown = stats.shown[at] if hide else segment.live
        hits += _top(segment, scores, k, shown)
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
