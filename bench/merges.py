"""Adding documents while a large merge is due: merges in the write (as `ingest` does) against
merges in the background (as `serve` does, index/merging.py).

A KB of real documents, lawrefbook's national laws, is laid out as one that grew by many
writes: ``--segments`` exact segments of about ``--windows`` windows in all, one ingest
each, so the next write makes one segment too many. Its vectors are real window vectors
(bench/scale.py's sample of corpus/ and lawrefbook, embedded once with the KB's model),
one picked and moved per text as bench/scale.py moves copies: the model's distribution
without embedding every window here. Two copies of that KB then get the same held-out laws,
one ``KnowledgeBase.ingest`` each, while a thread runs dense searches (real query vectors,
k = 300, as the searcher asks): in the write, the first add merges every segment into an
HNSW graph itself; in the background, each add merges only what stays exact and a thread
builds the graph. Printed: each add's wall seconds, each merge (where, rows, seconds),
search p50/p95 during the adds, and the segments at the end. One FAISS thread, as `serve`.

    .venv/bin/python bench/merges.py --windows 64000 --adds 20
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import CACHE, SHARED, ms, real_vectors  # noqa: E402

from evals.corpus import national_files  # noqa: E402
from index.encoder import Encoder  # noqa: E402
from index.kb import KnowledgeBase  # noqa: E402
from index.merging import MergeReport  # noqa: E402
from index.windows import windows as spans  # noqa: E402
from ingest.pipeline import parse_file  # noqa: E402
from ingest.readers.base import IngestError  # noqa: E402

OUT = CACHE / "merges"


class MovedSample(Encoder):
    """A real window vector per text, picked and moved by a generator seeded with the text:
    the same text always gets the same vector."""

    name = "bench-moved-sample"

    def __init__(self, real: np.ndarray):
        self.real, self.dim = real, real.shape[1]

    def _vector(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(int(hashlib.md5(text.encode()).hexdigest()[:12], 16))
        a, b, c = rng.integers(len(self.real), size=3)
        vector = self.real[a] + rng.uniform(0.2, 0.5) * (self.real[b] - self.real[c])
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def encode_passages(self, texts, progress=None):
        return np.vstack([self._vector(t) for t in texts])

    encode_queries = encode_passages


def laws(windows: int, adds: int) -> tuple[list[list[Path]], list[Path]]:
    """National laws in 8 batches, one segment each, of windows/128 × 1, 1, 2, 4, … 64: the
    geometric sizes tiered merging leaves, so one more segment merges all of them (the two
    smallest are equal, so any add tips it); and ``adds`` laws of 20–80 clauses held out."""
    sized, held, seen = [], [], set()
    for path in national_files(SHARED / "corpora" / "lawrefbook"):
        try:
            parsed = parse_file(path)
        except IngestError:
            continue
        if parsed.document.doc_id in seen:  # a law filed twice: ingest would refuse it
            continue
        seen.add(parsed.document.doc_id)
        clauses = parsed.clauses
        if len(held) < adds and 20 <= len(clauses) <= 80:
            held.append(path)
        else:
            sized.append((path, sum(len(spans(c.text)) for c in clauses)))
    unit = windows // 128
    batches = [_filled(sized, unit * size) for size in (1, 1, 2, 4, 8, 16, 32, 64)]
    return batches, held


def _filled(sized: list[tuple[Path, int]], target: int) -> list[Path]:
    """Laws taken from ``sized`` (removed from it) to hold exactly ``target`` windows, or as
    close below it as they come."""
    batch, size = [], 0
    for item in list(sized):
        if size + item[1] <= target:
            batch.append(item[0])
            size += item[1]
            sized.remove(item)
        if size == target:
            break
    return batch


def built(folder: Path, batches: list[list[Path]], encoder: Encoder) -> dict:
    """The KB of one ingest per batch: as many segments (no merge is due yet)."""
    shutil.rmtree(folder, ignore_errors=True)
    kb = KnowledgeBase(folder, encoder=encoder)
    started = time.perf_counter()
    for batch in batches:
        kb.ingest(batch)
    out = {"build_s": time.perf_counter() - started, "segments": layout(kb)} | kb.stats()
    kb.close()
    return out


def layout(kb: KnowledgeBase) -> list[tuple[str, int]]:
    return [(s.index.kind, s.live) for s in kb.vectors.segments]


def searching(kb: KnowledgeBase, queries: np.ndarray, stop: threading.Event, times: list):
    """Dense searches of the committed state, one after another, until ``stop``."""
    while not stop.is_set():
        for query in queries:
            started = time.perf_counter()
            with kb.reading() as snapshot:
                snapshot.vectors.search(query, 300)
            times.append(time.perf_counter() - started)
            if stop.is_set():
                break


def adding(folder: Path, held: list[Path], encoder, queries, background: bool) -> dict:
    """The held-out laws added one ingest at a time to a copy of the KB, searches alongside."""
    copy = folder.with_name(folder.name + ("-background" if background else "-inline"))
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    kb = KnowledgeBase(copy, encoder=encoder, background_merges=background)
    kb.warm()
    merges = _recorded(kb) if background else []
    stop, search_times = threading.Event(), []
    searcher = threading.Thread(target=searching, args=(kb, queries, stop, search_times))
    searcher.start()
    adds = []
    for path in held:
        started = time.perf_counter()
        report = kb.ingest([path])
        adds.append(
            {
                "s": time.perf_counter() - started,
                "segments": len(kb.vectors.segments),
                "index_s": report.seconds["index"],
                "links_s": report.seconds["links"],
            }
        )
    waited = time.perf_counter()
    if background:
        kb.merger.wait()
    waited = time.perf_counter() - waited
    stop.set()
    searcher.join()
    out = {"mode": "background" if background else "inline", "adds": adds,
           "add_s": ms([a["s"] for a in adds], ""), "merges": merges,
           "wait_after_adds_s": waited, "search": ms(search_times, ""),
           "searches": len(search_times), "end": layout(kb)}  # fmt: skip
    kb.close()
    shutil.rmtree(copy, ignore_errors=True)
    return out


def _recorded(kb: KnowledgeBase) -> list[dict]:
    """Each background merge's report, recorded as the thread makes it."""
    merges, merge = [], kb.merge

    def recording() -> MergeReport:
        report = merge()
        if report.merged:
            merges.append(vars(report).copy())
        return report

    kb.merger._merge = recording
    return merges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=64_000, help="windows of the KB")
    parser.add_argument("--adds", type=int, default=20, help="laws added one at a time")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    real, queries = real_vectors(4000, 400)
    encoder = MovedSample(real)
    batches, held = laws(args.windows, args.adds)
    folder = OUT / "kb"
    print(json.dumps({"cores": os.cpu_count(), "load": os.getloadavg()[0]}
                     | built(folder, batches, encoder)), flush=True)  # fmt: skip
    for background in (False, True):
        print(json.dumps(adding(folder, held, encoder, queries, background)), flush=True)


if __name__ == "__main__":
    main()
