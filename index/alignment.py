"""Local alignment of wording, as text-reuse detectors align bills: Smith-Waterman over characters.

The fast path is a numba kernel; ``smith_waterman_reference`` is the textbook version it is
tested against. Linking needs the scores alone, of many pairs: ``pair_wording`` (with the
bigrams two texts share) scores them anti-diagonal by anti-diagonal, in whole int32 vectors,
about four times as fast as row by row; ``smith_waterman`` is its reference.
Scores: +2 for a match, -1 for a mismatch or a gap, so a local clause copied from a national
one scores about twice its length, and a rewritten one much less.
``differences`` turns a linked pair into the spans a reader wants to see: added, dropped,
changed (difflib's opcodes over the two texts).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
from numba import njit

MATCH, MISMATCH, GAP = 2, -1, -1
LANE_WIDTH = 8  # the kernels' anti-diagonals are padded to a multiple of this many cells


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


def codes_of(text: str) -> np.ndarray:
    """The text's characters as integers (code points), as the kernels compare them."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int32)


def smith_waterman(a: str, b: str) -> Alignment:
    """The best local alignment of a and b (characters; compare normalised texts)."""
    if not a or not b:
        return Alignment(0, (0, 0), (0, 0))
    score, a_start, a_end, b_start, b_end = _kernel(codes_of(a), codes_of(b))
    return Alignment(int(score), (int(a_start), int(a_end)), (int(b_start), int(b_end)))


@njit(cache=True)
def _sweep(ap, rbp, first, last, h0, h1, h2) -> int:
    """The best cell of anti-diagonals first..last of H for ap against b', each all len(ap)
    cells long: cell (i, j = d - i) compares ap[i - 1] with b'[j - 1] = rbp[len(rbp) - d + i]
    (rbp is b' reversed). The cells of one anti-diagonal are independent and every diagonal
    is as long, a multiple of LANE_WIDTH: the loop runs in whole vectors (int32)."""
    n, total = ap.shape[0], rbp.shape[0]
    zero, match, mismatch, gap = np.int32(0), np.int32(MATCH), np.int32(MISMATCH), np.int32(GAP)
    h0[: n + 1], h1[: n + 1], h2[: n + 1] = 0, 0, 0  # h*[i]: cell i of diagonals d - 2, d - 1, d
    best = zero
    for d in range(first, last + 1):
        across = rbp[total - d + 1 : total - d + 1 + n]
        corner, above, left, out = h0[0:n], h1[0:n], h1[1 : n + 1], h2[1 : n + 1]
        for k in range(n):
            step = match if ap[k] == across[k] else mismatch
            gapped = np.int32(max(above[k], left[k]) + gap)
            score = max(max(zero, np.int32(corner[k] + step)), gapped)
            out[k] = score
            best = max(best, score)
        h0, h1, h2 = h1, h2, h0
    return best


@njit(cache=True)
def _best_score(a, rb, lo, hi, ap, rbp, h0, h1, h2) -> int:
    """The best local alignment score of a with the text b whose codes, reversed, are
    rb[lo:hi]: the score alone. The shorter text runs along the anti-diagonals, padded to a
    multiple of LANE_WIDTH with a code that matches nothing, and the longer one is padded as
    long on both sides with another: a cell of the padding only loses score on its
    neighbours' (it can never match), so the best cell is the same. ap, rbp, h0, h1, h2 are
    buffers (``_buffers``), overwritten."""
    n, m = a.shape[0], hi - lo
    if n == 0 or m == 0:
        return 0
    width = (min(n, m) + LANE_WIDTH - 1) // LANE_WIDTH * LANE_WIDTH
    longer = max(n, m)
    along, across = ap[:width], rbp[: longer + 2 * width]
    along[:] = -2
    across[:] = -1
    if n <= m:  # a along the diagonals, b across (reversed): already so in rb
        along[:n] = a
        across[width : width + m] = rb[lo:hi]
    else:  # b along (forward again), a across (reversed)
        for k in range(m):
            along[k] = rb[hi - 1 - k]
        for k in range(n):
            across[width + k] = a[n - 1 - k]
    return _sweep(along, across, width + 2, 2 * width + longer, h0, h1, h2)


@njit(cache=True)
def _longest(starts: np.ndarray, chosen: np.ndarray) -> int:
    """The length of the longest text k of ``chosen`` (text k: [starts[k], starts[k + 1]))."""
    longest = 0
    for k in chosen:
        longest = max(longest, starts[k + 1] - starts[k])
    return longest


@njit(cache=True)
def _buffers(longest: int):
    """Buffers for ``_best_score`` of texts at most ``longest`` long."""
    width = (longest + LANE_WIDTH - 1) // LANE_WIDTH * LANE_WIDTH
    rows = np.zeros((3, width + 1), np.int32)
    return np.empty(width, np.int32), np.empty(longest + 2 * width, np.int32), rows


@njit(cache=True)
def _shared_count(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> int:
    """How many values of sorted, distinct a are in sorted, distinct b[lo:hi]."""
    count, i, j = 0, 0, lo
    while i < a.shape[0] and j < hi:
        if a[i] == b[j]:
            count += 1
            i += 1
            j += 1
        elif a[i] < b[j]:
            i += 1
        else:
            j += 1
    return count


@njit(cache=True)
def _pairs_kernel(codes, starts, grams, gram_starts, rcodes, rstarts, rgrams, rgram_starts,
                  left, right):  # fmt: skip
    """For each pair p: the Smith-Waterman score of text left[p] of the first list with text
    right[p] of the second, and how many of the first's bigrams the second holds."""
    scores = np.zeros(left.shape[0], np.int64)
    shared = np.zeros(left.shape[0], np.int64)
    ap, rbp, rows = _buffers(max(_longest(starts, left), _longest(rstarts, right)))
    h0, h1, h2 = rows[0], rows[1], rows[2]
    for p in range(left.shape[0]):
        i, k = left[p], right[p]
        a = codes[starts[i] : starts[i + 1]]
        scores[p] = _best_score(a, rcodes, rstarts[k], rstarts[k + 1], ap, rbp, h0, h1, h2)
        a_grams = grams[gram_starts[i] : gram_starts[i + 1]]
        shared[p] = _shared_count(a_grams, rgrams, rgram_starts[k], rgram_starts[k + 1])
    return scores, shared


def reversed_spans(codes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Texts laid end to end (text k: codes[starts[k]:starts[k + 1]]), each one reversed in
    its place: what the kernels read the texts they align against from."""
    lengths = np.diff(starts)
    ends = np.repeat(starts[:-1] + starts[1:] - 1, lengths)
    return codes[ends - np.arange(len(codes))] if len(codes) else codes


def bigram_codes(codes: np.ndarray) -> np.ndarray:
    """A text's distinct character bigrams, sorted, each as one integer (from its codes)."""
    codes = codes.astype(np.int64)
    return np.unique((codes[:-1] << 21) | codes[1:])


def pair_wording(first: tuple, second: tuple, left: np.ndarray, right: np.ndarray):
    """(Smith-Waterman scores, shared bigram counts) of pairs of texts: text left[p] of the
    first list with text right[p] of the second. Each list is its texts laid end to end as
    (codes, starts, bigrams, bigram starts): text i is codes[starts[i]:starts[i + 1]], its
    distinct ``bigram_codes`` likewise; the second list's codes each reversed in place
    (``reversed_spans``). One call for all the pairs of a linking run."""
    return _pairs_kernel(*first, *second, left, right)


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
