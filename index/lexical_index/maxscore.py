"""MaxScore (Turtle & Flood 1995), in the windowed form of Lucene's MaxScoreBulkScorer: the
exact top k of a segment, skipping the rows that cannot reach the k-th best score.

Rows go by in windows of WINDOW rows, the window with the highest bound first. A term's bound
in a window is its idf times the largest f·(k1 + 1)/(f + norm) of the blocks of BLOCK postings
it has there. In a window, the terms whose bounds together stay below the k-th score are
non-essential: a row none of the others (essential) holds cannot enter, so only the essential
terms' postings are walked, term at a time into a window buffer; a row they hold looks the
non-essential terms up (galloping search, largest bound first) and is dropped as soon as its
score so far plus the bounds left falls below the k-th score. A row that is kept is scored
with the same float operations in the same order as the exhaustive scorer
(scoring.ranked_exhaustive): its score is the same to the bit; ties go to the lower clause id.
"""

from __future__ import annotations

import numpy as np
from numba import njit

K1_PLUS_1 = 1.2 + 1.0  # scoring.K1 + 1.0, computed as numpy computes it there
SAFE = 1.0 + 1e-9  # a bound is raised by this before it prunes: float rounding cannot cut
BLOCK = 64  # postings per block maximum: the bounds a window's pruning reads
WINDOW = 4096  # rows scored at a time, each window with its own bounds


@njit(cache=True, error_model="numpy")
def block_maxima(rows, tfs, norms):
    """The largest f·(k1 + 1)/(f + norm) of each BLOCK postings in a row (a block may span
    two terms: a bound for both)."""
    out = np.zeros((rows.shape[0] + BLOCK - 1) // BLOCK)
    for at in range(rows.shape[0]):
        f = np.float64(tfs[at])
        value = f * K1_PLUS_1 / (f + norms[rows[at]])
        if value > out[at // BLOCK]:
            out[at // BLOCK] = value
    return out


@njit(cache=True, error_model="numpy")
def live_counts(starts, rows, live):
    """Each term's postings in live rows: its document frequency in a segment with deletes."""
    out = np.zeros(starts.shape[0] - 1, np.int64)
    for term in range(starts.shape[0] - 1):
        count = 0
        for at in range(starts[term], starts[term + 1]):
            count += live[rows[at]]
        out[term] = count
    return out


@njit(cache=True, error_model="numpy")
def _seek(rows, low, high, row):
    """The first position in [low, high) whose row is ≥ ``row`` (high if none): galloping."""
    if low >= high or rows[low] >= row:
        return low
    step = 1
    while low + step < high and rows[low + step] < row:
        low += step
        step *= 2
    top = min(low + step, high)
    low += 1
    while low < top:
        middle = (low + top) // 2
        if rows[middle] < row:
            low = middle + 1
        else:
            top = middle
    return low


@njit(cache=True, error_model="numpy")
def _worse(score_a, id_a, score_b, id_b):
    """Whether hit a ranks below hit b: a lower score, or the same score and a higher id."""
    return score_a < score_b or (score_a == score_b and id_a > id_b)


@njit(cache=True, error_model="numpy")
def _sift_down(scores, ids, size, at):
    """Restore the heap (worst hit at the root) below ``at``."""
    while True:
        child = 2 * at + 1
        if child >= size:
            return
        right = child + 1
        if right < size and _worse(scores[right], ids[right], scores[child], ids[child]):
            child = right
        if not _worse(scores[child], ids[child], scores[at], ids[at]):
            return
        scores[at], scores[child] = scores[child], scores[at]
        ids[at], ids[child] = ids[child], ids[at]
        at = child


@njit(cache=True, error_model="numpy")
def _offer(scores, ids, size, score, ident):
    """Put a hit in the heap of the best ``len(scores)`` when it belongs; the new size."""
    if size < scores.shape[0]:
        at = size
        scores[at], ids[at] = score, ident
        while at > 0:
            parent = (at - 1) // 2
            if not _worse(scores[at], ids[at], scores[parent], ids[parent]):
                break
            scores[at], scores[parent] = scores[parent], scores[at]
            ids[at], ids[parent] = ids[parent], ids[at]
            at = parent
        return size + 1
    if _worse(score, ident, scores[0], ids[0]):
        return size
    scores[0], ids[0] = score, ident
    _sift_down(scores, ids, size, 0)
    return size


@njit(cache=True, error_model="numpy")
def _bound(block_max, low, high):
    """The largest block maximum over postings [low, high); 0 when empty."""
    best = 0.0
    if low < high:
        for block in range(low // BLOCK, (high - 1) // BLOCK + 1):
            if block_max[block] > best:
                best = block_max[block]
    return best


@njit(cache=True, error_model="numpy")
def _by_bound(bounds, order):
    """``order``: the terms by bound ascending (insertion sort: queries have few terms)."""
    for i in range(bounds.shape[0]):
        order[i] = i
        j = i
        while j > 0 and bounds[order[j - 1]] > bounds[order[j]]:
            order[j - 1], order[j] = order[j], order[j - 1]
            j -= 1


@njit(cache=True, error_model="numpy")
def top_k(rows, tfs, block_max, begins, ends, weights, counts, factors, slots, norms, shown,
          ids, heap_scores, heap_ids, size):  # fmt: skip
    """Offer one segment's rows to the heap of the best hits (carried across segments); returns
    its new size. Term t's postings are ``rows[begins[t]:ends[t]]``, it is ``counts[t]``
    phrases of the query, its score is bounded by ``factors[t]`` (counts · idf · the avgdl
    margin) times a block maximum; ``slots``: the query's phrases in order, as term numbers
    (-1: a term the segment lacks). Rows go by in windows of WINDOW rows, the window with the
    highest bound first, so the k-th score rises fast; the rest go once none can reach it."""
    terms = begins.shape[0]
    edges = _edges(rows, begins, ends, (norms.shape[0] + WINDOW - 1) // WINDOW)
    bounds = _window_bounds(block_max, edges, factors)
    totals = bounds.sum(axis=1)
    cursor, upto, look = begins.copy(), begins.copy(), begins.copy()
    cumulative = np.zeros(terms)
    order = np.zeros(terms, np.int64)
    partial = np.zeros(WINDOW)  # each row's score so far (repeats counted)
    parts = np.zeros((terms, WINDOW))  # each term's score in each row, where ...
    stamp = np.zeros((terms, WINDOW), np.int64)  # ... it is this window's visit: no clearing
    seen = np.zeros(WINDOW, np.uint8)  # the rows an essential term holds
    for visit, window in enumerate(np.argsort(-totals)):
        threshold = heap_scores[0] if size == heap_scores.shape[0] else -1.0
        if totals[window] * SAFE < threshold:
            break  # nor can any window after it: their bounds are no higher
        cursor[:] = edges[window]
        upto[:] = edges[window + 1]
        _by_bound(bounds[window], order)
        first = _split(bounds[window], order, cumulative, threshold)
        look[:] = cursor
        if first == terms:
            continue  # no row of the window can enter
        _accumulate(rows, tfs, weights, counts, norms, shown, cursor, upto, order[first:],
                    window * WINDOW, partial, parts, stamp, visit + 1, seen)  # fmt: skip
        size = _candidates(rows, tfs, weights, counts, slots, norms, ids, look, upto, order,
                           cumulative, first, window * WINDOW, partial, parts, stamp, visit + 1,
                           seen, heap_scores, heap_ids, size)  # fmt: skip
    return size


@njit(cache=True, error_model="numpy")
def _edges(rows, begins, ends, windows):
    """``edges[w, t]``: term t's first posting in window w or past it (w = windows: its end)."""
    edges = np.zeros((windows + 1, begins.shape[0]), np.int64)
    for t in range(begins.shape[0]):
        at = begins[t]
        for window in range(windows):
            at = _seek(rows, at, ends[t], window * WINDOW)
            edges[window, t] = at
        edges[windows, t] = ends[t]
    return edges


@njit(cache=True, error_model="numpy")
def _window_bounds(block_max, edges, factors):
    """``bounds[w, t]``: term t's score bound in window w (0 where it holds no row)."""
    bounds = np.zeros((edges.shape[0] - 1, edges.shape[1]))
    for window in range(edges.shape[0] - 1):
        for t in range(edges.shape[1]):
            low, high = edges[window, t], edges[window + 1, t]
            bounds[window, t] = factors[t] * _bound(block_max, low, high)
    return bounds


@njit(cache=True, error_model="numpy")
def _accumulate(rows, tfs, weights, counts, norms, shown, cursor, upto, essential, first_row,
                partial, parts, stamp, visit, seen):  # fmt: skip
    """The essential terms' scores of the window's shown rows, term at a time: each into
    ``parts`` (stamped), their sum (repeats counted) into ``partial``; ``seen`` marks rows."""
    for t in essential:
        for at in range(cursor[t], upto[t]):
            row = rows[at]
            if shown[row]:
                slot = row - first_row
                seen[slot] = 1
                f = np.float64(tfs[at])
                part = weights[t] * (f * K1_PLUS_1 / (f + norms[row]))
                parts[t, slot] = part
                stamp[t, slot] = visit
                partial[slot] += counts[t] * part


@njit(cache=True, error_model="numpy")
def _candidates(rows, tfs, weights, counts, slots, norms, ids, look, upto, order, cumulative,
                first, first_row, partial, parts, stamp, visit, seen, heap_scores, heap_ids,
                size):  # fmt: skip
    """Offer the window's rows that may enter (in row order) to the heap; its new size. A row
    is dropped once its score so far plus the bounds of the non-essential terms not yet looked
    up (largest first) falls below the k-th score. No call takes an array in this loop:
    numba counts references to an array argument atomically, which cost more than the rest."""
    words = seen.view(np.uint64)
    for word in range(words.shape[0]):  # 8 rows at a time: most are not held
        if words[word] == 0:
            continue
        for slot in range(8 * word, 8 * word + 8):
            if not seen[slot]:
                continue
            row, score = first_row + slot, partial[slot]
            keep = True
            if size == heap_scores.shape[0]:
                threshold = heap_scores[0]
                for i in range(first, -1, -1):  # i = first: the essential score alone
                    left = cumulative[i - 1] if i > 0 else 0.0
                    if (score + left) * SAFE < threshold:
                        keep = False
                        break
                    if i == 0:
                        break
                    t = order[i - 1]
                    low, high = look[t], upto[t]  # galloping search (_seek), inline
                    if low < high and rows[low] < row:
                        step = 1
                        while low + step < high and rows[low + step] < row:
                            low += step
                            step *= 2
                        top = min(low + step, high)
                        low += 1
                        while low < top:
                            middle = (low + top) // 2
                            if rows[middle] < row:
                                low = middle + 1
                            else:
                                top = middle
                    look[t] = low
                    if low < high and rows[low] == row:
                        f = np.float64(tfs[low])
                        parts[t, slot] = weights[t] * (f * K1_PLUS_1 / (f + norms[row]))
                        stamp[t, slot] = visit
                        score += counts[t] * parts[t, slot]
            if keep:
                exact = _exact(parts, stamp, visit, slot, slots)
                size = _offer(heap_scores, heap_ids, size, exact, ids[row])
            partial[slot] = 0.0
            seen[slot] = 0
    return size


@njit(cache=True, error_model="numpy")
def _exact(parts, stamp, visit, slot, slots):
    """The exhaustive scorer's sum of a row's ``parts[term, slot]`` stamped ``visit``: phrase
    by phrase, in the query's order."""
    exact = 0.0
    for s in range(slots.shape[0]):
        if slots[s] >= 0 and stamp[slots[s], slot] == visit:
            exact += parts[slots[s], slot]
    return exact


@njit(cache=True, error_model="numpy")
def _split(bounds, order, cumulative, threshold):
    """Fill ``cumulative`` (bounds summed in ``order``); the number of terms, first in that
    order, whose bounds together stay below ``threshold``: the non-essential ones."""
    running, first = 0.0, 0
    for i in range(bounds.shape[0]):
        running += bounds[order[i]]
        cumulative[i] = running
        if running * SAFE < threshold:
            first = i + 1
    return first
