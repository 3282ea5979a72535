"""Retrieval evaluation in the BEIR layout: queries.jsonl, qrels/test.tsv, metrics per mode.

``python -m evals.retrieval [EVAL_DIR] --kb DIR`` (what ``make eval`` runs) prints
Recall@1/5/10 and MRR@10 (evals.metrics) for dense, BM25 and hybrid side by side, overall
and per kind of query (research questions, unit ownership, exact wording).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from evals.metrics import score
from index.kb import KnowledgeBase
from index.search import Searcher

CUTOFFS = (1, 5, 10)
EVAL_MODES = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str
    kind: str


def load_queries(path: Path) -> list[Query]:
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries.append(Query(row["_id"], row["text"], row.get("metadata", {}).get("kind", "")))
    return queries


def load_qrels(path: Path) -> dict[str, set[str]]:
    """query id → ids of the relevant clauses (score > 0); the first line is a header."""
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            query_id, clause_id, score = line.split("\t")
            if int(score) > 0:
                qrels[query_id].add(clause_id)
    return dict(qrels)


def score_run(run: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    """Mean Recall@1/5/10 and MRR@10 over the queries of ``run`` that have qrels (a group's)."""
    judged = {query_id: qrels[query_id] for query_id in run if query_id in qrels}
    return score(run, judged, recall_cutoffs=CUTOFFS, mrr_cutoff=10)


def make_run(searcher: Searcher, queries: list[Query], mode: str) -> dict[str, list[str]]:
    """query id → the top-10 clause ids in ``mode``."""
    return {
        q.query_id: [h.clause_id for h in searcher.search(q.text, max(CUTOFFS), mode=mode)]
        for q in queries
    }


def evaluate(searcher: Searcher, eval_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {mode: metrics}} for the group "all" and for each kind of query."""
    queries = load_queries(eval_dir / "queries.jsonl")
    qrels = load_qrels(eval_dir / "qrels" / "test.tsv")
    runs = {mode: make_run(searcher, queries, mode) for mode in EVAL_MODES}
    groups = {"all": queries}
    for query in queries:
        groups.setdefault(query.kind, []).append(query)
    return {
        group: {
            mode: score_run({q.query_id: runs[mode][q.query_id] for q in members}, qrels)
            for mode in EVAL_MODES
        }
        for group, members in groups.items()
    }


def format_table(results: dict[str, dict[str, dict[str, float]]], counts: dict[str, int]) -> str:
    metrics = [f"R@{k}" for k in CUTOFFS] + ["MRR@10"]
    lines = [
        "| queries | mode | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for group, modes in results.items():
        for mode, scores in modes.items():
            values = " | ".join(f"{scores.get(m, 0):.3f}" for m in metrics)
            lines.append(f"| {group} ({counts[group]}) | {mode} | {values} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_dir", nargs="?", type=Path, default=Path("tests/eval"))
    parser.add_argument("--kb", type=Path, required=True, help="KB holding the judged corpus")
    args = parser.parse_args()
    searcher = Searcher(KnowledgeBase(args.kb))
    results = evaluate(searcher, args.eval_dir)
    queries = load_queries(args.eval_dir / "queries.jsonl")
    counts = {"all": len(queries)}
    for query in queries:
        counts[query.kind] = counts.get(query.kind, 0) + 1
    print(format_table(results, counts))


if __name__ == "__main__":
    main()
