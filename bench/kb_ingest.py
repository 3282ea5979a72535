"""Benchmark: ingest a corpus (default ../shared/corpora/lawrefbook) into a fresh KB.

Reports documents/s and clauses/s for parsing, embedding and indexing separately; the
model's own share of the embedding stage (the pipeline around it should add ≤ 10%); peak
memory; KB size on disk; and search latency p50/p95 over 200 queries for dense, BM25 and
hybrid search at that size.

    python bench/kb_ingest.py [FOLDER] [--sample N] [--kb DIR] [--fake-encoder]

--fake-encoder swaps the model for tests/fake_encoder.py's hashed bigrams: every stage but the
model runs for real (parse, windows and the vector cache, SQLite, FTS5, both indexes, links),
so the whole corpus fits in a session; the model's share is then the windows embedded over a
rate measured with the real model. Dense and hybrid latency mean nothing then and are skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ is not installed: its FakeEncoder is read from here

from api.cli import expand_paths  # noqa: E402
from index.encoder import load_encoder  # noqa: E402
from index.kb import KnowledgeBase  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.windows import sentences  # noqa: E402
from tests.fake_encoder import FakeEncoder  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "lawrefbook"
QUERIES = 200


class TimedEncoder:
    """Wraps an encoder and adds up the seconds spent inside the model."""

    def __init__(self, encoder):
        self.encoder, self.seconds = encoder, 0.0
        self.name, self.dim = encoder.name, encoder.dim
        self.backend = getattr(encoder, "backend", "fake")
        self.precision = getattr(encoder, "precision", "fp32")

    def encode_queries(self, texts):
        return self.encoder.encode_queries(texts)

    def encode_passages(self, texts, progress=None):
        start = time.perf_counter()
        vectors = self.encoder.encode_passages(texts, progress)
        self.seconds += time.perf_counter() - start
        return vectors


def sample_files(folder: Path, sample: int) -> list[Path]:
    """All files, or ``sample`` of them spread evenly over the sorted list (every k-th)."""
    files = [f for f in expand_paths([folder]) if f.name != "_index.md"]
    if sample and sample < len(files):
        step = len(files) / sample
        files = [files[int(i * step)] for i in range(sample)]
    return files


def bench_queries(kb: KnowledgeBase, count: int) -> list[str]:
    """Queries drawn from the KB itself: a phrase of 6–20 characters from random clauses."""
    rng = random.Random(7)
    rows = kb.store.db.execute("SELECT text FROM clauses ORDER BY random() LIMIT ?", (count * 3,))
    queries = []
    for (text,) in rows:
        spans = sentences(text)
        if spans:
            span = rng.choice(spans)
            queries.append(text[span.start : span.end][: rng.randint(6, 20)].strip())
    return [q for q in queries if q][:count]


def latency(searcher: Searcher, queries: list[str], mode: str) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    searcher.search(queries[0], 10, mode=mode)  # warm-up
    times = []
    for query in queries:
        start = time.perf_counter()
        searcher.search(query, 10, mode=mode)
        times.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[94]


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--sample", type=int, default=0, help="N files spread over the corpus")
    parser.add_argument("--kb", type=Path, help="KB folder (default: a fresh temporary one)")
    parser.add_argument("--fake-encoder", action="store_true", help="every stage but the model")
    args = parser.parse_args()
    files = sample_files(args.folder, args.sample)
    folder = args.kb or Path(tempfile.mkdtemp(prefix="policykb-bench-"))
    encoder = TimedEncoder(FakeEncoder() if args.fake_encoder else load_encoder())
    kb = KnowledgeBase(folder, encoder=encoder)
    start = time.perf_counter()
    report = kb.ingest(files)
    total = time.perf_counter() - start
    docs = len(report.added) + len(report.updated)
    windows = report.windows_embedded
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
          f" python {platform.python_version()}")  # fmt: skip
    print(f"corpus: {args.folder} ({len(files)} files), KB: {folder}")
    print(f"documents: {docs} ingested, {len(report.failed)} refused;"
          f" clauses: {report.clauses}; windows embedded: {windows}")  # fmt: skip
    for stage in ("parse", "embed", "index", "links"):
        seconds = report.seconds[stage]
        print(f"{stage}: {seconds:.1f} s ({docs / seconds:.1f} docs/s,"
              f" {report.clauses / seconds:.0f} clauses/s)")  # fmt: skip
    overhead = total - encoder.seconds - report.seconds["parse"]
    print(f"model: {encoder.seconds:.1f} s ({windows / encoder.seconds:.1f} windows/s);"
          f" pipeline around the model (embed + index stages minus model): {overhead:.1f} s"
          f" = {100 * overhead / encoder.seconds:.1f}% of model time")  # fmt: skip
    print(f"total ingest: {total:.1f} s, of which links {report.seconds['links']:.1f} s"
          f" ({kb.store.db.execute('SELECT count(*) FROM clause_links').fetchone()[0]}"
          " clause links stored)")  # fmt: skip
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    kb.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(f"KB size on disk: {folder_mb(folder):.1f} MB")
    queries = bench_queries(kb, QUERIES)
    searcher = Searcher(kb)
    for mode in ("bm25",) if args.fake_encoder else ("dense", "bm25", "hybrid"):
        p50, p95 = latency(searcher, queries, mode)
        print(f"search {mode}: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(queries)} queries")


if __name__ == "__main__":
    main()
