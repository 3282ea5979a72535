"""Benchmark: how long the web page takes to render, page by page, over a built KB.

Requests go through the real app in-process (no network), so the figures are server time:
search (the eval queries), document, clause, unit and targets pages. Reports p50/p95 and the
size of the HTML sent.

    python bench/web_pages.py --kb DIR [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from index.kb import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = 30  # pages of each kind


def page_paths(kb: KnowledgeBase, rng: random.Random) -> dict[str, list[str]]:
    """Up to SAMPLE paths of each page kind, drawn from what the KB holds."""
    lines = (ROOT / "tests/eval/queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["text"] for line in lines]
    docs = [d.doc_id for d in kb.documents()]
    clauses = [c.clause_id for d in rng.sample(docs, min(len(docs), SAMPLE)) for c in kb.clauses(d)]
    units = [u.unit_id for u in kb.owners.units()]

    def pick(items: list[str]) -> list[str]:
        return rng.sample(items, min(len(items), SAMPLE))

    return {
        "search": [f"/?q={q}" for q in pick(queries)],
        "document": [f"/ui/documents/{d}" for d in pick(docs)],
        "clause": [f"/ui/clauses/{c}" for c in pick(clauses)],
        "unit": [f"/ui/units/{u}" for u in pick(units)],
        "targets": ["/ui/targets"],
    }


def measure(client: TestClient, paths: list[str], repeat: int) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for _ in range(repeat):
        for path in paths:
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            sizes.append(len(response.content))
            response.raise_for_status()
    return times, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, required=True, help="a KB folder (policykb ingest)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kb = KnowledgeBase(args.kb)
    paths = page_paths(kb, random.Random(7))
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}; KB {args.kb}: "
          f"{kb.stats()}")  # fmt: skip
    print("| page | pages | p50 ms | p95 ms | HTML KB (median) |\n| --- | --- | --- | --- | --- |")
    with TestClient(create_app(kb=kb)) as client:
        client.get("/?q=预热")  # the model's first call is not a page's cost
        for kind, kind_paths in paths.items():
            times, sizes = measure(client, kind_paths, args.repeat)
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
            print(f"| {kind} | {len(kind_paths)} | {statistics.median(times):.1f} | {p95:.1f} |"
                  f" {statistics.median(sizes) / 1024:.0f} |")  # fmt: skip
    kb.close()


if __name__ == "__main__":
    main()
