"""Fusion of dense and BM25 on STARD, tuned offline: each list run once, fusions replayed.

``python -m evals.stard_fusion collect --kb DIR`` runs every dev.json question (train and
validation; never test.json) through the dense and the BM25 retriever of ``Searcher`` once,
DEPTH clauses each with scores and ranks, and caches them in ``.kb/stard/lists/*.jsonl``
(resumable: queries already cached are skipped). ``python -m evals.stard_fusion tune`` then
replays fusion variants over the cache: weighted RRF (``index.search._fuse``, the shipped
arithmetic) for each k in RRF_KS and dense weight in WEIGHTS, and a convex combination of
min-max normalised scores; it picks the best on train and reports it on validation.

A fused list is cut to evals.stard.CLAUSES clauses and mapped to articles as evals/stard.py
does (an article once, at its best rank; the first 100 articles are the run). The replay
leaves out what the search adds after fusion: exact wording first, for queries without a
question word (``_is_wording``); evals/stard.py's full runs include it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evals.metrics import Run, score
from evals.stard import (
    CLAUSES,
    EVERY_VERSION,
    STARD,
    article_keys,
    latency,
    load,
    qrels_of,
    split,
)
from index.kb import KnowledgeBase
from index.search import Searcher, _Candidate, _fuse

LISTS = Path(".kb/stard/lists")
RETRIEVERS = ("dense", "bm25")
DEPTH = 300  # clauses per retriever and query: the fused top 200 rarely reach further
RRF_KS = (10, 30, 60, 100)
WEIGHTS = tuple(round(0.1 * n, 1) for n in range(11))  # weight of dense; BM25's is 1 - w
DOCUMENT_WEIGHTS = (0.1, 0.2, 0.3, 0.5)  # of _with_documents, over RRF's scores
PRIMARY = "R@100"  # the figure the choice maximises on train; MRR@10 breaks ties


@dataclass(frozen=True)
class Hit:
    """One cached clause of a retriever's list: its stable id, its article key, its score."""

    clause_id: str
    article: str
    score: float


Lists = dict[str, dict[str, list[Hit]]]  # retriever → query id → hits, best first


# --- collecting the lists -----------------------------------------------------------------


def clause_keys(kb: KnowledgeBase) -> dict[int, tuple[str, str]]:
    """clauses.id → (clause_id, law#number of its article): stable across rebuilt KBs."""
    articles = article_keys(kb)
    rows = kb.store.db.execute("SELECT id, clause_id FROM clauses")
    return {row_id: (clause_id, articles[row_id]) for row_id, clause_id in rows}


def fingerprint(kb: KnowledgeBase) -> str:
    """Which KB a list was collected on: a hash of its clause ids, which name documents by
    content. Lists of two different builds cannot be fused: their clause ids differ."""
    ids = sorted(r[0] for r in kb.store.db.execute("SELECT clause_id FROM clauses"))
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


class StaleLists(RuntimeError):
    """Cached lists collected on another KB than the one at hand, or on different KBs."""


def _stamp(path: Path) -> Path:
    return path.with_suffix(".kb")


def check_stamp(path: Path, expected: str) -> None:
    """Refuse a list file collected on another KB (its stamp differs from ``expected``)."""
    stamp = _stamp(path)
    found = stamp.read_text().strip() if stamp.exists() else None
    if path.exists() and found != expected:
        raise StaleLists(
            f"{path}: collected on KB {found or 'unknown'}, not on this one ({expected});"
            " delete it and collect again"
        )
    stamp.write_text(expected + "\n")


def retrieve(snapshot_searcher: Searcher, query: str, retriever: str, depth: int):
    """The retriever's candidates for one query, as the hybrid search computes them."""
    if retriever == "dense":
        return snapshot_searcher._dense(query, depth, EVERY_VERSION, [])
    return snapshot_searcher._bm25(query, depth, EVERY_VERSION, [])


def collect(
    kb_dir: Path, out: Path, retrievers=RETRIEVERS, depth: int = DEPTH,
    adapter: Path | None = None, part: str | None = None,
) -> None:  # fmt: skip
    """Run each dev query through each retriever once and append its list to out/NAME.jsonl;
    ``adapter``: a query adapter the dense retriever applies (keep its lists in their own out);
    ``part``: only the queries of that part of the split (train or validation)."""
    out.mkdir(parents=True, exist_ok=True)
    queries = load(STARD / "dev.json")
    if part:
        parts = split(queries)
        queries = [q for q in queries if parts[q.query_id] == part]
    kb = KnowledgeBase(kb_dir, query_adapter=adapter)
    keys, stamp = clause_keys(kb), fingerprint(kb)
    for retriever in retrievers:
        path = out / f"{retriever}.jsonl"
        check_stamp(path, stamp)
        done = {json.loads(line)["query_id"] for line in _lines(path)}
        times = []
        with path.open("a", encoding="utf-8") as sink:
            for q in (q for q in queries if q.query_id not in done):
                started = time.perf_counter()
                with kb.reading() as snapshot:
                    found = retrieve(Searcher(snapshot), q.text, retriever, depth)
                times.append((time.perf_counter() - started) * 1000)
                hits = [[*keys[c.clause], round(c.score, 6)] for c in found]
                row = {"query_id": q.query_id, "hits": hits}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
        print(f"{retriever}: {len(times)} queries run, {len(done)} cached", latency(times or [0]))
    kb.close()


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_lists(folder: Path, retrievers=RETRIEVERS, depth: int = DEPTH) -> Lists:
    """The cached lists, each cut to ``depth`` (100: what a top-10 search fuses); lists
    collected on different KBs are refused."""
    stamps = {_stamp(folder / f"{r}.jsonl") for r in retrievers}
    found = {s.read_text().strip() if s.exists() else None for s in stamps}
    if len(found) != 1 or None in found:
        shown = ", ".join(sorted(map(str, found)))
        raise StaleLists(f"{folder}: the lists were not collected on one KB ({shown})")
    lists: Lists = {}
    for retriever in retrievers:
        rows = (json.loads(line) for line in _lines(folder / f"{retriever}.jsonl"))
        lists[retriever] = {r["query_id"]: [Hit(*h) for h in r["hits"][:depth]] for r in rows}
    return lists


# --- fusing -------------------------------------------------------------------------------

DOCUMENT_EVIDENCE = 3  # a document's best fused scores that count as its evidence


def with_documents(
    ranked: list[_Candidate], document_of: dict[int, str], weight: float,
    evidence: int = DOCUMENT_EVIDENCE,
) -> list[_Candidate]:  # fmt: skip
    """The fused list re-scored with each clause's document: score + weight × the sum of its
    document's best ``evidence`` fused scores. A question is usually answered in the one law
    or plan that several strong hits come from; a lone hit in an unrelated one sinks."""
    if not weight:
        return ranked
    found: dict[str, list[float]] = {}
    for candidate in ranked:  # best first, so each document's list is best first
        found.setdefault(document_of[candidate.clause], []).append(candidate.score)
    support = {doc: sum(scores[:evidence]) for doc, scores in found.items()}
    for candidate in ranked:
        candidate.score += weight * support[document_of[candidate.clause]]
    return sorted(ranked, key=lambda c: -c.score)


Fusion = Callable[[dict[str, list[Hit]]], list[str]]  # retriever → hits ⇒ clause ids, best first


def rrf(dense_weight: float, k: int, document_weight: float = 0.0) -> Fusion:
    """Weighted RRF through the search's own ``_fuse``; weights sum to 2 as FUSION_WEIGHTS.
    ``document_weight``: then ``with_documents`` (a clause_id starts with its document's id)."""
    weights = {"dense": 2 * dense_weight, "bm25": 2 * (1 - dense_weight)}

    def fuse(lists: dict[str, list[Hit]]) -> list[str]:
        ids = {h.clause_id: n for hits in lists.values() for n, h in enumerate(hits)}
        index = {clause_id: n for n, clause_id in enumerate(ids)}
        candidates = {
            name: [_Candidate(index[h.clause_id], ranks={name: rank})
                   for rank, h in enumerate(hits, 1)]
            for name, hits in lists.items()
        }  # fmt: skip
        names = list(ids)
        fused = _fuse(candidates, weights, k)
        if document_weight:
            documents = {n: clause_id.rsplit("-", 1)[0] for n, clause_id in enumerate(names)}
            fused = with_documents(fused, documents, document_weight)
        return [names[c.clause] for c in fused]

    return fuse


def minmax(hits: list[Hit]) -> dict[str, float]:
    """Scores scaled to [0, 1] within the list: its best 1, its last 0."""
    if not hits:
        return {}
    top, bottom = max(h.score for h in hits), min(h.score for h in hits)
    spread = (top - bottom) or 1.0
    return {h.clause_id: (h.score - bottom) / spread for h in hits}


def convex(dense_weight: float) -> Fusion:
    """w · dense + (1 - w) · BM25 on min-max normalised scores; a clause absent from a list
    gets 0 there (the list's floor)."""

    def fuse(lists: dict[str, list[Hit]]) -> list[str]:
        dense, bm25 = minmax(lists.get("dense", [])), minmax(lists.get("bm25", []))
        fused = {
            c: dense_weight * dense.get(c, 0.0) + (1 - dense_weight) * bm25.get(c, 0.0)
            for c in dict.fromkeys([*dense, *bm25])
        }
        return sorted(fused, key=lambda c: -fused[c])

    return fuse


def variants() -> dict[str, Fusion]:
    found = {f"rrf k={k} w={w}": rrf(w, k) for k in RRF_KS for w in WEIGHTS}
    found |= {f"convex minmax w={w}": convex(w) for w in WEIGHTS}
    found |= {
        f"rrf k={k} w={w} documents {d}": rrf(w, k, d)
        for k in RRF_KS for w in WEIGHTS[4:10] for d in DOCUMENT_WEIGHTS
    }  # fmt: skip
    return found


def article_run_of(fusion: Fusion, lists: Lists, query_ids: list[str]) -> Run:
    """Each query's fused clauses cut to CLAUSES, mapped to articles, the first 100 kept."""
    run = {}
    for q in query_ids:
        per_query = {name: lists[name].get(q, []) for name in lists}
        article = {h.clause_id: h.article for hits in per_query.values() for h in hits}
        ranked = fusion(per_query)[:CLAUSES]
        run[q] = list(dict.fromkeys(article[c] for c in ranked))[:100]
    return run


def tune(folder: Path = LISTS, depth: int = DEPTH) -> dict[str, dict[str, dict[str, float]]]:
    """{variant: {part: metrics}} for every fusion variant on train and validation."""
    queries = load(STARD / "dev.json")
    parts, qrels = split(queries), qrels_of(queries)
    lists = read_lists(folder, depth=depth)
    cached = set.intersection(*(set(per.keys()) for per in lists.values()))  # maybe a part
    by_part = {
        part: [q.query_id for q in queries if parts[q.query_id] == part and q.query_id in cached]
        for part in ("train", "validation")
    }
    results = {}
    for name, fusion in variants().items():
        results[name] = {
            part: score(article_run_of(fusion, lists, ids), {q: qrels[q] for q in ids})
            for part, ids in by_part.items()
        }
    return results


def best_on_train(results: dict) -> str:
    return max(results, key=lambda v: (results[v]["train"][PRIMARY],
                                       results[v]["train"]["MRR@10"]))  # fmt: skip


def format_results(results: dict) -> str:
    lines = [
        "| fusion | train R@10 | R@100 | MRR@10 | validation R@10 | R@100 | MRR@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, parts in results.items():
        cells = [f"{parts[p][m]:.3f}" for p in ("train", "validation")
                 for m in ("R@10", "R@100", "MRR@10")]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seeds_sweep(kb_dir: Path, eval_dir: Path = Path("tests/eval")) -> dict[str, dict]:
    """Hybrid on the policy seeds (make eval's retrieval part) for each weighted RRF:
    {variant: metrics over all queries}, the search run end to end (exact wording included)."""
    import evals.retrieval as retrieval
    import index.search as search

    shipped, searcher = search._fuse, Searcher(KnowledgeBase(kb_dir))
    retrieval.EVAL_MODES = ("hybrid",)  # dense and BM25 do not depend on the fusion
    results = {}
    try:
        for k in RRF_KS:
            for w in WEIGHTS:
                weights = {"dense": 2 * w, "bm25": 2 * (1 - w)}
                search._fuse = lambda lists, k=k, weights=weights: shipped(lists, weights, k)
                found = retrieval.evaluate(searcher, eval_dir)["all"]["hybrid"]
                results[f"rrf k={k} w={w}"] = found
    finally:
        search._fuse = shipped
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("collect", "tune", "seeds"))
    parser.add_argument("--kb", type=Path, help="the STARD KB (collect)")
    parser.add_argument("--lists", type=Path, default=LISTS)
    parser.add_argument("--retrievers", default=",".join(RETRIEVERS))
    parser.add_argument("--depth", type=int, default=DEPTH, help="tune: clauses per list")
    parser.add_argument("--out", type=Path, help="tune: write the results as JSON here")
    parser.add_argument("--adapter", type=Path, help="collect: a query adapter for dense")
    parser.add_argument("--part", choices=("train", "validation"), help="collect: only these")
    args = parser.parse_args()
    if args.step == "collect":
        if args.kb is None:
            parser.error("collect needs --kb")
        retrievers = tuple(args.retrievers.split(","))
        collect(args.kb, args.lists, retrievers, adapter=args.adapter, part=args.part)
        return
    if args.step == "seeds":  # --kb: a KB of corpus/ (make eval's)
        for name, metrics in seeds_sweep(args.kb).items():
            print(name, {m: round(v, 3) for m, v in metrics.items()})
        return
    results = tune(args.lists, args.depth)
    print(format_results(results))
    chosen = best_on_train(results)
    print(f"best on train ({PRIMARY}, then MRR@10): {chosen}: {results[chosen]}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
