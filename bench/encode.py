"""Benchmark: the embedding backends on real clauses (corpus/ and ../shared/corpora/lawrefbook).

For each backend: passages/s (wall clock, and per CPU-second: the machine may be shared),
query encoding p50/p95 in ms, and the cosine of its vectors to torch fp32 (min and mean).

    python bench/encode.py [--texts N] [--queries N] [--backends torch,openvino]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np

from index.encoders import BACKENDS, load_encoder
from index.windows import windows
from ingest.pipeline import parse_file
from ingest.readers.base import IngestError

ROOT = Path(__file__).resolve().parent.parent
LAWREF = ROOT.parent / "shared" / "corpora" / "lawrefbook"


def real_texts(count: int, seed: int = 0) -> list[str]:
    """``count`` window texts (what the KB embeds) from corpus/ and lawrefbook files."""
    files = sorted((ROOT / "corpus").glob("*.txt"))
    law = sorted(p for p in LAWREF.rglob("*.md") if p.name != "_index.md")
    rng = random.Random(seed)
    files += rng.sample(law, min(60, len(law)))
    texts = []
    for path in files:
        try:
            clauses = parse_file(path).clauses
        except IngestError:
            continue
        texts += [c.text[s.start : s.end] for c in clauses for s in windows(c.text)]
    return rng.sample(texts, min(count, len(texts)))


def measure(backend: str, texts: list[str], queries: list[str]) -> tuple[dict, np.ndarray]:
    """Rates, query latency and the passage vectors of one backend."""
    encoder = load_encoder(backend=backend)
    encoder.encode_passages(texts[:32])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = encoder.encode_passages(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies = []
    for query in queries:
        start = time.perf_counter()
        encoder.encode_queries([query])
        latencies.append((time.perf_counter() - start) * 1000)
    figures = {
        "per_s": len(texts) / wall,
        "per_cpu_s": len(texts) / cpu,
        "query_p50": statistics.median(latencies),
        "query_p95": float(np.percentile(latencies, 95)),
    }
    return figures, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args()
    texts = real_texts(args.texts)
    rng = random.Random(1)
    queries = [t[: rng.randint(6, 20)] for t in texts[: args.queries]]
    chars = statistics.mean(len(t) for t in texts)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs,"
          f" load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{len(texts)} real window texts (mean {chars:.0f} chars), {len(queries)} queries")
    reference = None
    for backend in args.backends.split(","):
        figures, vectors = measure(backend, texts, queries)
        if reference is None and backend == "torch":
            reference = vectors
        cosine = (vectors * reference).sum(axis=1) if reference is not None else None
        close = f"cosine to fp32 min {cosine.min():.4f} mean {cosine.mean():.4f}" if (
            cosine is not None) else "no fp32 reference"  # fmt: skip
        print(f"{backend:>8} ({BACKENDS[backend]}): {figures['per_s']:6.1f} passages/s"
              f" ({figures['per_cpu_s']:.1f} per CPU-s), query p50 {figures['query_p50']:.1f} ms"
              f" p95 {figures['query_p95']:.1f} ms, {close}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
