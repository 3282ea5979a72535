"""Targets across documents: each with its metric, lined up so national and local numbers meet.

Two metrics are the same when their keys (ingest.targets.metric_key: no level words) are equal
or nearly so with the same head noun: 产教融合试点城市 and 产教融合型城市 line up; 城市 and 企业
never do.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from index.filters import Filters
from index.records import ClauseCitation
from index.store import Store
from ingest.targets import metric_key

LEVEL_ORDER = {"national": 0, "provincial": 1, "municipal": 2, "county": 3}
SAME_METRIC = 0.75  # SequenceMatcher ratio of two keys that name one metric
CSV_FIELDS = (
    "metric_group", "metric", "value", "unit", "qualifier", "year", "level", "region",
    "doc_title", "doc_number", "path", "text", "clause_id",
)  # fmt: skip


@dataclass
class TargetRow(ClauseCitation):
    """One quantitative target with where it comes from."""

    path: list[str]
    text: str
    metric: str | None
    metric_group: str | None
    value: float
    unit: str
    qualifier: str | None
    year: int | None

    def csv_row(self) -> list:
        values = {**self.__dict__, "path": "/".join(self.path)}
        return ["" if values[f] is None else values[f] for f in CSV_FIELDS]


def list_targets(store: Store, filters: Filters, year: int | None = None) -> list[TargetRow]:
    """Targets that pass the filters (``year``: the target's own deadline), grouped by metric."""
    rows = []
    for clause in store.target_rows(filters):
        for target in json.loads(clause["targets"]):
            if year is not None and target["year"] != year:
                continue
            rows.append(
                TargetRow(
                    clause_id=clause["clause_id"], doc_id=clause["doc_id"],
                    doc_title=clause["doc_title"], doc_number=clause["doc_number"],
                    level=clause["level"], region=clause["region"],
                    path=[*json.loads(clause["path"]), clause["label"]], text=target["text"],
                    metric=target.get("metric"), metric_group=metric_key(target.get("metric")),
                    value=target["value"], unit=target["unit"], qualifier=target["qualifier"],
                    year=target["year"],
                )
            )  # fmt: skip
    _group(rows)
    return sorted(rows, key=_lineup)


def _group(rows: list[TargetRow]) -> None:
    """Give nearly equal metric keys one group name: the key seen at the highest level."""
    level = {}
    for row in rows:
        if row.metric_group:
            rank = LEVEL_ORDER.get(row.level, 9)
            level[row.metric_group] = min(rank, level.get(row.metric_group, rank))
    keys = sorted(level, key=lambda k: (level[k], k))
    group: dict[str, str] = {}
    for key in keys:
        group[key] = next((g for g in dict.fromkeys(group.values()) if same_metric(key, g)), key)
    for row in rows:
        row.metric_group = group.get(row.metric_group) if row.metric_group else None


def same_metric(a: str, b: str) -> bool:
    """Whether two metric keys count the same thing: nearly equal, and the same head noun."""
    if a == b:
        return True
    return a[-2:] == b[-2:] and difflib.SequenceMatcher(None, a, b).ratio() >= SAME_METRIC


def _lineup(row: TargetRow) -> tuple:
    return (row.metric_group is None, row.metric_group or "", row.year or 0,
            LEVEL_ORDER.get(row.level, 9), row.doc_id)  # fmt: skip
