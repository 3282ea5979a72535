"""When immutable segments are merged: one policy for the vector and the BM25 index.

A segment a third deleted is rewritten without its deleted rows. Past ``max_segments``, the
smallest are merged together, a group growing while the next segment is no bigger than it,
so merged sizes grow geometrically and a row is rewritten O(log n) times over a KB's life
(Lucene's tiered merging, simplified). Segments of ``max_merged`` live rows or more are not
merged for their number: merging them would cost much and save little.

A write may merge only up to a ``limit`` of rows: a KB that merges in the background
(index/merging.py) keeps the large merges, which build an HNSW graph for seconds to
minutes, out of the change that triggers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

S = TypeVar("S")


@dataclass(frozen=True)
class MergePolicy:
    """The thresholds; ``groups`` applies them to a state's segments."""

    max_segments: int = 8
    max_merged: int = 500_000
    max_deleted: float = 1 / 3

    def groups(
        self, segments: Sequence[S], live: Callable[[S], int], total: Callable[[S], int],
        full: bool, limit: int | None = None,
    ) -> list[list[S]]:  # fmt: skip
        """Groups of segments to merge; ``full``: all into one (a state not on disk yet);
        ``limit``: only groups of at most that many live rows (None: any)."""
        if full:
            return [list(segments)] if segments else []
        cap = self.max_merged if limit is None else min(limit, self.max_merged)
        worn = [s for s in segments if total(s) - live(s) > self.max_deleted * total(s)]
        groups = [[s] for s in worn if limit is None or live(s) <= limit]
        rest = sorted((s for s in segments if s not in worn), key=live)
        small = [s for s in rest if live(s) < self.max_merged]
        if len(rest) > self.max_segments and len(small) > 1:
            group = small[: max(2, len(rest) - self.max_segments + 1)]
            while limit is not None and len(group) > 2 and sum(map(live, group)) > limit:
                group.pop()
            for s in small[len(group) :]:
                size = sum(live(g) for g in group)
                if live(s) > size or live(s) + size > cap:
                    break
                group.append(s)
            if len(group) > 1 and (limit is None or sum(map(live, group)) <= limit):
                groups.append(group)
        return groups
