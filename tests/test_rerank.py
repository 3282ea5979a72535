"""The learned second stage: its file's checks, the KB's rule (a ranker only with its query
adapter), and a hybrid search it reorders (fake encoder: index mechanics only)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from index.encoders.adapter import QueryAdapter
from index.filters import Filters
from index.kb import KnowledgeBase
from index.rerank import FEATURES, LearnedRanker, RerankerError, adapter_fingerprint
from index.search import Searcher
from tests.fake_encoder import FakeEncoder
from tests.test_kb_mechanics import SEEDS

QUERY = "产教融合的企业如何认定？"


def _longest_first(model: str, adapter: QueryAdapter) -> LearnedRanker:
    """A ranker on one feature, the clause's length: the longer, the likelier relevant."""
    x = np.log1p(np.arange(1, 401, dtype=np.float32))[:, None]
    classifier = LogisticRegression().fit(x, np.arange(1, 401) > 200)
    return LearnedRanker(classifier, ["length"], model, adapter_fingerprint(adapter))


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory):
    """A KB of one seed document, a zero query adapter for its model, and a ranker for both."""
    folder = tmp_path_factory.mktemp("rerank")
    kb = KnowledgeBase(folder / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["000"]])
    model = kb.manifest.model
    kb.close()
    adapter = QueryAdapter(np.zeros((64, 64), np.float32), model)
    adapter.save(folder / "adapter.npz")
    _longest_first(model, adapter).save(folder / "ranker.pkl")
    return folder


def test_a_ranker_file_round_trips_and_bad_files_are_named(kb_dir, tmp_path):
    ranker = LearnedRanker.load(kb_dir / "ranker.pkl")
    assert ranker.features == ["length"] and ranker.depth == 100
    with pytest.raises(RerankerError, match=r"missing\.pkl: no such file"):
        LearnedRanker.load(tmp_path / "missing.pkl")
    (tmp_path / "junk.pkl").write_text("not a pickle")
    with pytest.raises(RerankerError, match=r"junk\.pkl: not a ranker file"):
        LearnedRanker.load(tmp_path / "junk.pkl")
    found = pickle.loads((kb_dir / "ranker.pkl").read_bytes())
    for change, error in (
        ({"format": "x/1"}, r"old\.pkl: format 'x/1'"),
        ({"sklearn": "0.1"}, r"old\.pkl: pickled by scikit-learn 0\.1"),
        ({"features": ["length", "stars"]}, r"old\.pkl: features .* \['stars'\]"),
    ):
        (tmp_path / "old.pkl").write_bytes(pickle.dumps({**found, **change}))
        with pytest.raises(RerankerError, match=error):
            LearnedRanker.load(tmp_path / "old.pkl")


def test_the_kb_refuses_a_ranker_without_its_adapter_or_for_another_setup(kb_dir, tmp_path):
    encoder = FakeEncoder()
    with pytest.raises(RerankerError, match=r"ranker\.pkl: a ranker needs its query adapter"):
        KnowledgeBase(kb_dir / "kb", encoder=encoder, reranker=kb_dir / "ranker.pkl")
    other = QueryAdapter(np.eye(64, dtype=np.float32), "fake-bigrams")
    other.save(tmp_path / "other.npz")
    with pytest.raises(RerankerError, match=r"ranker\.pkl: fitted with query adapter"):
        KnowledgeBase(kb_dir / "kb", encoder=encoder, query_adapter=tmp_path / "other.npz",
                      reranker=kb_dir / "ranker.pkl")  # fmt: skip
    ranker = LearnedRanker.load(kb_dir / "ranker.pkl")
    with pytest.raises(RerankerError, match=r"r\.pkl: fitted for .*, but the KB's model is m2"):
        ranker.check("m2", QueryAdapter.load(kb_dir / "adapter.npz"), "r.pkl")


def test_the_ranker_reorders_hybrid_search_and_nothing_else(kb_dir):
    encoder = FakeEncoder()
    plain = KnowledgeBase(kb_dir / "kb", encoder=encoder, query_adapter=kb_dir / "adapter.npz")
    ranked = KnowledgeBase(kb_dir / "kb", encoder=encoder, query_adapter=kb_dir / "adapter.npz",
                           reranker=kb_dir / "ranker.pkl")  # fmt: skip
    assert plain.reranker is None and isinstance(ranked.reranker, LearnedRanker)
    before = Searcher(plain).search(QUERY, 10)
    after = Searcher(ranked).search(QUERY, 10)
    lengths = [len(hit.text) for hit in after]
    assert lengths == sorted(lengths, reverse=True)  # the ranker: longest first
    assert [h.clause_id for h in after] != [h.clause_id for h in before]
    assert all(0 < hit.score < 1 for hit in after)  # its probability, not an RRF score
    for mode in ("dense", "bm25"):  # a second stage of hybrid only
        assert Searcher(ranked).ranking(QUERY, 10, mode=mode) == Searcher(plain).ranking(
            QUERY, 10, mode=mode
        )
    plain.close()
    ranked.close()


def test_the_search_computes_every_feature_the_fit_reads(kb_dir):
    """Served candidates give a finite row per clause for every feature but the NaN cosines of
    clauses only BM25 found (as the fit saw them)."""
    from index.rerank import features, served_candidates
    from index.search import _fuse

    kb = KnowledgeBase(kb_dir / "kb", encoder=FakeEncoder())
    searcher, filters = Searcher(kb), Filters()
    lists = {"dense": searcher._dense(QUERY, 100, filters, []),
             "bm25": searcher._bm25(QUERY, 100, filters, [])}  # fmt: skip
    fused = _fuse(lists)
    cosines = {c.clause: c.score for c in lists["dense"]}
    x = features(served_candidates(kb, QUERY, fused, cosines, 100, filters))
    assert x.shape == (len(fused), len(FEATURES))
    known = np.array([c.clause in cosines for c in fused])
    assert np.isfinite(x[known]).all()
    assert x[:, FEATURES.index("bm25")].max() > 0
    kb.close()


def test_the_setting_without_an_adapter_stops_the_command_with_the_reason(kb_dir, monkeypatch):
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("POLICYKB_RERANKER", str(kb_dir / "ranker.pkl"))
    monkeypatch.delenv("POLICYKB_QUERY_ADAPTER", raising=False)
    result = CliRunner().invoke(app, ["search", "产教融合", "--kb", str(kb_dir / "kb")])
    assert result.exit_code == 2
    assert "ranker.pkl: a ranker needs its query adapter" in result.stderr
