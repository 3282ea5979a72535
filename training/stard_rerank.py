"""A second-stage ranker over the fused candidates, fitted on STARD's train split.

Each candidate clause of a question's pool (the dense list ∪ the BM25 list) is described by
cheap, general features (``features``): its cosines and BM25 score, its ranks, aggregates over
its document's clauses in the pool, how much of the question its law's title and its text
share, its position and length. A gradient-boosted classifier (scikit-learn) scores relevance;
the pool is re-ordered by that score. No per-law prior: nothing learned names a document.

``python -m training.stard_rerank --pools DIR --out FILE`` fits it on the train pools that
``python -m evals.stard_rerank collect`` wrote (validation and test.json are never read) and
writes a ranker file (index/rerank.py: the model, the query adapter and feature list it was
fitted for, the scikit-learn version) that ``POLICYKB_RERANKER`` serves (``make
stard-reranker``). The features are index/rerank.py's: the search computes the same.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from evals.stard import article_keys
from index.encoders.adapter import QueryAdapter
from index.kb import KnowledgeBase
from index.rerank import FEATURES, LearnedRanker, adapter_fingerprint

KB = Path(".kb/stard/kb")
ADAPTER = Path(".kb/stard/query_adapter.npz")


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


def fit_stard(pools: Path, depth: int = 100, model: str = "hgb", drop: tuple = (),
              kb_dir: Path = KB, adapter: Path = ADAPTER) -> LearnedRanker:  # fmt: skip
    """The ranker fitted on the train pools of evals.stard_rerank (validation never read),
    as the search holds its candidates: no cosine for clauses only BM25 found, no raw one;
    for the KB's model and ``adapter`` (the one the validation pools were collected with)."""
    from evals.stard_rerank import matrices, read_clauses, read_pools

    started = time.perf_counter()
    kb = KnowledgeBase(kb_dir)
    keys, clauses, model_id = article_keys(kb), read_clauses(kb), kb.manifest.model
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
    fingerprint = adapter_fingerprint(QueryAdapter.load(adapter))
    return LearnedRanker(ranker, kept, model_id, fingerprint, depth, about)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", type=Path, default=Path(".kb/stard-rerank"))
    parser.add_argument("--kb", type=Path, default=KB)
    parser.add_argument("--adapter", type=Path, default=ADAPTER, help="the pools' query adapter")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--model", default="hgb")
    parser.add_argument("--drop", default="", help="features left out, comma-separated")
    args = parser.parse_args()
    drop = tuple(filter(None, args.drop.split(",")))
    found = fit_stard(args.pools, args.depth, args.model, drop, args.kb, args.adapter)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    found.save(args.out)
    print(f"{args.out}: {json.dumps(found.about, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
