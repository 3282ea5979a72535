"""Ranking metrics and the BEIR/pyserini file formats: TREC qrels and runs, queries.jsonl.

Recall@k is the share of a query's relevant items in its first k results; MRR@k is 1 / rank
of the first relevant result within the first k (0 when none). Both are averaged over the
queries that have judgements, as trec_eval and pyserini do.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

Run = dict[str, list[str]]  # query id → item ids, best first (no repeats)
Qrels = dict[str, set[str]]  # query id → relevant item ids


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str


def recall_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """Share of the relevant items found in the first k."""
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """1 / rank of the first relevant item within the first k, else 0."""
    return next((1 / rank for rank, item in enumerate(ranked[:k], 1) if item in relevant), 0.0)


def score(run: Run, qrels: Qrels, recall_cutoffs=(10, 100), mrr_cutoff=10) -> dict[str, float]:
    """Mean Recall@k for each cutoff and MRR@mrr_cutoff over the judged queries (missing runs
    count as empty)."""
    judged = [q for q, relevant in qrels.items() if relevant]
    totals: dict[str, float] = defaultdict(float)
    for query_id in judged:
        ranked = run.get(query_id, [])
        for k in recall_cutoffs:
            totals[f"R@{k}"] += recall_at(ranked, qrels[query_id], k)
        totals[f"MRR@{mrr_cutoff}"] += mrr_at(ranked, qrels[query_id], mrr_cutoff)
    return {name: round(value / len(judged), 4) for name, value in totals.items()}


def write_queries(path: Path, queries: Iterable[Query], split: dict[str, str]) -> None:
    """BEIR queries.jsonl: {"_id", "text", "metadata": {"split"}} a line."""
    with path.open("w", encoding="utf-8") as out:
        for q in queries:
            row = {"_id": q.query_id, "text": q.text, "metadata": {"split": split[q.query_id]}}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_qrels(path: Path, qrels: Qrels) -> None:
    """TREC qrels: ``query_id 0 item_id 1`` a line."""
    with path.open("w", encoding="utf-8") as out:
        for query_id, relevant in qrels.items():
            for item in sorted(relevant):
                out.write(f"{query_id} 0 {item} 1\n")


def read_qrels(path: Path) -> Qrels:
    qrels: Qrels = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            query_id, _, item, grade = line.split()
            if int(grade) > 0:
                qrels[query_id].add(item)
    return dict(qrels)


def write_run(path: Path, run: Run, tag: str) -> None:
    """TREC run: ``query_id Q0 item_id rank score tag``; score is -rank (the order is the run)."""
    with path.open("w", encoding="utf-8") as out:
        for query_id, ranked in run.items():
            for rank, item in enumerate(ranked, 1):
                out.write(f"{query_id} Q0 {item} {rank} {-rank} {tag}\n")


def read_run(path: Path) -> Run:
    rows: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            query_id, _, item, rank, _, _ = line.split()
            rows[query_id].append((int(rank), item))
    return {q: [item for _, item in sorted(items)] for q, items in rows.items()}
