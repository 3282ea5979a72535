"""The in-memory BM25 index alone (index/lexical_index): MaxScore against the exhaustive scorer.

Rows are the STARD KB's ``clauses_bm25`` (lawrefbook's national laws, 150,153 clauses; read
only); a larger index repeats them, each copy with 10 % of its words dropped at random (so
copies are distinct rows with real term statistics). One postings segment of every row, the
STARD KB's superseded clauses hidden (the default filter). Queries: the 300 first STARD
dev.json questions as Searcher asks FTS5 (``bm25_match``). Per query and scorer: top 100,
the thread's CPU time and wall time (the best of ``--repeat`` runs), and whether both return
the same hits (ids, order and scores, to the bit). Per query also its terms, how many are
common (in over 5 % of rows), its postings, and the speed-up: where pruning helps little.
Built postings are kept in .kb/bm25-bench/ (delete it to build again).

    nice -n 10 .venv/bin/python bench/bm25_index.py --sizes 150153 1000000
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.lexical import bm25_match  # noqa: E402
from index.lexical_index.postings import Postings  # noqa: E402
from index.lexical_index.segments import LexicalIndex, Segment  # noqa: E402
from index.lexical_index.tokens import phrases  # noqa: E402

SHARED = ROOT.parent / "shared"
STARD_DB = ROOT / ".kb" / "stard" / "kb" / "kb.sqlite"
CACHE = ROOT / ".kb" / "bm25-bench"
DROP = 0.10  # share of a copy's words dropped
COMMON = 0.05  # a term in over this share of rows is common
TOP = 100


def stard_rows() -> tuple[np.ndarray, list[str], np.ndarray]:
    """(clause ids, ``clauses_bm25`` words, superseded clause ids) of the STARD KB, read only."""
    db = sqlite3.connect(f"file:{STARD_DB}?mode=ro", uri=True)
    rows = db.execute("SELECT rowid, words FROM clauses_bm25 ORDER BY rowid").fetchall()
    hidden = db.execute(
        "SELECT c.id FROM doc_status s CROSS JOIN clauses c ON c.doc_id = s.doc_id"
        " WHERE s.superseded_by IS NOT NULL"
    ).fetchall()
    db.close()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, [r[1] for r in rows], np.sort(np.array([r[0] for r in hidden], dtype=np.int64))


def scaled_postings(n: int, ids: np.ndarray, texts: list[str]) -> Postings:
    """Postings of n rows: the real ones, then copies with DROP of their words left out."""
    cached = CACHE / f"postings-{n}.npz"
    if cached.exists():
        return Postings.load(cached)
    rng = np.random.default_rng(0)
    all_ids, all_texts = list(ids[:n]), list(texts[:n])
    next_id = int(ids.max()) + 1
    while len(all_texts) < n:
        source = texts[len(all_texts) % len(texts)].split()
        kept = rng.random(len(source)) >= DROP
        all_texts.append(" ".join(w for w, keep in zip(source, kept, strict=True) if keep))
        all_ids.append(next_id)
        next_id += 1
    started = time.perf_counter()
    postings = Postings.build(np.array(all_ids, dtype=np.int64), all_texts)
    print(f"built {n:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    postings.save(cached)
    return postings


def queries() -> list[str]:
    stard = json.loads((SHARED / "benchmarks/stard/dev.json").read_text())
    found = [bm25_match(q["问题"]) for q in stard[:300]]
    return [m for m in found if m]


def timed(call, repeat: int) -> tuple[float, float, object]:
    """(best CPU seconds of this thread, best wall seconds, the result)."""
    cpu, wall = [], []
    for _ in range(repeat):
        started_cpu, started = time.thread_time(), time.perf_counter()
        result = call()
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return min(cpu), min(wall), result


def measure(index: LexicalIndex, matches: list[str], repeat: int) -> dict:
    """Both scorers over every query: p50/p95, the rows where they differ, per-query detail."""
    segment = index.segments[0]
    rows = len(index)
    index.search(matches[0], TOP)  # compiles or loads the kernels; the first bounds
    detail = []
    for match in matches:
        terms = [p[0] for p in phrases(match)]
        df = [int(segment.index.term(t)[0].shape[0]) for t in terms]
        fast = timed(lambda m=match: index.search(m, TOP), repeat)
        full = timed(lambda m=match: index.search(m, TOP, exhaustive=True), repeat)
        detail.append({
            "terms": len(terms), "common": sum(d > COMMON * rows for d in df),
            "postings": sum(df), "fast_cpu": fast[0], "fast_wall": fast[1],
            "full_cpu": full[0], "full_wall": full[1], "same": fast[2] == full[2],
        })  # fmt: skip
    out = {"rows": rows, "postings": len(segment.index.rows), "queries": len(detail),
           "different": sum(not d["same"] for d in detail)}  # fmt: skip
    for key in ("fast_cpu", "fast_wall", "full_cpu", "full_wall"):
        values = [d[key] for d in detail]
        out[key] = {f"p{p}_ms": round(1e3 * float(np.percentile(values, p)), 3) for p in (50, 95)}
    out["by_common_terms"] = by_common(detail)
    out["slowest_fast"] = sorted(detail, key=lambda d: -d["fast_cpu"])[:5]
    return out


def by_common(detail: list[dict]) -> list[dict]:
    """Per count of common terms in the query: queries, median speed-up, median CPU ms."""
    groups: dict[int, list[dict]] = {}
    for d in detail:
        groups.setdefault(min(d["common"], 6), []).append(d)
    return [{
        "common_terms": f"{c}+" if c == 6 else c, "queries": len(g),
        "median_terms": float(np.median([d["terms"] for d in g])),
        "median_postings": int(np.median([d["postings"] for d in g])),
        "median_speedup": round(float(np.median([d["full_cpu"] / d["fast_cpu"] for d in g])), 1),
        "fast_cpu_p50_ms": round(1e3 * float(np.median([d["fast_cpu"] for d in g])), 3),
        "full_cpu_p50_ms": round(1e3 * float(np.median([d["full_cpu"] for d in g])), 3),
    } for c, g in sorted(groups.items())]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150_153, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    ids, texts, hidden = stard_rows()
    matches = queries()
    results = {"machine": f"{platform.processor() or platform.machine()}, 2 cores"}
    for n in args.sizes:
        postings = scaled_postings(n, ids, texts)
        index = LexicalIndex([Segment("", postings, np.zeros(0, dtype=np.int64))], hidden=hidden)
        started = time.thread_time()
        index.statistics  # noqa: B018 - N, avgdl, norms, the hidden mask
        stats_s = time.thread_time() - started
        started = time.thread_time()
        index.search(matches[0], TOP)
        first_s = time.thread_time() - started
        results[str(n)] = {"statistics_cpu_s": round(stats_s, 3),
                           "first_query_cpu_s": round(first_s, 3),  # bounds (+ JIT or cache load)
                           **measure(index, matches, args.repeat)}  # fmt: skip
        print(json.dumps(results[str(n)], ensure_ascii=False, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
