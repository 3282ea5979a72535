"""Fine-tuning data for the STARD encoder: window texts, mined pairs, the learning-rate schedule."""

from __future__ import annotations

import random

import numpy as np

from index.kb import KnowledgeBase
from index.windows import windows
from tests.fake_encoder import FakeEncoder
from tests.test_kb_mechanics import SEEDS
from training.query_adapter import Space
from training.stard_encoder import SKIP_NEAREST, _warmup_then_linear, mine_pairs, window_texts


def test_window_texts_are_the_clause_slices_the_kb_embedded(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["000"]])
    texts = window_texts(kb)
    rows = kb.store.db.execute("SELECT id, text FROM clauses").fetchall()
    expected = sorted(t[s.start : s.end] for _, t in rows for s in windows(t))
    assert sorted(texts) == expected
    _, vectors = kb.store.window_vectors()  # the rows read_space mines: the same order
    assert np.allclose(vectors, FakeEncoder().encode_passages(texts), atol=1e-6)
    assert len(texts) == kb.store.db.execute("SELECT count(*) FROM windows").fetchone()[0]
    kb.close()


def test_window_texts_of_a_context_kb_are_what_its_model_read(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), passage="context")
    kb.ingest([SEEDS["002"]])
    texts = window_texts(kb)
    assert all(t.startswith(kb.documents()[0].title + " ") for t in texts)
    _, vectors = kb.store.window_vectors()
    assert np.allclose(vectors, FakeEncoder().encode_passages(texts), atol=1e-6)
    kb.close()


def _space(scores: list[float], articles: list[str]) -> Space:
    """Windows whose cosine with the query (1, 0) is each score."""
    angles = np.arccos(np.array(scores))
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    return Space(vectors, np.array(articles, dtype=object))


def test_a_pair_per_labelled_article_with_its_nearest_window_and_no_nearest_negative():
    scores = [0.99, 0.97, 0.95, 0.93, 0.9, 0.8, 0.7, 0.6]
    articles = ["x#1", "a#1", "x#2", "a#1", "b#2", "y#1", "z#1", "b#2"]
    texts = [f"w{i}" for i in range(len(scores))]
    space = _space(scores, articles)
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    pairs = mine_pairs(["q"], [{"a#1", "b#2", "gone#9"}], query, space, texts, random.Random(0))
    assert [(p.question, p.positive) for p in pairs] == [("q", "w1"), ("q", "w4")]
    # Negatives: other articles, never among the SKIP_NEAREST nearest windows.
    assert SKIP_NEAREST == 3
    assert {p.negative for p in pairs} <= {"w5", "w6"}
    many = mine_pairs(["q"] * 50, [{"a#1"}] * 50, np.repeat(query, 50, 0), space, texts,
                      random.Random(0))  # fmt: skip
    assert {p.negative for p in many} == {"w4", "w5", "w6", "w7"}  # b#2 is not labelled here


def test_a_question_without_a_negative_gives_no_pair():
    space = _space([0.9, 0.8, 0.7, 0.6], ["a#1", "a#1", "a#1", "a#1"])
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    assert mine_pairs(["q"], [{"a#1"}], query, space, ["1", "2", "3", "4"], random.Random(0)) == []


def test_the_learning_rate_warms_up_then_decays_to_zero():
    factor = _warmup_then_linear(100)  # 10 warm-up steps
    assert [round(factor(s), 3) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert round(factor(55), 3) == 0.5
    assert factor(99) > 0 and factor(100) == 0.0
