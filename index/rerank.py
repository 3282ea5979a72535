"""A second stage between fusion and exact-wording-first: the fused candidates in, an order out.

``LearnedRanker`` is the one backend: a scikit-learn classifier fitted on STARD's train split
(training/stard_rerank.py, ``make stard-reranker``) that scores each candidate of the pool
(the dense list ∪ the BM25 list, ``depth`` clauses each) from cheap, general features
(``features``): cosines, BM25 scores, ranks, aggregates over the clause's document in the
pool, how much of the question its law's title and its text share, its position and length.
It was fitted on the cosines of one query adapter in one model's vector space, so a ranker
file records both, with its feature list and scikit-learn version, and is refused elsewhere.

Served cost (issue 15's 100 ms budget): what no query changes is read and derived once per KB
state (``_StateFacts``: clause rows, normalised texts, document sizes, keyed by the KB and its
generation; titles' and labels' forms by content), and the fitted trees are walked by a numba
kernel (``_Trees``) instead of scikit-learn's per-tree calls; tests/test_rerank.py checks both
against the straightforward path (the old feature code and ``predict_proba``).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from index.lexical import bm25_match
from ingest.text import normalize

if TYPE_CHECKING:
    from index.encoders.adapter import QueryAdapter
    from index.filters import Filters
    from index.search import _Candidate

FORMAT = "policykb-reranker/1"
# The fusion the ranker's rrf feature was fitted with (index.search.FUSION_WEIGHTS, RRF_K then)
RRF_K, DENSE_WEIGHT, BM25_WEIGHT = 60, 1.2, 0.8
_KEEP = re.compile(r"[\w]", re.UNICODE)
_ARTICLE = re.compile(r"^第[零〇一二两三四五六七八九十百千\d]+条")


class RerankerError(ValueError):
    """A ranker file that cannot be used: missing, malformed, or fitted for another setup."""


@dataclass
class Candidates:
    """One question's candidate clauses, each described by what the search has at hand.
    Ranks are 1-based, 0 when the clause is not in that list."""

    query: str
    cos: np.ndarray  # the search's query vector · the clause's best window (NaN: not known)
    cos_raw: np.ndarray  # the same without the query adapter (== cos without one)
    bm25: np.ndarray  # BM25 score, 0 when the clause holds no query word
    dense_rank: np.ndarray
    bm25_rank: np.ndarray
    doc: list[str]  # doc_id
    title: list[str]
    text: list[str]
    label: list[str]
    position: np.ndarray  # the clause's position in its document, 0..1
    depth: np.ndarray  # depth in the document's tree
    size: np.ndarray  # clauses in the document
    text_keys: list[str] | None = None  # normalize(text) when known already (None: computed)


FEATURES = (
    "cos", "cos_raw", "cos_gap", "cos_raw_gap", "bm25", "bm25_share", "dense_rank",
    "bm25_rank", "rrf", "doc_cos", "cos_doc_gap", "doc_bm25_share", "doc_in_pool",
    "doc_in_dense", "doc_rank", "doc_rrf3", "doc_size", "title_covers", "title_covered",
    "text_covers", "length", "position", "depth", "is_article", "query_length",
)  # fmt: skip


def _kept(text: str) -> str:
    """The normalised text's letters and digits (punctuation dropped)."""
    return "".join(_KEEP.findall(normalize(text)))


def bigrams(text: str) -> set[str]:
    """Character bigrams of the normalised text's letters and digits (punctuation dropped)."""
    kept = _kept(text)
    return {kept[i : i + 2] for i in range(len(kept) - 1)}


@functools.lru_cache(maxsize=16384)
def _title_forms(title: str) -> tuple[str, frozenset[str]]:
    """A law title's kept letters and its bigrams: by content, a few thousand titles a KB."""
    return _kept(title), frozenset(bigrams(title))


@functools.lru_cache(maxsize=4096)
def _is_article(label: str) -> bool:
    """A label of the form 第N条 (labels repeat: by content)."""
    return bool(_ARTICLE.match(normalize(label)))


def _share(needles: set[str] | frozenset[str], hay: str) -> float:
    """The share of ``needles`` found in ``hay`` (substrings)."""
    return sum(map(hay.__contains__, needles)) / len(needles) if needles else 0.0


def _log_rank(rank: np.ndarray, absent: float) -> np.ndarray:
    return np.log1p(np.where(rank > 0, rank, absent))


def _doc_codes(doc: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct doc_ids sorted, and each candidate's index among them (np.unique's)."""
    docs = sorted(set(doc))
    at = {d: n for n, d in enumerate(docs)}
    return docs, np.fromiter((at[d] for d in doc), np.intp, len(doc))


def _top3_sums(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """Per group, the sum of its three largest values, added smallest first as
    ``np.sort(values[group == g])[-3:].sum()`` adds them (the same float64 result)."""
    order = np.lexsort((values, group))
    ordered, owners = values[order], group[order]
    starts = np.searchsorted(owners, np.arange(groups), side="left")
    ends = np.searchsorted(owners, np.arange(groups), side="right")
    total = np.zeros(groups)
    for back in (3, 2, 1):
        at = ends - back
        total += np.where(at >= starts, ordered[np.maximum(at, 0)], 0.0)
    return total


def features(c: Candidates) -> np.ndarray:
    """(candidates × FEATURES) float32: per clause, then over its document, then wording."""
    n = len(c.cos)
    absent = max(c.dense_rank.max(initial=0), c.bm25_rank.max(initial=0)) + 1
    rrf = np.where(c.dense_rank > 0, DENSE_WEIGHT / (RRF_K + c.dense_rank), 0.0) + np.where(
        c.bm25_rank > 0, BM25_WEIGHT / (RRF_K + c.bm25_rank), 0.0
    )
    top_bm25 = c.bm25.max(initial=0.0) or 1.0
    docs, doc_of = _doc_codes(c.doc)
    doc_cos = np.full(len(docs), -1.0)
    np.fmax.at(doc_cos, doc_of, c.cos)  # fmax: a cosine not known (NaN) is skipped
    doc_bm25 = np.zeros(len(docs))
    np.maximum.at(doc_bm25, doc_of, c.bm25)
    in_pool = np.bincount(doc_of, minlength=len(docs))
    in_dense = np.bincount(doc_of, weights=(c.dense_rank > 0), minlength=len(docs))
    doc_rank = np.empty(len(docs))
    doc_rank[np.argsort(-doc_cos, kind="stable")] = np.arange(1, len(docs) + 1)
    doc_rrf3 = _top3_sums(rrf, doc_of, len(docs))
    query, query_key = bigrams(c.query), _kept(c.query)
    forms = {t: _title_forms(t) for t in set(c.title)}
    title_covers = {t: _share(query, key) for t, (key, _) in forms.items()}
    title_covered = {t: _share(grams, query_key) for t, (_, grams) in forms.items()}
    text_keys = c.text_keys if c.text_keys is not None else [normalize(t) for t in c.text]
    best, best_raw = np.nanmax(c.cos, initial=0), np.nanmax(c.cos_raw, initial=0)
    columns = [
        c.cos, c.cos_raw, c.cos - best, c.cos_raw - best_raw,
        c.bm25, c.bm25 / top_bm25, _log_rank(c.dense_rank, absent),
        _log_rank(c.bm25_rank, absent), rrf, doc_cos[doc_of], c.cos - doc_cos[doc_of],
        doc_bm25[doc_of] / top_bm25, np.log1p(in_pool[doc_of]), np.log1p(in_dense[doc_of]),
        np.log1p(doc_rank[doc_of]), doc_rrf3[doc_of], np.log1p(c.size),
        [title_covers[t] for t in c.title], [title_covered[t] for t in c.title],
        [_share(query, key) for key in text_keys], np.log1p([len(t) for t in c.text]),
        c.position, c.depth, [_is_article(t) for t in c.label],
        np.full(n, np.log1p(len(c.query))),
    ]  # fmt: skip
    return np.column_stack([np.asarray(col, dtype=np.float32) for col in columns])


@dataclass(frozen=True, slots=True)
class _Clause:
    """What the features read of one clause, no query changing it."""

    doc: str
    title: str
    text: str
    text_key: str  # normalize(text): the same object when normalising changes nothing
    label: str
    position: int
    depth: int


class _StateFacts:
    """The clause rows (text normalised) and document sizes of one KB state, read from SQLite
    once each: a state's rows never change, a change makes a new generation."""

    CLAUSES = 100_000  # past this many held it starts over (~0.6 KB a clause on STARD: 60 MB)

    def __init__(self):
        self.clauses: dict[int, _Clause] = {}
        self.sizes: dict[str, tuple[int, int]] = {}  # doc_id → (clauses, largest position)
        self._names: dict[str, str] = {}  # one string per doc_id and title, shared by clauses

    def rows(self, store, ids: list[int]) -> list[_Clause]:
        """``ids``' clauses in that order; the ones not held read in one query."""
        held = self.clauses
        found = {c: held[c] for c in ids if c in held}
        missing = [c for c in ids if c not in found]
        if missing:
            if len(held) + len(missing) > self.CLAUSES:
                held = self.clauses = {}
            names = self._names
            for c, doc, title, text, label, position, depth in store.db.execute(
                "SELECT c.id, c.doc_id, d.title, c.text, c.label, c.position, c.depth"
                " FROM clauses c JOIN documents d USING (doc_id)"
                f" WHERE c.id IN ({','.join('?' * len(missing))})",
                missing,
            ):
                key = normalize(text)
                found[c] = held[c] = _Clause(
                    names.setdefault(doc, doc), names.setdefault(title, title), text,
                    text if key == text else key, label, position, depth,
                )  # fmt: skip
        return [found[c] for c in ids]

    def doc_sizes(self, store, docs: set[str]) -> dict[str, tuple[int, int]]:
        """(clauses, largest position) of each of ``docs``."""
        missing = sorted(docs - self.sizes.keys())
        if missing:
            for doc, count, top in store.db.execute(
                "SELECT doc_id, count(*), max(position) FROM clauses"
                f" WHERE doc_id IN ({','.join('?' * len(missing))}) GROUP BY doc_id",
                missing,
            ):
                self.sizes[doc] = (count, top)
        return {doc: self.sizes[doc] for doc in docs}


class _Facts:
    """Each open KB's ``_StateFacts`` of its two newest generations (the KB held weakly)."""

    KEEP = 2

    def __init__(self):
        self._held: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def of(self, snapshot) -> _StateFacts:
        """The facts of the state ``snapshot`` reads (a Snapshot, or a KnowledgeBase itself)."""
        kb = getattr(snapshot, "kb", snapshot)  # a Snapshot's KB; a KB is its own
        generation = snapshot.generation
        with self._lock:
            states = self._held.setdefault(kb, {})
            found = states.get(generation)
            if found is None:
                found = states[generation] = _StateFacts()
                for old in sorted(states)[: -self.KEEP]:
                    del states[old]
            return found


_FACTS = _Facts()


def served_candidates(snapshot, query: str, pool: list[_Candidate], cosines: dict[int, float],
                      depth: int, filters: Filters) -> Candidates:  # fmt: skip
    """The ranker's input for ``pool`` as the search holds it: ranks past ``depth`` count as
    absent, cosines of the dense list's clauses only (NaN for the others), BM25 scores of every
    clause (one in-memory pass restricted to the pool), the clauses' rows and document sizes
    (read once per KB state: ``_StateFacts``)."""
    ids = [c.clause for c in pool]

    def rank(c: _Candidate, name: str) -> int:
        found = c.ranks.get(name, 0)
        return found if found <= depth else 0

    dense_rank = np.array([rank(c, "dense") for c in pool])
    bm25_rank = np.array([rank(c, "bm25") for c in pool])
    cos = np.array(
        [cosines[c.clause] if r else np.nan for c, r in zip(pool, dense_rank, strict=True)]
    )
    match = bm25_match(query)
    lexical = {}
    if match is not None:
        allowed = np.array(sorted(ids), dtype=np.int64)
        found = snapshot.bm25.search(match, len(allowed), allowed, hide=not filters.everything)
        lexical = dict(found or [])
    facts = _FACTS.of(snapshot)
    r = facts.rows(snapshot.store, ids)
    sizes = facts.doc_sizes(snapshot.store, {x.doc for x in r})
    return Candidates(
        query, cos, cos.copy(), np.array([lexical.get(c, 0.0) for c in ids]), dense_rank, bm25_rank,
        [x.doc for x in r], [x.title for x in r], [x.text for x in r], [x.label for x in r],
        np.array([x.position / max(sizes[x.doc][1], 1) for x in r]),
        np.array([x.depth for x in r]), np.array([sizes[x.doc][0] for x in r]),
        [x.text_key for x in r],
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _walk(x, roots, feature, threshold, missing_left, left, right, leaf, value, baseline):
    """Each row's baseline plus its leaf value in every tree, added tree by tree in order (as
    scikit-learn's _raw_predict adds them): numerical splits, NaN sent by missing_left. Tree
    by tree over all rows, so one tree's nodes stay in cache."""
    out = np.full(x.shape[0], baseline)
    for root in roots:
        for i in range(x.shape[0]):
            node = root
            while not leaf[node]:
                v = x[i, feature[node]]
                if np.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            out[i] += value[node]
    return out


@dataclass(frozen=True)
class _Trees:
    """A fitted binary HistGradientBoostingClassifier's trees as flat node arrays, walked by
    ``_walk``: the same probabilities as its predict_proba without its per-call validation,
    thread pools and 300 calls a query (8.5–9.6 ms there). Reads the estimator's fitted
    private arrays, which the ranker file's pinned scikit-learn version keeps as they were."""

    estimator: Any
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    baseline: float

    @classmethod
    def of(cls, estimator) -> _Trees | None:
        """The packed trees, or None for an estimator this path does not cover (another kind,
        more than one tree an iteration, categorical splits): it keeps predict_proba."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        if not isinstance(estimator, HistGradientBoostingClassifier):
            return None
        trees = [row[0] for row in estimator._predictors if len(row) == 1]
        if (len(trees) != len(estimator._predictors) or estimator.n_trees_per_iteration_ != 1
                or estimator._preprocessor is not None
                or np.shape(estimator._baseline_prediction) != (1, 1)):  # fmt: skip
            return None
        nodes = [t.nodes for t in trees]
        if any(n["is_categorical"].any() for n in nodes):
            return None
        starts = np.cumsum([0] + [len(n) for n in nodes[:-1]]).astype(np.int64)
        every = np.concatenate(nodes)
        shift = np.repeat(starts, [len(n) for n in nodes])
        return cls(
            estimator, starts, every["feature_idx"].astype(np.int64),
            every["num_threshold"].astype(np.float64), every["missing_go_to_left"].astype(bool),
            every["left"].astype(np.int64) + shift, every["right"].astype(np.int64) + shift,
            every["is_leaf"].astype(bool), every["value"].astype(np.float64),
            float(estimator._baseline_prediction[0, 0]),
        )  # fmt: skip

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(relevant) per row of ``x`` (its columns: the features it was fitted on)."""
        if x.ndim != 2 or x.shape[1] != self.estimator.n_features_in_:
            raise ValueError(f"{x.shape}: expected rows of {self.estimator.n_features_in_}")
        rows = np.ascontiguousarray(x, dtype=np.float64)
        raw = _walk(rows, self.roots, self.feature, self.threshold, self.missing_left,
                    self.left, self.right, self.leaf, self.value, self.baseline)  # fmt: skip
        return self.estimator._loss.predict_proba(raw)[:, 1]


@functools.cache
def _openmp():
    """The process's thread pools, listed once: the trees predict on one OpenMP thread (their
    pool of two on a busy 2-core machine spun 15–900 ms per query against 9 on one)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def adapter_fingerprint(adapter: QueryAdapter) -> str:
    """What names a query adapter: a hash of its matrix (the file's path may move)."""
    matrix = np.ascontiguousarray(adapter.matrix, dtype=np.float32)
    return hashlib.sha256(matrix.tobytes()).hexdigest()[:16]


class SecondStage:
    """A second stage: reorders the fused candidates of a hybrid search (best first)."""

    depth: int = 0  # candidates per list it reads; the search fetches at least this many

    def rerank(self, snapshot, query: str, lists: dict[str, list[_Candidate]],
               fused: list[_Candidate], filters: Filters) -> list[_Candidate]:  # fmt: skip
        """``lists``: each retriever's candidates as ranked (scores: its own), ``fused``: their
        fusion; returns ``fused``'s candidates, best first."""
        raise NotImplementedError


@dataclass
class LearnedRanker(SecondStage):
    """A classifier over FEATURES rows, fitted on candidates ``depth`` deep per list, for one
    model's vectors moved by one query adapter (``adapter``: its fingerprint)."""

    ranker: Any  # a fitted scikit-learn classifier (predict_proba)
    features: list[str]
    model: str
    adapter: str
    depth: int = 100
    about: dict | None = None
    _trees: _Trees | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self):
        self._trees = _Trees.of(self.ranker)
        if self._trees is not None:  # numba loads (or first compiles) the kernel now
            self._trees.predict_proba(np.zeros((1, self._trees.estimator.n_features_in_)))

    def scores(self, x: np.ndarray) -> np.ndarray:
        """P(relevant) per FEATURES row: the packed trees, else the classifier's predict_proba
        (on one OpenMP thread)."""
        x = x[:, [FEATURES.index(name) for name in self.features]]
        if self._trees is not None:
            return self._trees.predict_proba(x)
        with _openmp().limit(limits=1, user_api="openmp"):
            return self.ranker.predict_proba(x)[:, 1]

    def rerank(self, snapshot, query, lists, fused, filters):
        """The candidates from the first ``depth`` of either list by the ranker's score, then
        the rest in fused order; a reranked candidate's score is the ranker's probability."""
        head = [c for c in fused if 0 < min(c.ranks.get(n, 1 << 30) for n in ("dense", "bm25"))
                <= self.depth]  # fmt: skip
        if not head:
            return fused
        cosines = {c.clause: c.score for c in lists.get("dense", [])}
        found = served_candidates(snapshot, query, head, cosines, self.depth, filters)
        scores = self.scores(features(found))
        for candidate, p in zip(head, scores, strict=True):
            candidate.score = float(p)
        held = {c.clause for c in head}
        ranked = sorted(head, key=lambda c: -c.score)
        return ranked + [c for c in fused if c.clause not in held]

    def check(self, model: str, adapter: QueryAdapter | None, path: Path | str) -> None:
        """Refuse a KB of another model, or one searched without the adapter fitted for."""
        if adapter is None:
            raise RerankerError(f"{path}: a ranker needs its query adapter; none is set")
        if model != self.model:
            raise RerankerError(f"{path}: fitted for {self.model}, but the KB's model is {model}")
        if adapter_fingerprint(adapter) != self.adapter:
            raise RerankerError(
                f"{path}: fitted with query adapter {self.adapter}, but the adapter given is"
                f" {adapter_fingerprint(adapter)}; refit it (make stard-reranker)"
            )

    def save(self, path: Path | str) -> None:
        import sklearn

        found = {
            "format": FORMAT, "ranker": self.ranker, "features": list(self.features),
            "model": self.model, "adapter": self.adapter, "depth": self.depth,
            "sklearn": sklearn.__version__, "about": self.about or {},
        }  # fmt: skip
        with Path(path).open("wb") as sink:
            pickle.dump(found, sink)

    @classmethod
    def load(cls, path: Path | str) -> LearnedRanker:
        """Read a ranker file (a pickle: open only files you built); RerankerError names the
        file and what is wrong with it: format, feature list, scikit-learn version."""
        import sklearn

        try:
            with Path(path).open("rb") as source:
                found = pickle.load(source)
        except FileNotFoundError as error:
            raise RerankerError(f"{path}: no such file") from error
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            raise RerankerError(f"{path}: not a ranker file ({error})") from error
        if not isinstance(found, dict) or found.get("format") != FORMAT:
            got = found.get("format") if isinstance(found, dict) else type(found).__name__
            raise RerankerError(f"{path}: format {got!r}, expected {FORMAT}")
        unknown = [name for name in found["features"] if name not in FEATURES]
        if unknown:
            raise RerankerError(f"{path}: features this version does not compute: {unknown}")
        if found["sklearn"] != sklearn.__version__:
            raise RerankerError(
                f"{path}: pickled by scikit-learn {found['sklearn']}, this is"
                f" {sklearn.__version__}; refit it (make stard-reranker)"
            )
        return cls(found["ranker"], found["features"], found["model"], found["adapter"],
                   found["depth"], found.get("about"))  # fmt: skip
