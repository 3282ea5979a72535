"""A second-stage ranker over the fused candidates, fitted on STARD's train split.

Each candidate clause of a question's pool (the dense list ∪ the BM25 list) is described by
cheap, general features (``features``): its cosines and BM25 score, its ranks, aggregates over
its document's clauses in the pool, how much of the question its law's title and its text
share, its position and length. A gradient-boosted classifier (scikit-learn) scores relevance;
the pool is re-ordered by that score. No per-law prior: nothing learned names a document.

``python -m training.stard_rerank --pools DIR --out FILE`` fits it on the train pools that
``python -m evals.stard_rerank collect`` wrote (validation and test.json are never read) and
pickles it with its feature names; evals/stard_rerank.py replays it. Not shipped in the search.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.stard import article_keys
from index.kb import KnowledgeBase
from ingest.text import normalize

FORMAT = "policykb-reranker/1"
KB = Path(".kb/stard/kb")

RRF_K, DENSE_WEIGHT, BM25_WEIGHT = 60, 1.2, 0.8  # the shipped fusion (index.search)
_KEEP = re.compile(r"[\w]", re.UNICODE)
_ARTICLE = re.compile(r"^第[零〇一二两三四五六七八九十百千\d]+条")


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


def fit_ranker(x: np.ndarray, y: np.ndarray, model: str = "hgb"):
    """A relevance classifier over FEATURES rows: gradient-boosted trees ("hgb") or a scaled
    logistic regression ("lr")."""
    if model == "lr":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)
    from sklearn.ensemble import HistGradientBoostingClassifier

    ranker = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.05, max_leaf_nodes=31, min_samples_leaf=50,
        l2_regularization=1.0, early_stopping=False, random_state=0,
    )  # fmt: skip
    return ranker.fit(x, y)


def fit_stard(pools: Path, depth: int = 100, model: str = "hgb", drop: tuple = ()) -> dict:
    """The ranker fitted on the train pools of evals.stard_rerank (validation never read),
    as the search holds its candidates: no cosine for clauses only BM25 found, no raw one."""
    from evals.stard_rerank import matrices, read_clauses, read_pools

    started = time.perf_counter()
    kb = KnowledgeBase(KB)
    keys, clauses = article_keys(kb), read_clauses(kb)
    kb.close()
    train = [p for p in read_pools(pools) if p.part == "train"]
    found = matrices(train, clauses, keys, depth, raw=False, known=False)
    keep = [n for n, name in enumerate(FEATURES) if name not in drop]
    x, y = np.vstack([m[0][:, keep] for m in found]), np.concatenate([m[1] for m in found])
    ranker = fit_ranker(x, y, model)
    about = {
        "fitted_on": f"STARD dev.json, train split ({len(train)} questions)",
        "depth": depth, "rows": len(y), "positives": int(y.sum()), "model": model,
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    kept = [FEATURES[n] for n in keep]
    return {"format": FORMAT, "features": kept, "ranker": ranker, "about": about}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", type=Path, default=Path(".kb/stard-rerank"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--model", default="hgb")
    parser.add_argument("--drop", default="", help="features left out, comma-separated")
    args = parser.parse_args()
    found = fit_stard(args.pools, args.depth, args.model, tuple(filter(None, args.drop.split(","))))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as sink:
        pickle.dump(found, sink)
    print(f"{args.out}: {json.dumps(found['about'], ensure_ascii=False)}")


if __name__ == "__main__":
    main()
