"""Article-level fusion of two models' STARD lists, against hand-computed values."""

from __future__ import annotations

import json

import pytest

from evals.stard_ensemble import article_rrf, pool_recall, read_articles

LISTS = {
    "dense": {"q1": ["a#1", "a#2", "b#3"], "q2": ["c#1"]},
    "other": {"q1": ["b#3", "a#1"], "q2": ["d#2", "c#9"]},
}
QRELS = {"q1": {"b#3", "z#9"}, "q2": {"c#9"}}


def test_pool_recall_is_the_share_of_labels_any_list_holds():
    assert pool_recall(LISTS, ["dense"], QRELS) == pytest.approx((1 / 2 + 0) / 2)
    assert pool_recall(LISTS, ["dense", "other"], QRELS) == pytest.approx((1 / 2 + 1) / 2)


def test_article_rrf_sums_weighted_reciprocal_ranks():
    run = article_rrf(LISTS, {"dense": 1.0, "other": 2.0}, ["q1"], k=1)
    # a#1: 1/2 + 2/3 = 1.167; b#3: 1/4 + 2/2 = 1.25; a#2: 1/3
    assert run["q1"] == ["b#3", "a#1", "a#2"]
    assert article_rrf(LISTS, {"dense": 1.0, "other": 0.0}, ["q1"], k=1)["q1"][0] == "a#1"


def test_read_articles_keeps_each_article_once_at_its_best_rank(tmp_path):
    path = tmp_path / "dense.jsonl"
    hits = [["c1", "a#1", 0.9], ["c2", "a#2", 0.8], ["c3", "a#1", 0.7], ["c4", "b#1", 0.6]]
    path.write_text(json.dumps({"query_id": "q", "hits": hits}) + "\n", encoding="utf-8")
    assert read_articles(path, depth=3) == {"q": ["a#1", "a#2"]}
