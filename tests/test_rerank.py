"""The learned second stage: its file's checks, the KB's rule (a ranker only with its query
adapter), a hybrid search it reorders (fake encoder: index mechanics only), and its fast path
(features from per-state facts, the trees walked by numba) against the straightforward one:
the first version's feature code (kept below) and scikit-learn's predict_proba."""

from __future__ import annotations

import copy
import pickle
import re

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from index.encoders.adapter import QueryAdapter
from index.filters import Filters
from index.kb import KnowledgeBase
from index.rerank import (
    FEATURES,
    Candidates,
    LearnedRanker,
    RerankerError,
    SecondStage,
    adapter_fingerprint,
    features,
    served_candidates,
)
from index.search import Searcher, _fuse
from ingest.text import normalize
from tests.conftest import SEEDS, editable_seed_kb
from tests.fake_encoder import FakeEncoder

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


# --- the fast path against the straightforward one ------------------------------------------

_KEEP = re.compile(r"[\w]", re.UNICODE)
_ARTICLE = re.compile(r"^第[零〇一二两三四五六七八九十百千\d]+条")


def _reference_candidates(snapshot, query, pool, cosines, depth, filters) -> Candidates:
    """The first served_candidates' reading: every row and document size from SQLite."""
    from index.lexical import bm25_match

    ids = [c.clause for c in pool]

    def rank(c, name: str) -> int:
        found = c.ranks.get(name, 0)
        return found if found <= depth else 0

    dense_rank = np.array([rank(c, "dense") for c in pool])
    bm25_rank = np.array([rank(c, "bm25") for c in pool])
    cos = np.array(
        [cosines[c.clause] if r else np.nan for c, r in zip(pool, dense_rank, strict=True)]
    )
    match, lexical = bm25_match(query), {}
    if match is not None:
        allowed = np.array(sorted(ids), dtype=np.int64)
        lexical = dict(snapshot.bm25.search(match, len(allowed), allowed, hide=True) or [])
    rows = snapshot.store.clause_rows(ids)
    docs = sorted({rows[c]["doc_id"] for c in ids})
    sizes = {d: (n, top) for d, n, top in snapshot.store.db.execute(
        "SELECT doc_id, count(*), max(position) FROM clauses"
        f" WHERE doc_id IN ({','.join('?' * len(docs))}) GROUP BY doc_id", docs)}  # fmt: skip
    r = [rows[c] for c in ids]
    return Candidates(
        query, cos, cos.copy(), np.array([lexical.get(c, 0.0) for c in ids]), dense_rank,
        bm25_rank, [x["doc_id"] for x in r], [x["doc_title"] for x in r], [x["text"] for x in r],
        [x["label"] for x in r],
        np.array([x["position"] / max(sizes[x["doc_id"]][1], 1) for x in r]),
        np.array([x["depth"] for x in r]), np.array([sizes[x["doc_id"]][0] for x in r]),
    )  # fmt: skip


def _reference_features(c: Candidates) -> np.ndarray:
    """The first ``features``, line for line: Python loops, normalising every text each time."""

    def grams(text):
        kept = "".join(_KEEP.findall(normalize(text)))
        return {kept[i : i + 2] for i in range(len(kept) - 1)}

    def share(needles, hay):
        return sum(b in hay for b in needles) / len(needles) if needles else 0.0

    def log_rank(rank, absent):
        return np.log1p(np.where(rank > 0, rank, absent))

    n = len(c.cos)
    absent = max(c.dense_rank.max(initial=0), c.bm25_rank.max(initial=0)) + 1
    rrf = np.where(c.dense_rank > 0, 1.2 / (60 + c.dense_rank), 0.0) + np.where(
        c.bm25_rank > 0, 0.8 / (60 + c.bm25_rank), 0.0
    )
    top_bm25 = c.bm25.max(initial=0.0) or 1.0
    docs, doc_of = np.unique(np.array(c.doc, dtype=object), return_inverse=True)
    doc_cos = np.full(len(docs), -1.0)
    np.fmax.at(doc_cos, doc_of, c.cos)
    doc_bm25 = np.zeros(len(docs))
    np.maximum.at(doc_bm25, doc_of, c.bm25)
    in_pool = np.bincount(doc_of, minlength=len(docs))
    in_dense = np.bincount(doc_of, weights=(c.dense_rank > 0), minlength=len(docs))
    doc_rank = np.empty(len(docs))
    doc_rank[np.argsort(-doc_cos, kind="stable")] = np.arange(1, len(docs) + 1)
    doc_rrf3 = np.zeros(len(docs))
    for d in range(len(docs)):
        doc_rrf3[d] = np.sort(rrf[doc_of == d])[-3:].sum()
    query = grams(c.query)
    title_keys = {t: "".join(_KEEP.findall(normalize(t))) for t in set(c.title)}
    title_covers = {t: share(query, key) for t, key in title_keys.items()}
    title_covered = {t: share(grams(t), "".join(_KEEP.findall(normalize(c.query))))
                     for t in title_keys}  # fmt: skip
    best, best_raw = np.nanmax(c.cos, initial=0), np.nanmax(c.cos_raw, initial=0)
    columns = [
        c.cos, c.cos_raw, c.cos - best, c.cos_raw - best_raw,
        c.bm25, c.bm25 / top_bm25, log_rank(c.dense_rank, absent),
        log_rank(c.bm25_rank, absent), rrf, doc_cos[doc_of], c.cos - doc_cos[doc_of],
        doc_bm25[doc_of] / top_bm25, np.log1p(in_pool[doc_of]), np.log1p(in_dense[doc_of]),
        np.log1p(doc_rank[doc_of]), doc_rrf3[doc_of], np.log1p(c.size),
        [title_covers[t] for t in c.title], [title_covered[t] for t in c.title],
        [share(query, normalize(t)) for t in c.text], np.log1p([len(t) for t in c.text]),
        c.position, c.depth, [bool(_ARTICLE.match(normalize(t))) for t in c.label],
        np.full(n, np.log1p(len(c.query))),
    ]  # fmt: skip
    return np.column_stack([np.asarray(col, dtype=np.float32) for col in columns])


QUERIES = (QUERY, "机器人企业可以享受哪些税收优惠", "职业院校建设用地怎么供地？", "教育费附加")


def _pool(snapshot, query):
    """A hybrid search's lists, fusion, the ranker's head (100 deep) and the dense cosines."""
    searcher, filters = Searcher(snapshot), Filters()
    lists = {"dense": searcher._dense(query, 100, filters, []),
             "bm25": searcher._bm25(query, 100, filters, [])}  # fmt: skip
    fused = _fuse(lists)
    head = [c for c in fused if 0 < min(c.ranks.get(n, 1 << 30) for n in ("dense", "bm25")) <= 100]
    return lists, fused, head, {c.clause: c.score for c in lists["dense"]}, filters


def _tiny_trees(x: np.ndarray, y: np.ndarray) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=40, max_leaf_nodes=15, min_samples_leaf=5, random_state=0
    ).fit(x, y)


def test_the_packed_trees_give_predict_proba_exactly():
    """Every feature, missing values both ways, values exactly at split thresholds, a subset of
    the features: the numba walk's probabilities are scikit-learn's, bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, len(FEATURES))).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.nan_to_num(x[:, 0], nan=2.0) + np.nan_to_num(x[:, 5], nan=-1.0) ** 2 > 0.5
    hgb = _tiny_trees(x, y)
    ranker = LearnedRanker(hgb, list(FEATURES), "m", "a")
    assert ranker._trees is not None
    probe = rng.normal(size=(400, len(FEATURES)))
    probe[rng.random(probe.shape) < 0.1] = np.nan
    nodes = np.concatenate([p[0].nodes for p in hgb._predictors])
    splits = nodes[~nodes["is_leaf"].astype(bool)]
    for row, node in zip(probe, splits[:400], strict=False):  # on the threshold: goes left
        row[node["feature_idx"]] = node["num_threshold"]
    assert np.array_equal(ranker.scores(probe), hgb.predict_proba(probe)[:, 1])
    assert np.array_equal(ranker.scores(x), hgb.predict_proba(x)[:, 1])
    some = ["length", "cos", "bm25", "doc_rrf3", "text_covers"]
    at = [FEATURES.index(name) for name in some]
    fewer = LearnedRanker(_tiny_trees(x[:, at], y), some, "m", "a")
    assert np.array_equal(fewer.scores(probe), fewer.ranker.predict_proba(probe[:, at])[:, 1])


def test_served_features_and_order_match_the_reference_before_and_after_a_change(tmp_path):
    """On two seed documents, cold and from the state's cached facts, and after an edit that
    changes a document's text and size (a new generation): the features are the first
    version's, bit for bit, and a tiny fitted ranker orders as predict_proba does."""
    kb = editable_seed_kb(tmp_path)
    docs = tmp_path / "docs"

    def matrices() -> list[np.ndarray]:
        found = []
        with kb.reading() as snapshot:
            for query in QUERIES:
                _, _, head, cosines, filters = _pool(snapshot, query)
                slow = _reference_features(
                    _reference_candidates(snapshot, query, head, cosines, 100, filters)
                )
                for _ in range(2):  # cold, then from the cached facts
                    fast = features(served_candidates(snapshot, query, head, cosines, 100, filters))
                    np.testing.assert_array_equal(fast, slow)
                found.append(slow)
        return found

    before = matrices()
    x = np.vstack(before)
    y = x[:, FEATURES.index("text_covers")] > np.median(x[:, FEATURES.index("text_covers")])
    ranker = LearnedRanker(_tiny_trees(x, y), list(FEATURES), "m", "a")
    with kb.reading() as snapshot:
        for query, rows in zip(QUERIES, before, strict=True):
            lists, fused, head, _, filters = _pool(snapshot, query)
            p = ranker.ranker.predict_proba(rows)[:, 1]
            expected = [c.clause for c, _ in sorted(zip(head, p, strict=True), key=lambda t: -t[1])]
            ranked = ranker.rerank(snapshot, query, lists, copy.deepcopy(fused), filters)
            assert [c.clause for c in ranked[: len(head)]] == expected
            assert [c.score for c in ranked[: len(head)]] == sorted(p.tolist(), reverse=True)
    edited = docs / SEEDS["004"].name
    text = edited.read_text(encoding="utf-8").replace("机器人", "无人机")
    edited.write_text(text.replace("13．企业投资", "13．新增无人机企业条款。\n\n14．企业投资"))
    assert len(kb.ingest([edited]).updated) == 1
    after = matrices()
    assert any(a.shape != b.shape or not np.array_equal(a, b, equal_nan=True)
               for a, b in zip(after, before, strict=True))  # fmt: skip
    kb.close()


class _Recording(SecondStage):
    """A second stage that keeps the fused order and records how deep its lists were."""

    depth = 150

    def __init__(self):
        self.sizes: dict[str, int] = {}

    def rerank(self, snapshot, query, lists, fused, filters):
        self.sizes = {name: len(found) for name, found in lists.items()}
        return fused


def test_the_search_fetches_as_deep_as_the_second_stage_was_fitted(tmp_path, monkeypatch):
    """A ranker fitted on lists 150 deep reads lists 150 deep, though a top-10 search
    fetches 100 of its own."""
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest(list(SEEDS.values()))  # 195 clauses
    stage = _Recording()
    monkeypatch.setattr(kb, "reranker", stage)
    Searcher(kb).search("产教融合", 10, mode="hybrid")
    assert stage.sizes["dense"] == 150
    kb.close()
