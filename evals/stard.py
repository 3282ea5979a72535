"""STARD (THUIR): lay legal questions against lawrefbook's national laws, through our search.

``python -m evals.stard --kb DIR [--split validation]`` (``make eval-stard``) runs the
questions of ../shared/benchmarks/stard/dev.json through ``Searcher`` in dense, BM25 and
hybrid mode and prints Recall@10, Recall@100 and MRR@10 for each; with ``--out DIR`` it writes
queries.jsonl, qrels.trec, one run file per mode and metrics.json (BEIR/pyserini layout).
A mode ``hybrid@w0.7k30`` is hybrid with another fusion: dense weight 0.7, BM25 0.3, RRF k 30.

The unit judged is the article. STARD labels an article by name (中华人民共和国民法典第五十四条);
a search hit is a clause, which may be a 款 or 项 under an article, so each hit is mapped up
to its article and an article counts once, at its best rank. Both sides are keyed
``law#number`` (see ``law_key`` and ``article_number``); the rule is written up in docs/stard.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import index.search as search
from evals.metrics import Qrels, Query, Run, score, write_qrels, write_queries, write_run
from index.filters import Filters
from index.kb import KnowledgeBase
from index.search import Searcher, SearchHit
from ingest.numbering import cn_to_int
from ingest.text import normalize

STARD = Path("../shared/benchmarks/stard")
MODES = ("dense", "bm25", "hybrid")
SPLIT_SEED = 20261128
VALIDATION_SHARE = 0.3
CLAUSES = 200  # clauses asked of the search per query: enough for 100 distinct articles
# Every version is searched: STARD names articles by law and number, whatever the version.
EVERY_VERSION = Filters(status="all")
TIMED = 100  # queries also timed as a user runs them (top 10, hits built)

_FUSED = re.compile(r"^hybrid@w([01](?:\.\d+)?)k(\d+)$")
_ARTICLE = re.compile(r"第([零〇一二两三四五六七八九十百千\d]+)条(?:之([一二三四五六七八九十]+))?")
_NAME = re.compile(rf"^(.*?){_ARTICLE.pattern}$")
_DROP = re.compile(r"中华人民共和国|[《》〈〉\"“”、，,·\s]")


def law_key(title: str) -> str:
    """A law's title as matched: NFKC, without 中华人民共和国, book-title marks, 、 and spaces.

    STARD writes 最高人民法院关于适用《民事诉讼法》的解释 where lawrefbook has 《中华人民共和国
    民事诉讼法》, and 最高人民法院、最高人民检察院 where lawrefbook may have a space.
    """
    return _DROP.sub("", normalize(title))


def article_number(numeral: str, suffix: str | None = None) -> str | None:
    """54 for 五十四, 133-1 for 一百三十三 with 之一."""
    value = cn_to_int(numeral)
    if value is None:
        return None
    extra = cn_to_int(suffix) if suffix else None
    return f"{value}-{extra}" if extra else str(value)


def name_key(name: str) -> str | None:
    """STARD's article name (劳动合同法第三十九条) as ``law#number``; None if it is not one."""
    match = _NAME.match(normalize(name).strip())
    if not match:
        return None
    number = article_number(match.group(2), match.group(3))
    return f"{law_key(match.group(1))}#{number}" if number else None


def hit_article(label: str, path: list[str]) -> str | None:
    """The article number a clause belongs to: its own label, else the nearest 第N条 above it."""
    for text in [label, *reversed(path)]:
        match = _ARTICLE.match(normalize(text or ""))
        if match:
            return article_number(match.group(1), match.group(2))
    return None


def hit_key(hit: SearchHit) -> str:
    """``law#number`` of the hit's article; a clause outside any article keys as itself."""
    number = hit_article(hit.label, hit.path)
    return f"{law_key(hit.doc_title)}#{number}" if number else f"clause:{hit.clause_id}"


def article_run(hits: list[SearchHit]) -> list[str]:
    """Hits mapped up to their articles, each article once at its best rank."""
    return list(dict.fromkeys(hit_key(h) for h in hits))


@dataclass(frozen=True)
class StardQuery:
    query_id: str
    text: str
    articles: frozenset[str]


def load(path: Path) -> list[StardQuery]:
    """STARD queries with their labelled articles as ``law#number`` keys."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    queries = []
    for row in rows:
        keys = {name_key(name) for name in row["match_name"]}
        queries.append(StardQuery(str(row["query_id"]), row["问题"], frozenset(keys - {None})))
    return queries


def split_order(queries: list[StardQuery], seed: int = SPLIT_SEED) -> list[str]:
    """The query ids, sorted, then shuffled with a fixed seed: the order the split cuts."""
    ids = sorted(q.query_id for q in queries)
    random.Random(seed).shuffle(ids)
    return ids


def split(queries: list[StardQuery], seed: int = SPLIT_SEED) -> dict[str, str]:
    """query id → "train" or "validation": a fixed shuffle, VALIDATION_SHARE held out."""
    ids = split_order(queries, seed)
    held = round(len(ids) * VALIDATION_SHARE)
    return {q: "validation" if n < held else "train" for n, q in enumerate(ids)}


def part_of(stard: Path, part: str) -> list[StardQuery]:
    """The questions of one part ("train" or "validation") of our split of ``stard``/dev.json."""
    queries = load(stard / "dev.json")
    parts = split(queries)
    return [q for q in queries if parts[q.query_id] == part]


def qrels_of(queries: list[StardQuery]) -> Qrels:
    return {q.query_id: set(q.articles) for q in queries}


def article_keys(kb: KnowledgeBase) -> dict[int, str]:
    """clauses.id → ``law#number`` of its article (or ``clause:ID`` outside any article)."""
    rows = kb.store.db.execute(
        "SELECT c.id, c.clause_id, c.label, c.path, d.title FROM clauses c"
        " JOIN documents d USING (doc_id)"
    )
    keys = {}
    for row_id, clause_id, label, path, title in rows:
        number = hit_article(label, json.loads(path))
        keys[row_id] = f"{law_key(title)}#{number}" if number else f"clause:{clause_id}"
    return keys


def run_mode(
    searcher: Searcher,
    keys: dict[int, str],
    queries: list[StardQuery],
    mode: str,
    clauses: int = CLAUSES,
) -> tuple[Run, list[float]]:
    """The article run of one mode, and the wall time of each ranking in milliseconds."""
    run, times = {}, []
    for q in queries:
        started = time.perf_counter()
        ranked = searcher.ranking(q.text, clauses, EVERY_VERSION, mode)
        times.append((time.perf_counter() - started) * 1000)
        run[q.query_id] = list(dict.fromkeys(keys[c] for c in ranked))[:100]
    return run, times


@contextmanager
def searched_as(mode: str) -> Iterator[str]:
    """The search mode behind an eval mode; for ``hybrid@wWkK``, hybrid with FUSION_WEIGHTS
    dense 2W and BM25 2(1 - W) (they sum to 2, as shipped) and RRF_K K while the run lasts."""
    fused = _FUSED.match(mode)
    if not fused:
        yield mode
        return
    shipped = search.FUSION_WEIGHTS, search.RRF_K
    weight = float(fused.group(1))
    search.FUSION_WEIGHTS = {"dense": 2 * weight, "bm25": 2 * (1 - weight)}
    search.RRF_K = int(fused.group(2))
    try:
        yield "hybrid"
    finally:
        search.FUSION_WEIGHTS, search.RRF_K = shipped


def search_times(searcher: Searcher, queries: list[StardQuery], mode: str) -> list[float]:
    """Wall time in milliseconds of the search a user runs: the top 10 hits, highlights built."""
    times = []
    for q in queries:
        started = time.perf_counter()
        searcher.search(q.text, 10, EVERY_VERSION, mode)
        times.append((time.perf_counter() - started) * 1000)
    return times


def latency(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
    }


def evaluate(
    kb_dir: Path,
    queries: list[StardQuery],
    modes=MODES,
    out: Path | None = None,
    timed: int = TIMED,
    adapter: Path | None = None,
) -> dict:
    """{mode: metrics and latency} over ``queries``; files written to ``out`` when given;
    ``adapter``: a query adapter file the dense side applies (training/query_adapter.py)."""
    kb = KnowledgeBase(kb_dir, query_adapter=adapter)
    searcher, keys = Searcher(kb), article_keys(kb)
    warm = "bm25" if set(modes) == {"bm25"} else "dense"
    searcher.search(queries[0].text, 10, mode=warm)  # loads the model outside the clock
    qrels = qrels_of(queries)
    results = {}
    for mode in modes:
        with searched_as(mode) as searched:
            run, times = run_mode(searcher, keys, queries, searched)
            user = search_times(searcher, queries[:timed], searched)
        results[mode] = {**score(run, qrels), **latency(user), "queries": len(queries)}
        results[mode]["ranking_200_p95_ms"] = latency(times)["p95_ms"]
        if out:
            write_run(out / f"run.{mode}.trec", run, f"policykb-{mode}")
    return results


def format_table(results: dict) -> str:
    lines = ["| mode | R@10 | R@100 | MRR@10 | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for mode, m in results.items():
        lines.append(
            f"| {mode} | {m['R@10']:.3f} | {m['R@100']:.3f} | {m['MRR@10']:.3f} |"
            f" {m['p50_ms']:.0f} | {m['p95_ms']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--stard", type=Path, default=STARD)
    parser.add_argument(
        "--split", choices=("validation", "train", "dev", "test"), default="validation",
        help="validation/train: our split of dev.json; dev: all of it; test: test.json",
    )  # fmt: skip
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", type=Path, help="folder for queries, qrels, runs and metrics")
    parser.add_argument("--adapter", type=Path, help="a query adapter file (make stard-adapter)")
    args = parser.parse_args()
    source = args.stard / ("test.json" if args.split == "test" else "dev.json")
    queries = load(source)
    parts = split(queries) if args.split != "test" else {q.query_id: "test" for q in queries}
    if args.split in ("validation", "train"):
        queries = [q for q in queries if parts[q.query_id] == args.split]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        listed = [Query(q.query_id, q.text) for q in queries]
        write_queries(args.out / "queries.jsonl", listed, parts)
        write_qrels(args.out / "qrels.trec", qrels_of(queries))
    modes = tuple(args.modes.split(","))
    results = evaluate(args.kb, queries, modes, args.out, adapter=args.adapter)
    adapter = str(args.adapter) if args.adapter else None
    if args.out:
        found = {"split": args.split, "adapter": adapter, "modes": results}
        (args.out / "metrics.json").write_text(json.dumps(found, indent=2) + "\n", "utf-8")
    shown = f", query adapter {adapter}" if adapter else ""
    print(f"STARD {args.split} ({len(queries)} queries{shown})")
    print(format_table(results))


if __name__ == "__main__":
    main()
