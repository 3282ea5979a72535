"""Dense retrieval with two embedding models on the STARD documents both have embedded.

``python -m evals.stard_ab --kb .kb/stard/kb --other .kb/stard/kb-ft --other-model DIR``.
While a KB of another model is still embedding (its vector cache fills as it goes, in the
ingest's document order), this compares the two models on the same sub-corpus: every
document of the reference KB whose windows the other KB's cache already holds, and the
validation questions whose labelled articles all lie in those documents. Both sides rank the
same windows by cosine, map them to articles (evals.stard's rule) and are scored alike, so
the comparison is fair; the figures are not the full corpus's (fewer distractors).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.metrics import score
from evals.stard import STARD, article_keys, part_of, qrels_of
from index.encoders import load_encoder
from index.encoders.adapter import QueryAdapter
from index.kb import DB_FILE, KnowledgeBase
from index.store import Store

DEPTH = 100  # distinct articles per run, as evals.stard


@dataclass(frozen=True)
class SubCorpus:
    """The windows of the documents both KBs hold vectors for, and each window's article."""

    hashes: list[str]
    articles: np.ndarray  # object dtype, one law#number (or clause:ID) per window
    documents: int


def sub_corpus(kb: KnowledgeBase, other_cache: set[str]) -> SubCorpus:
    """Every window of the documents whose window texts are all in ``other_cache``."""
    keys = article_keys(kb)
    rows = kb.store.db.execute(
        "SELECT c.doc_id, w.text_hash, w.clause FROM windows w JOIN clauses c ON c.id = w.clause"
    ).fetchall()
    complete: dict[str, bool] = {}
    for doc_id, text_hash, _ in rows:
        complete[doc_id] = complete.get(doc_id, True) and text_hash in other_cache
    kept = [(h, keys[clause]) for doc_id, h, clause in rows if complete[doc_id]]
    articles = np.array([a for _, a in kept], dtype=object)
    return SubCorpus([h for h, _ in kept], articles, sum(complete.values()))


def stacked(store: Store, hashes: list[str]) -> np.ndarray:
    """The cached vectors of ``hashes``, one row each, in order."""
    found = store.cached_vectors(hashes)
    return np.stack([found[h] for h in hashes])


def article_run(queries: np.ndarray, passages: np.ndarray, articles: np.ndarray) -> list[list[str]]:
    """Each query's first DEPTH distinct articles, windows ranked by cosine."""
    runs = []
    for vector in queries:
        order = np.argsort(-(passages @ vector), kind="stable")
        runs.append(list(dict.fromkeys(articles[order[: DEPTH * 20]].tolist()))[:DEPTH])
    return runs


def compare(kb_dir: Path, other_dir: Path, other_model: str, adapter: Path | None) -> dict:
    """R@10, R@100, MRR@10 of each model (and the reference with its adapter) on the sub-corpus."""
    kb = KnowledgeBase(kb_dir)
    other_store = Store(other_dir / DB_FILE, read_only=True)
    other_cache = {h for (h,) in other_store.db.execute("SELECT text_hash FROM embeddings")}
    corpus = sub_corpus(kb, other_cache)
    held = set(corpus.articles.tolist())
    questions = [q for q in part_of(STARD, "validation") if q.articles and q.articles <= held]
    texts, qrels = [q.text for q in questions], qrels_of(questions)
    reference = kb.encoder.encode_queries(texts)
    passages = stacked(kb.store, corpus.hashes)
    sides = {"reference": (reference, passages)}
    if adapter:
        sides["reference + adapter"] = (QueryAdapter.load(adapter).apply(reference), passages)
    other = load_encoder(other_model, "torch").encode_queries(texts)
    sides["other"] = (other, stacked(other_store, corpus.hashes))
    other_store.close()
    kb.close()
    found = {"documents": corpus.documents, "windows": len(corpus.hashes)}
    found["questions"] = len(questions)
    for name, (query_vectors, passages) in sides.items():
        runs = article_run(query_vectors, passages, corpus.articles)
        found[name] = score({q.query_id: r for q, r in zip(questions, runs, strict=True)}, qrels)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True, help="the reference STARD KB")
    parser.add_argument("--other", type=Path, required=True, help="the KB of the other model")
    parser.add_argument("--other-model", required=True, help="the other model's folder")
    parser.add_argument("--adapter", type=Path, help="the reference model's query adapter")
    args = parser.parse_args()
    found = compare(args.kb, args.other, args.other_model, args.adapter)
    print(json.dumps(found, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
