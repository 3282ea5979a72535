"""A learned second stage over the fused candidates on STARD, replayed offline.

``python -m evals.stard_rerank collect --kb .kb/stard/kb --out DIR`` runs every dev.json
question (never test.json) once: its raw e5 vector, its adapted vector, the adapted dense list
and the BM25 list (DEPTH clauses each, as ``Searcher._dense`` / ``_bm25`` rank them) and, for
every clause of the pool (their union), the cosines with and without the adapter and the BM25
score. Validation questions use the shipped adapter (fitted on all of train); train questions
use adapters **cross-fitted** on FOLDS folds of train (``training.query_adapter.mine``/``fit``
on the other folds), so their adapter scores are as honest as validation's.
the raw dense list (no adapter) is kept too, for the ceiling only.

``ceiling`` prints the pool's recall at depths 100/200/300; ``replay --depths D`` fits a
ranker on the train pools (training/stard_rerank.py) and scores validation against RRF and
dense over the same pool (``--no-raw``, ``--unknown``: only what the search holds);
``served --ranker FILE [--seeds-kb KB]`` runs a ranker file inside the search
(``KnowledgeBase(reranker=)``: between fusion and exact-wording-first), on validation with the
adapter, timed against the plain search, and on the policy seeds (make eval's retrieval set,
where the ranker is forced in without an adapter, as the search itself refuses).
It lowers the seeds without an adapter, so the search serves it only beside one.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from evals.metrics import score
from evals.stard import EVERY_VERSION, STARD, article_keys, latency, load, split
from index.encoders.adapter import QueryAdapter
from index.encoders.base import model_id
from index.kb import KnowledgeBase
from index.lexical import bm25_match
from index.rerank import FEATURES, Candidates, LearnedRanker, SecondStage, features
from index.search import Searcher
from training import query_adapter

DEPTH = 300  # clauses per list collected; the replay cuts shallower
FOLDS = 3
ADAPTER = Path(".kb/stard/query_adapter.npz")
OUT = Path(".kb/stard-rerank")


@dataclass
class Pool:
    """One question's candidates: clauses.id of each list, best first, and per pool clause
    (``clauses``, sorted) the adapted and raw cosine and the BM25 score (0: no query word)."""

    query_id: str
    text: str
    part: str
    dense: np.ndarray  # clauses.id, adapted dense list, best first
    raw: np.ndarray  # clauses.id, raw dense list (no adapter), best first
    bm25: np.ndarray  # clauses.id, BM25 list, best first
    clauses: np.ndarray  # the union, sorted
    cos: np.ndarray  # adapted query · best window of the clause
    cos_raw: np.ndarray  # raw query · best window
    bm25_score: np.ndarray
    relevant: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


@dataclass(frozen=True)
class Windows:
    """Every window's vector and clause, and each clause's windows (CSR by clauses.id)."""

    vectors: np.ndarray
    clause: np.ndarray  # clauses.id per window row
    order: np.ndarray  # window rows sorted by clause
    starts: dict[int, tuple[int, int]]  # clauses.id → slice of ``order``


def read_windows(kb: KnowledgeBase) -> tuple[Windows, np.ndarray]:
    """The window side, and the window ids in row order."""
    ids, vectors = kb.store.window_vectors()
    clause_of = dict(kb.store.db.execute("SELECT id, clause FROM windows").fetchall())
    clause = np.array([clause_of[w] for w in ids.tolist()], dtype=np.int64)
    order = np.argsort(clause, kind="stable")
    sorted_clauses = clause[order]
    cut = np.flatnonzero(np.diff(sorted_clauses)) + 1
    bounds = np.concatenate([[0], cut, [len(order)]])
    starts = {int(sorted_clauses[a]): (int(a), int(b)) for a, b in pairwise(bounds)}
    return Windows(vectors, clause, order, starts), ids


def best_cosines(windows: Windows, clauses: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each clause's best window cosine with ``vector``."""
    rows, owner = [], []
    for n, c in enumerate(clauses.tolist()):
        a, b = windows.starts[c]
        rows.append(windows.order[a:b])
        owner.append(np.full(b - a, n))
    rows, owner = np.concatenate(rows), np.concatenate(owner)
    scores = windows.vectors[rows] @ vector
    best = np.full(len(clauses), -1.0, dtype=np.float32)
    np.maximum.at(best, owner, scores)
    return best


def dense_list(kb, window_ids: np.ndarray, windows: Windows, vector, depth: int) -> np.ndarray:
    """clauses.id best first, as ``Searcher._dense`` ranks them (depth × 3 windows asked)."""
    hits = kb.vectors.search(vector.astype(np.float32)[None, :], depth * 3, None)
    rows = np.searchsorted(window_ids, [w for w, _ in hits])
    return np.array(list(dict.fromkeys(windows.clause[rows].tolist()))[:depth], dtype=np.int64)


def bm25_scores(kb, text: str, depth: int, pool: np.ndarray | None = None):
    """The BM25 list (clauses.id, scores) best first, or the scores of ``pool``'s clauses."""
    match = bm25_match(text)
    if match is None:
        return np.zeros(0, np.int64), np.zeros(0)
    k = depth if pool is None else len(pool)
    found = kb.bm25.search(match, k, pool, hide=not EVERY_VERSION.everything)
    if found is None:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.array([c for c, _ in found], np.int64), np.array([s for _, s in found])


def cross_folds(rows: list[int], folds: int) -> list[tuple[list[int], list[int]]]:
    """(held, fitted on) per fold: every row held once, never by the adapter it is scored by."""
    held = [rows[fold::folds] for fold in range(folds)]
    return [(part, sorted(set(rows) - set(part))) for part in held]


def adapted_vectors(kb, raw: np.ndarray, queries, parts, space, folds: int = FOLDS):
    """Each question's adapted vector: the shipped adapter for validation, a cross-fitted one
    (fitted on the other folds of train) for train."""
    shipped = QueryAdapter.load(ADAPTER)
    adapted = shipped.apply(raw)
    train = [n for n, q in enumerate(queries) if parts[q.query_id] == "train"]
    for fold, (held, fit_on) in enumerate(cross_folds(train, folds)):
        started = time.perf_counter()
        labels = [set(queries[n].articles) for n in fit_on]
        examples = query_adapter.mine(raw[fit_on], labels, space)
        matrix = query_adapter.fit(examples, raw[fit_on], space.vectors)
        adapter = QueryAdapter(matrix, model_id(kb.manifest.model))
        adapted[held] = adapter.apply(raw[held])
        print(f"fold {fold}: fitted on {len(fit_on)}, {time.perf_counter() - started:.0f} s")
    return adapted


def collect(kb_dir: Path, out: Path, depth: int = DEPTH) -> None:
    """Every dev.json question's pool, pickled to out/pools.pkl."""
    out.mkdir(parents=True, exist_ok=True)
    queries = load(STARD / "dev.json")
    parts = split(queries)
    kb = KnowledgeBase(kb_dir)
    started = time.perf_counter()
    space = query_adapter.read_space(kb)
    windows, window_ids = read_windows(kb)
    print(f"windows read: {len(window_ids)}, {time.perf_counter() - started:.0f} s")
    raw = kb.encoder.encode_queries([q.text for q in queries])
    adapted = adapted_vectors(kb, raw, queries, parts, space)
    del space
    keys = article_keys(kb)
    pools, times = [], []
    for n, q in enumerate(queries):
        started = time.perf_counter()
        dense = dense_list(kb, window_ids, windows, adapted[n], depth)
        plain = dense_list(kb, window_ids, windows, raw[n], depth)
        bm25, _ = bm25_scores(kb, q.text, depth)
        clauses = np.unique(np.concatenate([dense, plain, bm25]))
        found, found_scores = bm25_scores(kb, q.text, depth, clauses)
        lexical = dict(zip(found.tolist(), found_scores.tolist(), strict=True))
        pool = Pool(
            q.query_id, q.text, parts[q.query_id], dense, plain, bm25, clauses,
            best_cosines(windows, clauses, adapted[n]), best_cosines(windows, clauses, raw[n]),
            np.array([lexical.get(c, 0.0) for c in clauses.tolist()]),
            np.array([keys[c] in q.articles for c in clauses.tolist()]),
        )  # fmt: skip
        pools.append(pool)
        times.append((time.perf_counter() - started) * 1000)
    kb.close()
    with (out / "pools.pkl").open("wb") as sink:
        pickle.dump({"pools": pools, "depth": depth, "folds": FOLDS}, sink)
    print(f"{len(pools)} pools, per question", latency(times))


class _Unpickler(pickle.Unpickler):
    """Pools pickled by ``python -m evals.stard_rerank`` name their class in ``__main__``."""

    def find_class(self, module: str, name: str):
        return super().find_class(__name__ if name == "Pool" else module, name)


def read_pools(out: Path = OUT) -> list[Pool]:
    with (out / "pools.pkl").open("rb") as source:
        return _Unpickler(source).load()["pools"]


# --- the ceiling --------------------------------------------------------------------------


def pool_recall(pools: list[Pool], keys: dict[int, str], articles: dict[str, frozenset],
                lists: tuple[str, ...], depth: int) -> float:  # fmt: skip
    """Mean share of a question's labelled articles with a clause in the union of ``lists``
    cut to ``depth``."""
    total = 0.0
    for p in pools:
        held = {keys[c] for name in lists for c in getattr(p, name)[:depth].tolist()}
        total += len(held & articles[p.query_id]) / len(articles[p.query_id])
    return total / len(pools)


def ceiling(pools: list[Pool], keys: dict[int, str], part: str = "validation") -> dict:
    articles = {q.query_id: q.articles for q in load(STARD / "dev.json")}
    chosen = [p for p in pools if p.part == part]
    combos = {
        "dense+adapter": ("dense",), "bm25": ("bm25",), "dense (raw)": ("raw",),
        "dense+adapter ∪ bm25": ("dense", "bm25"),
        "dense+adapter ∪ bm25 ∪ dense (raw)": ("dense", "bm25", "raw"),
    }  # fmt: skip
    return {
        name: {d: round(pool_recall(chosen, keys, articles, lists, d), 4) for d in (100, 200, 300)}
        for name, lists in combos.items()
    }


# --- the replay ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """What the ranker may read of a clause (clauses and documents rows)."""

    doc: str
    title: str
    text: str
    label: str
    position: float  # 0..1 within its document
    depth: int
    size: int  # clauses in its document


def read_clauses(kb: KnowledgeBase) -> dict[int, Clause]:
    rows = kb.store.db.execute(
        "SELECT c.id, c.doc_id, d.title, c.text, c.label, c.position, c.depth,"
        " count(*) OVER (PARTITION BY c.doc_id), max(c.position) OVER (PARTITION BY c.doc_id)"
        " FROM clauses c JOIN documents d USING (doc_id)"
    )
    return {r[0]: Clause(r[1], r[2], r[3], r[4], r[5] / max(r[8], 1), r[6], r[7]) for r in rows}


def candidates_of(
    pool: Pool, clauses: dict[int, Clause], depth: int, raw: bool = True, known: bool = True
):
    """The ranker's input for the pool cut to ``depth`` per list: (Candidates, clauses.id);
    ``raw``: with the cosine without the adapter; ``known``: with the cosine of every clause
    (else only of the dense list's: NaN for the clauses only BM25 found)."""
    dense, bm25 = pool.dense[:depth], pool.bm25[:depth]
    ids = np.unique(np.concatenate([dense, bm25]))
    at = np.searchsorted(pool.clauses, ids)
    dense_rank = {c: n for n, c in enumerate(dense.tolist(), 1)}
    bm25_rank = {c: n for n, c in enumerate(bm25.tolist(), 1)}
    rows = [clauses[c] for c in ids.tolist()]
    cos = pool.cos[at]
    if not known:  # what the search has without the query vector: the dense list's cosines
        cos = np.where(np.isin(ids, dense), cos, np.nan)
    found = Candidates(
        pool.text, cos, pool.cos_raw[at] if raw else cos, pool.bm25_score[at],
        np.array([dense_rank.get(c, 0) for c in ids.tolist()]),
        np.array([bm25_rank.get(c, 0) for c in ids.tolist()]),
        [r.doc for r in rows], [r.title for r in rows], [r.text for r in rows],
        [r.label for r in rows], np.array([r.position for r in rows]),
        np.array([r.depth for r in rows]), np.array([r.size for r in rows]),
    )  # fmt: skip
    return found, ids


def article_run(ids: np.ndarray, scores: np.ndarray, keys: dict[int, str]) -> list[str]:
    order = np.argsort(-scores, kind="stable")
    return list(dict.fromkeys(keys[c] for c in ids[order].tolist()))[:100]


def matrices(pools, clauses, keys, depth, raw=True, known=True):
    """Per pool: (features, labels, clauses.id, baseline RRF scores, dense-only scores)."""
    found = []
    for p in pools:
        c, ids = candidates_of(p, clauses, depth, raw, known)
        x = features(c)
        labels = np.isin(ids, p.clauses[p.relevant])
        found.append((x, labels, ids, x[:, FEATURES.index("rrf")], x[:, FEATURES.index("cos")]))
    return found


def replay(pools: list[Pool], kb: KnowledgeBase, depth: int, raw: bool = True,
           model: str = "hgb", drop: tuple[str, ...] = (), known: bool = True) -> dict:  # fmt: skip
    """Fit on train pools, score validation: {run: metrics}, and the ranker's ms per query."""
    from training.stard_rerank import fit_ranker

    keys, clauses = article_keys(kb), read_clauses(kb)
    articles = {q.query_id: set(q.articles) for q in load(STARD / "dev.json")}
    train = [p for p in pools if p.part == "train"]
    valid = [p for p in pools if p.part == "validation"]
    keep = [n for n, name in enumerate(FEATURES) if name not in drop]
    tm = matrices(train, clauses, keys, depth, raw, known)
    started = time.perf_counter()
    ranker = fit_ranker(np.vstack([m[0][:, keep] for m in tm]),
                        np.concatenate([m[1] for m in tm]), model)  # fmt: skip
    fit_seconds = time.perf_counter() - started
    vm = matrices(valid, clauses, keys, depth, raw, known)
    qrels = {p.query_id: articles[p.query_id] for p in valid}
    runs: dict[str, dict[str, list[str]]] = {"rrf": {}, "dense": {}, "ranker": {}}
    times = []
    for p, (x, _, ids, rrf, cos) in zip(valid, vm, strict=True):
        runs["rrf"][p.query_id] = article_run(ids, rrf, keys)
        runs["dense"][p.query_id] = article_run(ids, cos, keys)
        started = time.perf_counter()
        scores = ranker.predict_proba(x[:, keep])[:, 1]
        times.append((time.perf_counter() - started) * 1000)
        runs["ranker"][p.query_id] = article_run(ids, scores, keys)
    result = {name: score(run, qrels) for name, run in runs.items()}
    result["predict_ms"] = latency(times)
    result["fit_s"] = round(fit_seconds, 1)
    result["pool"] = round(float(np.mean([len(m[2]) for m in vm])), 1)
    return result


# --- the ranker inside the search (timing, and the policy seeds) ---------------------------


@dataclass
class Timed(SecondStage):
    """A second stage that records the milliseconds each reranking takes: wall, the process's
    CPU and the calling thread's (on a loaded machine CPU is what compares; the process's also
    counts other threads, e.g. the encoder's OpenMP pool spinning after the query's encoding)."""

    inner: SecondStage
    spent: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    thread: list[float] = field(default_factory=list)

    @property
    def depth(self) -> int:
        """The wrapped stage's: the search fetches as deep for it."""
        return self.inner.depth

    def rerank(self, snapshot, query, lists, fused, filters):
        started, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
        ranked = self.inner.rerank(snapshot, query, lists, fused, filters)
        self.thread.append((time.thread_time() - thread) * 1000)
        self.cpu.append((time.process_time() - cpu) * 1000)
        self.spent.append((time.perf_counter() - started) * 1000)
        return ranked


def served(
    ranker_file: Path, kb_dir: Path, seeds_kb: Path | None, timed: int = 100,
    part: str = "validation",
) -> dict:  # fmt: skip
    """The ranker inside the search: ``part`` (validation, or test: test.json, only to report
    at the end) through the search with the adapter (200 clauses → articles), the user's
    search time with and without the ranker (first ``timed`` questions, alternated so both see
    the same load), and the policy seeds' hybrid."""
    import evals.retrieval as retrieval

    if part == "test":
        valid = load(STARD / "test.json")
    else:
        queries = load(STARD / "dev.json")
        parts = split(queries)
        valid = [q for q in queries if parts[q.query_id] == "validation"]
    kb = KnowledgeBase(kb_dir, query_adapter=ADAPTER, reranker=ranker_file)
    ranker, keys, searcher = Timed(kb.reranker), article_keys(kb), Searcher(kb)
    kb.reranker = ranker
    searcher.search(valid[0].text, 10, EVERY_VERSION)  # the model loads outside the clock
    run = {}
    for q in valid:
        ranked = searcher.ranking(q.text, 200, EVERY_VERSION)
        run[q.query_id] = list(dict.fromkeys(keys[c] for c in ranked))[:100]
    result = {part: score(run, {q.query_id: set(q.articles) for q in valid})}
    ranker.spent.clear()
    ranker.cpu.clear()
    ranker.thread.clear()
    times: dict[str, list[float]] = {"hybrid": [], "hybrid+ranker": []}
    cpu: dict[str, list[float]] = {"hybrid": [], "hybrid+ranker": []}
    for q in valid[:timed]:
        for name, stage in (("hybrid", None), ("hybrid+ranker", ranker)):
            kb.reranker = stage
            started, used = time.perf_counter(), time.process_time()
            searcher.search(q.text, 10, EVERY_VERSION)
            times[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - used) * 1000)
    result["search_ms"] = {name: latency(t) for name, t in times.items()}
    result["search_cpu_ms"] = {name: latency(t) for name, t in cpu.items()}
    result["ranker_ms"] = latency(ranker.spent)
    result["ranker_cpu_ms"] = latency(ranker.cpu)
    result["ranker_thread_cpu_ms"] = latency(ranker.thread)
    kb.close()
    if seeds_kb:
        seeds = KnowledgeBase(seeds_kb)
        retrieval.EVAL_MODES = ("hybrid",)
        for name, stage in (("hybrid", None), ("hybrid+ranker", LearnedRanker.load(ranker_file))):
            seeds.reranker = stage  # forced in: the search refuses a ranker without its adapter
            result[f"seeds {name}"] = retrieval.evaluate(Searcher(seeds), Path("tests/eval"))["all"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("collect", "ceiling", "replay", "served"))
    parser.add_argument("--ranker", type=Path, help="served: the ranker file")
    parser.add_argument("--seeds-kb", type=Path, help="served: a KB of corpus/ (make eval's)")
    parser.add_argument(
        "--split",
        choices=("validation", "test"),
        default="validation",
        help="served: the questions (test: test.json, to report at the end)",
    )
    parser.add_argument("--kb", type=Path, default=Path(".kb/stard/kb"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--depths", type=int, nargs="+", default=[100])
    parser.add_argument("--model", default="hgb")
    parser.add_argument("--no-raw", action="store_true", help="replay: cos_raw := cos")
    parser.add_argument(
        "--unknown", action="store_true", help="replay: no cosine for clauses only BM25 found (NaN)"
    )
    parser.add_argument(
        "--drop",
        nargs="*",
        type=lambda s: [f for f in s.split(",") if f != "-"],
        default=[],
        help="replay: features to leave out, one run each (a,b c; - for none)",
    )
    args = parser.parse_args()
    if args.step == "collect":
        collect(args.kb, args.out)
        return
    if args.step == "served":
        found = served(args.ranker, args.kb, args.seeds_kb, part=args.split)
        print(json.dumps(found))
        return
    pools = read_pools(args.out)
    kb = KnowledgeBase(args.kb)
    keys = article_keys(kb)
    if args.step == "ceiling":
        for part in ("validation", "train"):
            print(part, json.dumps(ceiling(pools, keys, part), ensure_ascii=False))
        return
    for depth in args.depths:
        for drop in args.drop or [[]]:
            found = replay(
                pools, kb, depth, not args.no_raw, args.model, tuple(drop), not args.unknown
            )
            print(f"depth {depth} model {args.model} drop {','.join(drop) or '-'}:",
                  json.dumps(found))  # fmt: skip


if __name__ == "__main__":
    main()
