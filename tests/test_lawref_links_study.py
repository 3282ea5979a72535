"""The lawref links study's pure pieces: the monotone alignment of local to national articles,
the neighbours' anchors, and the counts from each article's best candidate."""

from __future__ import annotations

import numpy as np

from evals.lawref_links_study import anchors, count, monotone_alignment

# 4 local articles × 5 national ones. Row 2's only gain (column 1) goes back: taking it means
# giving up row 1's column 3 (0.9 + 0.7 + 0.6 = 2.2 against 0.9 + 0.8 + 0.6 = 2.3).
GAIN = np.array([
    [0.9, 0.1, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.2, 0.8, 0.0],
    [0.0, 0.7, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.3, 0.6],
])  # fmt: skip


def test_monotone_alignment_by_hand():
    assert monotone_alignment(GAIN) == [0, 3, None, 4]


def test_rows_may_share_a_column_and_losses_are_never_taken():
    assert monotone_alignment(np.array([[0.5, 0.0], [0.5, 0.0]])) == [0, 0]
    assert monotone_alignment(np.array([[-0.2, 0.0], [0.0, 0.4]])) == [None, 1]
    assert monotone_alignment(np.zeros((3, 2))) == [None, None, None]


def test_anchors_leave_the_row_out():
    assert anchors(GAIN, 2) == (3, 4)  # rows 1 and 3 keep columns 3 and 4
    assert anchors(GAIN, 1) == (0, 1)  # without row 1, row 2 takes column 1: 0.9 + 0.7 + 0.6
    assert anchors(GAIN, 0) == (0, 3)  # nothing above: column 0


def test_count_against_hand_tallies():
    # (best score, best is labelled, article has a source); threshold 0.5
    tops = [(0.9, True, True), (0.8, False, True), (0.7, False, False), (0.3, False, False),
            (0.2, False, True), (-1.0, False, False)]  # fmt: skip
    t = count(tops, 0.5)
    assert (t.given, t.right, t.sourced) == (3, 1, 3)
    assert (t.none_said, t.none_right, t.none_labelled) == (3, 2, 3)
