"""A second stage between fusion and exact-wording-first: the fused candidates in, an order out.

``LearnedRanker`` is the one backend: a scikit-learn classifier fitted on STARD's train split
(training/stard_rerank.py, ``make stard-reranker``) that scores each candidate of the pool
(the dense list ∪ the BM25 list, ``depth`` clauses each) from cheap, general features
(``features``): cosines, BM25 scores, ranks, aggregates over the clause's document in the
pool, how much of the question its law's title and its text share, its position and length.
It was fitted on the cosines of one query adapter in one model's vector space, so a ranker
file records both, with its feature list and scikit-learn version, and is refused elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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


FEATURES = (
    "cos", "cos_raw", "cos_gap", "cos_raw_gap", "bm25", "bm25_share", "dense_rank",
    "bm25_rank", "rrf", "doc_cos", "cos_doc_gap", "doc_bm25_share", "doc_in_pool",
    "doc_in_dense", "doc_rank", "doc_rrf3", "doc_size", "title_covers", "title_covered",
    "text_covers", "length", "position", "depth", "is_article", "query_length",
)  # fmt: skip


def bigrams(text: str) -> set[str]:
    """Character bigrams of the normalised text's letters and digits (punctuation dropped)."""
    kept = "".join(_KEEP.findall(normalize(text)))
    return {kept[i : i + 2] for i in range(len(kept) - 1)}


def _share(needles: set[str], hay: str) -> float:
    return sum(b in hay for b in needles) / len(needles) if needles else 0.0


def _log_rank(rank: np.ndarray, absent: float) -> np.ndarray:
    return np.log1p(np.where(rank > 0, rank, absent))


def features(c: Candidates) -> np.ndarray:
    """(candidates × FEATURES) float32: per clause, then over its document, then wording."""
    n = len(c.cos)
    absent = max(c.dense_rank.max(initial=0), c.bm25_rank.max(initial=0)) + 1
    rrf = np.where(c.dense_rank > 0, DENSE_WEIGHT / (RRF_K + c.dense_rank), 0.0) + np.where(
        c.bm25_rank > 0, BM25_WEIGHT / (RRF_K + c.bm25_rank), 0.0
    )
    top_bm25 = c.bm25.max(initial=0.0) or 1.0
    docs, doc_of = np.unique(np.array(c.doc, dtype=object), return_inverse=True)
    doc_cos = np.full(len(docs), -1.0)
    np.fmax.at(doc_cos, doc_of, c.cos)  # fmax: a cosine not known (NaN) is skipped
    doc_bm25 = np.zeros(len(docs))
    np.maximum.at(doc_bm25, doc_of, c.bm25)
    in_pool = np.bincount(doc_of, minlength=len(docs))
    in_dense = np.bincount(doc_of, weights=(c.dense_rank > 0), minlength=len(docs))
    doc_rank = np.empty(len(docs))
    doc_rank[np.argsort(-doc_cos, kind="stable")] = np.arange(1, len(docs) + 1)
    doc_rrf3 = np.zeros(len(docs))
    for d in range(len(docs)):
        doc_rrf3[d] = np.sort(rrf[doc_of == d])[-3:].sum()
    query = bigrams(c.query)
    title_keys = {t: "".join(_KEEP.findall(normalize(t))) for t in set(c.title)}
    title_covers = {t: _share(query, key) for t, key in title_keys.items()}
    title_covered = {t: _share(bigrams(t), "".join(_KEEP.findall(normalize(c.query))))
                     for t in title_keys}  # fmt: skip
    best, best_raw = np.nanmax(c.cos, initial=0), np.nanmax(c.cos_raw, initial=0)
    columns = [
        c.cos, c.cos_raw, c.cos - best, c.cos_raw - best_raw,
        c.bm25, c.bm25 / top_bm25, _log_rank(c.dense_rank, absent),
        _log_rank(c.bm25_rank, absent), rrf, doc_cos[doc_of], c.cos - doc_cos[doc_of],
        doc_bm25[doc_of] / top_bm25, np.log1p(in_pool[doc_of]), np.log1p(in_dense[doc_of]),
        np.log1p(doc_rank[doc_of]), doc_rrf3[doc_of], np.log1p(c.size),
        [title_covers[t] for t in c.title], [title_covered[t] for t in c.title],
        [_share(query, normalize(t)) for t in c.text], np.log1p([len(t) for t in c.text]),
        c.position, c.depth, [bool(_ARTICLE.match(normalize(t))) for t in c.label],
        np.full(n, np.log1p(len(c.query))),
    ]  # fmt: skip
    return np.column_stack([np.asarray(col, dtype=np.float32) for col in columns])


def served_candidates(snapshot, query: str, pool: list[_Candidate], cosines: dict[int, float],
                      depth: int, filters: Filters) -> Candidates:  # fmt: skip
    """The ranker's input for ``pool`` as the search holds it: ranks past ``depth`` count as
    absent, cosines of the dense list's clauses only (NaN for the others), BM25 scores of every
    clause (one in-memory pass restricted to the pool), the clauses' rows and document sizes."""
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
    rows = snapshot.store.clause_rows(ids)
    docs = sorted({rows[c]["doc_id"] for c in ids})
    sizes = {
        doc: (count, top)
        for doc, count, top in snapshot.store.db.execute(
            "SELECT doc_id, count(*), max(position) FROM clauses"
            f" WHERE doc_id IN ({','.join('?' * len(docs))}) GROUP BY doc_id",
            docs,
        )
    }
    r = [rows[c] for c in ids]
    return Candidates(
        query, cos, cos.copy(), np.array([lexical.get(c, 0.0) for c in ids]), dense_rank, bm25_rank,
        [x["doc_id"] for x in r], [x["doc_title"] for x in r], [x["text"] for x in r],
        [x["label"] for x in r],
        np.array([x["position"] / max(sizes[x["doc_id"]][1], 1) for x in r]),
        np.array([x["depth"] for x in r]), np.array([sizes[x["doc_id"]][0] for x in r]),
    )  # fmt: skip


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

    def rerank(self, snapshot, query, lists, fused, filters):
        """The candidates from the first ``depth`` of either list by the ranker's score, then
        the rest in fused order; a reranked candidate's score is the ranker's probability."""
        head = [c for c in fused if 0 < min(c.ranks.get(n, 1 << 30) for n in ("dense", "bm25"))
                <= self.depth]  # fmt: skip
        if not head:
            return fused
        keep = [FEATURES.index(name) for name in self.features]
        cosines = {c.clause: c.score for c in lists.get("dense", [])}
        found = served_candidates(snapshot, query, head, cosines, self.depth, filters)
        x = features(found)[:, keep]
        with _openmp().limit(limits=1, user_api="openmp"):
            scores = self.ranker.predict_proba(x)[:, 1]
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
