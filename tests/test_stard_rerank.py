"""The second-stage ranker's features (index/rerank.py) and the replay's pieces."""

from __future__ import annotations

import numpy as np

from evals.stard_rerank import (
    Clause,
    Pool,
    Windows,
    article_run,
    best_cosines,
    candidates_of,
    cross_folds,
)
from index.rerank import FEATURES, Candidates, bigrams, features


def _candidates() -> Candidates:
    return Candidates(
        query="公司解散后债务谁承担？",
        cos=np.array([0.9, 0.8, 0.5]), cos_raw=np.array([0.7, 0.8, 0.4]),
        bm25=np.array([0.0, 4.0, 2.0]), dense_rank=np.array([1, 2, 0]),
        bm25_rank=np.array([0, 1, 2]), doc=["公司法", "公司法", "民法典"],
        title=["中华人民共和国公司法", "中华人民共和国公司法", "中华人民共和国民法典"],
        text=["公司解散的，应当清算。", "清算组负责清理债务。", "债务人承担责任。"],
        label=["第一百八十条", "第一款", "第五百七十七条"],
        position=np.array([0.5, 0.51, 0.2]), depth=np.array([2, 3, 2]),
        size=np.array([200, 200, 1200]),
    )  # fmt: skip


def test_features_describe_each_clause_its_document_and_the_wording():
    x = features(_candidates())
    col = {name: x[:, n] for n, name in enumerate(FEATURES)}
    assert x.shape == (3, len(FEATURES))
    assert col["cos_gap"].tolist() == [0.0, np.float32(0.8 - 0.9), np.float32(0.5 - 0.9)]
    assert col["bm25_share"].tolist() == [0.0, 1.0, 0.5]
    # the document's best cosine and its clauses in the pool are shared by its clauses
    assert col["doc_cos"].tolist() == [np.float32(0.9), np.float32(0.9), np.float32(0.5)]
    assert col["doc_in_pool"].tolist() == [np.log1p(2).astype(np.float32)] * 2 + [
        np.log1p(1).astype(np.float32)
    ]
    assert col["doc_rank"].tolist()[0] < col["doc_rank"].tolist()[2]
    # RRF as shipped: dense 1.2, BM25 0.8, k 60; a list the clause is absent from adds 0
    assert np.isclose(col["rrf"][1], 1.2 / 62 + 0.8 / 61)
    assert np.isclose(col["rrf"][0], 1.2 / 61)
    # 公司 and 债务 are in the query: the company law's title covers 公司, the text 债务
    assert col["title_covers"][0] > col["title_covers"][2] == 0.0
    assert col["text_covers"][1] > 0 and col["is_article"].tolist() == [1.0, 0.0, 1.0]


def test_bigrams_ignore_punctuation_and_width():
    assert bigrams("公司，法？") == {"公司", "司法"}
    assert bigrams("ＡＢ") == {"AB"}


def test_best_cosine_is_a_clause_best_window():
    vectors = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    windows = Windows(vectors, np.array([7, 7, 9]), np.array([0, 1, 2]), {7: (0, 2), 9: (2, 3)})
    found = best_cosines(windows, np.array([7, 9]), np.array([0.0, 1.0], dtype=np.float32))
    assert found.tolist() == [1.0, np.float32(0.8)]


def test_a_pool_cut_shallower_keeps_only_what_the_cut_lists_hold():
    pool = Pool(
        "q1", "问题", "train", dense=np.array([3, 1]), raw=np.array([1]),
        bm25=np.array([2, 4]), clauses=np.array([1, 2, 3, 4]),
        cos=np.array([0.8, 0.1, 0.9, 0.2]), cos_raw=np.array([0.7, 0.1, 0.6, 0.2]),
        bm25_score=np.array([0.0, 3.0, 0.0, 1.0]), relevant=np.array([False, True, False, False]),
    )  # fmt: skip
    clause = Clause("d", "法", "文本", "第一条", 0.0, 1, 10)
    found, ids = candidates_of(pool, dict.fromkeys([1, 2, 3, 4], clause), depth=1)
    assert ids.tolist() == [2, 3]
    assert found.dense_rank.tolist() == [0, 1] and found.bm25_rank.tolist() == [1, 0]
    assert found.cos.tolist() == [0.1, 0.9] and found.bm25.tolist() == [3.0, 0.0]


def test_the_article_run_keeps_each_article_once_at_its_best_rank():
    keys = {1: "法#1", 2: "法#1", 3: "法#2"}
    assert article_run(np.array([1, 2, 3]), np.array([0.2, 0.9, 0.5]), keys) == ["法#1", "法#2"]


def test_cross_fitting_scores_each_train_question_by_an_adapter_not_fitted_on_it():
    rows = [2, 5, 7, 8, 11, 13, 20]
    folds = cross_folds(rows, 3)
    assert sorted(r for held, _ in folds for r in held) == rows
    for held, fitted_on in folds:
        assert not set(held) & set(fitted_on) and set(held) | set(fitted_on) == set(rows)


def test_the_ranker_learns_to_put_what_its_features_mark_first():
    from training.stard_rerank import fit_ranker

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = x[:, 0] + 0.1 * rng.normal(size=400) > 1.0
    scores = fit_ranker(x, y, "lr").predict_proba(x)[:, 1]
    assert y[np.argsort(-scores)[: int(y.sum())]].mean() > 0.8
