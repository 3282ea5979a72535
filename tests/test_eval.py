"""Metrics against hand-computed values, and the quality bar on tests/eval."""

from __future__ import annotations

import pytest

from evals.retrieval import evaluate, load_qrels, load_queries, score_run
from index.search import Searcher
from tests.conftest import ROOT

EVAL = ROOT / "tests" / "eval"


def test_score_run_averages_over_judged_queries():
    run = {"q1": ["a", "b"], "q2": ["c", "d"], "unjudged": ["a"]}
    qrels = {"q1": {"b"}, "q2": {"c", "e"}}
    scores = score_run(run, qrels)
    assert scores["R@1"] == pytest.approx((0 + 0.5) / 2)
    assert scores["R@5"] == pytest.approx((1 + 0.5) / 2)
    assert scores["MRR@10"] == pytest.approx((1 / 2 + 1) / 2)


def test_eval_set_covers_three_kinds_and_its_clauses_exist(corpus_kb):
    queries = load_queries(EVAL / "queries.jsonl")
    qrels = load_qrels(EVAL / "qrels" / "test.tsv")
    assert {q.kind for q in queries} == {"research", "owner", "wording"}
    assert {q.query_id for q in queries} == set(qrels)
    for clause_ids in qrels.values():
        for clause_id in clause_ids:
            assert corpus_kb.clause(clause_id), f"{clause_id} is not in the corpus KB"


def test_hybrid_recall_at_5_is_at_least_0_9(corpus_kb):
    results = evaluate(Searcher(corpus_kb), EVAL)
    assert results["all"]["hybrid"]["R@5"] >= 0.9
    assert results["all"]["hybrid"]["MRR@10"] >= results["all"]["dense"]["MRR@10"]
