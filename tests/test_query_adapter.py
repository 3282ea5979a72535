"""The query adapter: its arithmetic, its file, the KB's checks, and the fit on a toy space."""

from __future__ import annotations

import numpy as np
import pytest

from index.encoders.adapter import AdapterError, QueryAdapter
from index.kb import KnowledgeBase
from tests.fake_encoder import FakeEncoder
from tests.test_kb_mechanics import SEEDS
from training.query_adapter import Example, fit


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_a_zero_matrix_is_the_identity_and_the_result_is_unit_length():
    vectors = unit(np.random.default_rng(0).normal(size=(5, 8)))
    assert np.allclose(QueryAdapter(np.zeros((8, 8), np.float32), "m").apply(vectors), vectors)
    doubled = QueryAdapter(np.eye(8, dtype=np.float32), "m").apply(vectors)  # q + q = 2q
    assert np.allclose(doubled, vectors, atol=1e-6)
    swap = np.zeros((2, 2), np.float32)
    swap[0, 0], swap[0, 1] = -1.0, 1.0  # (1, 0) + (-1, 1) = (0, 1)
    assert np.allclose(QueryAdapter(swap, "m").apply(np.array([[1.0, 0.0]])), [[0.0, 1.0]])


def test_an_adapter_file_round_trips_and_bad_files_are_named(tmp_path):
    adapter = QueryAdapter(np.arange(9, dtype=np.float32).reshape(3, 3), "e5", {"epochs": 5})
    adapter.save(tmp_path / "a.npz")
    again = QueryAdapter.load(tmp_path / "a.npz")
    assert (again.model, again.about) == ("e5", {"epochs": 5})
    assert again.matrix.tolist() == adapter.matrix.tolist()
    with pytest.raises(AdapterError, match=r"missing\.npz: no such file"):
        QueryAdapter.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_text("not numpy")
    with pytest.raises(AdapterError, match=r"junk\.npz: not a query adapter"):
        QueryAdapter.load(tmp_path / "junk.npz")
    with (tmp_path / "other.npz").open("wb") as sink:
        np.savez(sink, matrix=np.zeros((3, 3)), meta=np.array('{"format": "x/1", "model": "e5"}'))
    with pytest.raises(AdapterError, match=r"other\.npz: format 'x/1'"):
        QueryAdapter.load(tmp_path / "other.npz")


def test_the_kb_applies_its_adapter_and_refuses_another_models(tmp_path):
    encoder = FakeEncoder()
    kb = KnowledgeBase(tmp_path / "kb", encoder=encoder)
    kb.ingest([SEEDS["000"]])
    kb.close()
    rng = np.random.default_rng(1)
    matrix = rng.normal(scale=0.3, size=(encoder.dim, encoder.dim)).astype(np.float32)
    QueryAdapter(matrix, encoder.name).save(tmp_path / "ours.npz")
    adapted = KnowledgeBase(tmp_path / "kb", encoder=encoder, query_adapter=tmp_path / "ours.npz")
    query = "深化产教融合"
    expected = QueryAdapter(matrix, encoder.name).apply(encoder.encode_queries([query]))[0]
    assert np.allclose(adapted.encode_query(query), expected, atol=1e-6)
    assert not np.allclose(expected, encoder.encode_queries([query])[0], atol=1e-3)
    adapted.close()
    QueryAdapter(matrix, "another-model").save(tmp_path / "theirs.npz")
    with pytest.raises(AdapterError, match=r"theirs\.npz: fitted on another-model"):
        KnowledgeBase(tmp_path / "kb", encoder=encoder, query_adapter=tmp_path / "theirs.npz")


def test_the_fit_moves_questions_onto_the_passages_that_answer_them():
    """A toy space where each question sits nearer a wrong passage than its own: the fitted
    adapter must rank the right one first for most of them, held-out questions included."""
    rng = np.random.default_rng(2)
    dim, n = 16, 120
    passages = unit(rng.normal(size=(n, dim)))
    twist = np.linalg.qr(rng.normal(size=(dim, dim)))[0].astype(np.float32)  # a rotation
    queries = unit(passages @ twist + rng.normal(scale=0.05, size=(n, dim)))

    def top1(q: np.ndarray, answers: np.ndarray) -> float:
        return float(np.mean(np.argmax(q @ passages.T, axis=1) == answers))

    examples = [Example(i, i, np.array([j for j in range(n) if j != i][:20])) for i in range(90)]
    matrix = fit(examples, queries, passages, epochs=60, learning_rate=1e-2)
    held_out, answers = queries[90:], np.arange(90, n)
    before = top1(held_out, answers)
    after = top1(QueryAdapter(matrix, "toy").apply(held_out), answers)
    assert before < 0.3 and after > 0.8, (before, after)
