"""Would two embedding models together find more? Article-level fusion of cached STARD lists.

``python -m evals.stard_ensemble --lists .kb/stard/lists-adapter --other DIR [--depth 100]``
reads the dense and BM25 lists ``evals.stard_fusion collect`` cached for one KB and the dense
list cached for another (a KB of another model, e.g. the fine-tuned one: its clause ids differ,
so the lists meet on their ``law#number`` article keys, not on clauses). It prints each
combination's pool recall (the share of a question's labelled articles found in any of the
lists: what no fusion can exceed) and a weighted RRF over articles, the weights chosen on
train and reported on validation.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from evals.metrics import Run, score
from evals.stard import STARD, load, qrels_of, split

ArticleLists = dict[str, dict[str, list[str]]]  # list name → query id → articles, best first
WEIGHT_GRID = {"dense": (0, 0.5, 1, 1.5), "other": (0, 0.5, 1, 1.5), "bm25": (0, 0.25, 0.5, 0.8)}
RRF_K = 60


def read_articles(path: Path, depth: int) -> dict[str, list[str]]:
    """query id → the distinct articles of the list's first ``depth`` clauses, best first."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        found[row["query_id"]] = list(dict.fromkeys(hit[1] for hit in row["hits"][:depth]))
    return found


def pool_recall(lists: ArticleLists, names: list[str], qrels: dict[str, set[str]]) -> float:
    """Mean share of each query's labelled articles found in any of the named lists."""
    shares = []
    for query_id, relevant in qrels.items():
        pool = set().union(*(lists[name].get(query_id, []) for name in names))
        shares.append(len(pool & relevant) / len(relevant))
    return sum(shares) / len(shares)


def article_rrf(lists: ArticleLists, weights: dict[str, float], query_ids, k: int = RRF_K) -> Run:
    """Σ weight / (k + rank) of each article over the lists; the first 100 articles."""
    run = {}
    for query_id in query_ids:
        scores: dict[str, float] = {}
        for name, weight in weights.items():
            for rank, article in enumerate(lists[name].get(query_id, []), 1):
                scores[article] = scores.get(article, 0.0) + weight / (k + rank)
        run[query_id] = sorted(scores, key=lambda a: -scores[a])[:100]
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lists", type=Path, required=True, help="dense.jsonl and bm25.jsonl")
    parser.add_argument("--other", type=Path, required=True, help="another KB's dense.jsonl dir")
    parser.add_argument("--depth", type=int, default=100, help="clauses per list")
    args = parser.parse_args()
    lists = {
        "dense": read_articles(args.lists / "dense.jsonl", args.depth),
        "bm25": read_articles(args.lists / "bm25.jsonl", args.depth),
        "other": read_articles(args.other / "dense.jsonl", args.depth),
    }
    queries = load(STARD / "dev.json")
    parts, qrels = split(queries), qrels_of(queries)
    by_part = {
        part: {q.query_id: set(qrels[q.query_id]) for q in queries
               if parts[q.query_id] == part and all(q.query_id in per for per in lists.values())}
        for part in ("train", "validation")
    }  # fmt: skip
    for size in (1, 2, 3):
        for names in itertools.combinations(lists, size):
            shares = {p: round(pool_recall(lists, list(names), by_part[p]), 3) for p in by_part}
            print(f"pool recall at {args.depth} per list, {' ∪ '.join(names)}: {shares}")
    results = []
    for values in itertools.product(*WEIGHT_GRID.values()):
        weights = dict(zip(WEIGHT_GRID, values, strict=True))
        if weights["dense"] or weights["other"]:
            found = {p: score(article_rrf(lists, weights, ids), ids) for p, ids in by_part.items()}
            results.append((weights, found))
    results.sort(key=lambda r: (-r[1]["train"]["R@100"], -r[1]["train"]["MRR@10"]))
    for weights, found in results[:5]:
        print(weights, json.dumps(found))


if __name__ == "__main__":
    main()
