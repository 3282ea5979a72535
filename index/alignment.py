"""Local alignment of wording, as text-reuse detectors align bills: Smith-Waterman over characters.

The fast path is a numba kernel; ``smith_waterman_reference`` is the textbook version it is
tested against. Scores: +2 for a match, -1 for a mismatch or a gap, so a local clause copied
from a national one scores about twice its length, and a rewritten one much less.
``differences`` turns a linked pair into the spans a reader wants to see: added, dropped,
changed (difflib's opcodes over the two texts).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
from numba import njit

MATCH, MISMATCH, GAP = 2, -1, -1


@dataclass(frozen=True)
class Alignment:
    """The best local alignment: its score and the aligned stretch of each text."""

    score: int
    a_span: tuple[int, int]
    b_span: tuple[int, int]

    def coverage(self, a_length: int) -> float:
        """How much of text a the alignment could explain: score / best possible score of a."""
        return self.score / (MATCH * a_length) if a_length else 0.0


@njit(cache=True)
def _kernel(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int, int]:
    """(score, a_start, a_end, b_start, b_end); start cells travel along the best path."""
    m = b.shape[0]
    previous = np.zeros(m + 1, np.int64)
    current = np.zeros(m + 1, np.int64)
    start_i_prev = np.zeros(m + 1, np.int64)
    start_j_prev = np.zeros(m + 1, np.int64)
    start_i = np.zeros(m + 1, np.int64)
    start_j = np.zeros(m + 1, np.int64)
    best, best_i, best_j, best_si, best_sj = 0, 0, 0, 0, 0
    for i in range(1, a.shape[0] + 1):
        current[0] = 0
        for j in range(1, m + 1):
            diagonal = previous[j - 1] + (MATCH if a[i - 1] == b[j - 1] else MISMATCH)
            up = previous[j] + GAP
            left = current[j - 1] + GAP
            score = max(0, diagonal, up, left)
            current[j] = score
            if score == 0:
                start_i[j], start_j[j] = i, j
            elif score == diagonal:
                if previous[j - 1] == 0:
                    start_i[j], start_j[j] = i - 1, j - 1
                else:
                    start_i[j], start_j[j] = start_i_prev[j - 1], start_j_prev[j - 1]
            elif score == up:
                start_i[j], start_j[j] = start_i_prev[j], start_j_prev[j]
            else:
                start_i[j], start_j[j] = start_i[j - 1], start_j[j - 1]
            if score > best:
                best, best_i, best_j = score, i, j
                best_si, best_sj = start_i[j], start_j[j]
        previous, current = current, previous
        start_i_prev, start_i = start_i, start_i_prev
        start_j_prev, start_j = start_j, start_j_prev
    return best, best_si, best_i, best_sj, best_j


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def smith_waterman(a: str, b: str) -> Alignment:
    """The best local alignment of a and b (characters; compare normalised texts)."""
    if not a or not b:
        return Alignment(0, (0, 0), (0, 0))
    score, a_start, a_end, b_start, b_end = _kernel(_codes(a), _codes(b))
    return Alignment(int(score), (int(a_start), int(a_end)), (int(b_start), int(b_end)))


@njit(cache=True)
def _scores_kernel(a: np.ndarray, b: np.ndarray, starts: np.ndarray, chosen: np.ndarray):
    """The best local alignment score of a with each text ``k`` of ``chosen``, that is
    b[starts[k]:starts[k + 1]]; the score alone, so one row and no start cells."""
    out = np.zeros(chosen.shape[0], np.int64)
    row = np.zeros(a.shape[0] + 1, np.int64)
    for n in range(chosen.shape[0]):
        k = chosen[n]
        row[:] = 0
        best = 0
        for j in range(starts[k], starts[k + 1]):  # row[i] holds H[i][j - 1], then H[i][j]
            corner, above = 0, 0  # H[i - 1][j - 1] and H[i - 1][j]
            for i in range(1, a.shape[0] + 1):
                before = row[i]
                diagonal = corner + (MATCH if a[i - 1] == b[j] else MISMATCH)
                score = max(0, diagonal, before + GAP, above + GAP)
                row[i], corner, above = score, before, score
                if score > best:
                    best = score
        out[n] = best
    return out


class Aligner:
    """Smith-Waterman scores of any text against chosen ones of a fixed list (a linking run's
    source clauses): the list is encoded once, and one call scores all the chosen."""

    def __init__(self, texts: list[str]):
        codes = [_codes(t) for t in texts]
        self.lengths = np.array([len(c) for c in codes], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)

    def scores(self, text: str, chosen: list[int]) -> np.ndarray:
        """Equal to ``smith_waterman(text, texts[k]).score`` for each k of ``chosen``."""
        if not text or not chosen:
            return np.zeros(len(chosen), np.int64)
        return _scores_kernel(_codes(text), self.codes, self.starts, np.array(chosen, np.int64))


def smith_waterman_reference(a: str, b: str) -> int:
    """The textbook full-matrix score, for testing the kernel."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    best = 0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            diagonal = rows[i - 1][j - 1] + (MATCH if a[i - 1] == b[j - 1] else MISMATCH)
            rows[i][j] = max(0, diagonal, rows[i - 1][j] + GAP, rows[i][j - 1] + GAP)
            best = max(best, rows[i][j])
    return best


@dataclass(frozen=True)
class Change:
    """One difference of a local clause from its source: spans in each text (end exclusive)."""

    kind: str  # added | dropped | changed
    local: tuple[int, int]
    source: tuple[int, int]
    local_text: str
    source_text: str


def differences(local: str, source: str) -> list[Change]:
    """What the local text added, dropped or changed relative to its source, in order."""
    matcher = difflib.SequenceMatcher(None, source, local, autojunk=False)
    kinds = {"insert": "added", "delete": "dropped", "replace": "changed"}
    return [
        Change(kinds[op], (l1, l2), (s1, s2), local[l1:l2], source[s1:s2])
        for op, s1, s2, l1, l2 in matcher.get_opcodes()
        if op != "equal"
    ]
