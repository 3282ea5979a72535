"""Benchmark: the same files ingested locally and through Ray (1 and 2 actors, a local instance).

For each ingest: its stages' wall time; Ray's fixed cost (joining, actors loading the model)
apart from its steady rate; the CPU seconds the embedding used (this process's for the local
path, the actors' own for Ray, read from /proc), which give windows per CPU-second even when
other jobs share the machine; the vectors' agreement with the local ingest; and a projection
of the time to embed 10M clauses on N CPU or GPU actors from the measured per-actor rate.

    python bench/ray_embed.py [FOLDER] [--sample N] [--batch-size B] [--gpu-rate R]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from api.cli import expand_paths
from index.embedding import Embedder, KbModel, LocalEmbedder
from index.kb import EMBED_CHUNK, IngestReport, KnowledgeBase
from index.ray_embedding import RayConfig, RayEmbedder

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "lawrefbook"
CLAUSES_TO_PROJECT = 10_000_000
ACTOR_TITLE = b"ray::MapWorker(MapBatches(PassageEncoder))"
TICKS = os.sysconf("SC_CLK_TCK")


class ActorCpu:
    """Adds up the CPU seconds of the embedding actors on this machine, polled from /proc."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ActorCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            for entry in Path("/proc").iterdir():
                try:
                    if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(
                        ACTOR_TITLE
                    ):
                        fields = (entry / "stat").read_text().rpartition(")")[2].split()
                        self.seen[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
                except OSError:
                    continue


@dataclass
class TimedEmbedder:
    """Wraps an embedder: when each chunk of vectors comes back, and this process's CPU time."""

    inner: Embedder
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (seconds, texts)
    cpu: float = 0.0

    def embed(self, texts: Mapping[str, str], model: KbModel) -> Iterator[dict[str, np.ndarray]]:
        started, cpu = time.perf_counter(), time.process_time()
        for chunk in self.inner.embed(texts, model):
            self.arrivals.append((time.perf_counter() - started, len(chunk)))
            yield chunk
        self.cpu = time.process_time() - cpu

    def first_and_steady(self) -> tuple[float, float]:
        """Seconds to the first vectors (actors up, model loaded), then texts/s after it."""
        first, done = self.arrivals[0][0], sum(n for _, n in self.arrivals[1:])
        last = self.arrivals[-1][0]
        return first, done / (last - first) if last > first else float("nan")


@dataclass
class Run:
    """One ingest of the files into a fresh KB, timed."""

    label: str
    kb: KnowledgeBase
    report: IngestReport
    seconds: float
    cpu: float  # CPU seconds of the embedding: this process (local) or the actors (Ray)
    actors: int = 0  # 0: the local path
    connect: float = 0.0
    first: float = float("nan")
    steady: float = float("nan")
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    min_cosine: float = 1.0

    @property
    def per_cpu_second(self) -> float:
        return self.report.windows_embedded / self.cpu


def sample_files(folder: Path, sample: int) -> list[Path]:
    """``sample`` files spread evenly over the sorted corpus (every k-th), as kb_ingest.py."""
    files = [f for f in expand_paths([folder]) if f.name != "_index.md"]
    step = len(files) / sample if sample and sample < len(files) else 1
    return [files[int(i * step)] for i in range(min(sample or len(files), len(files)))]


def ingest_locally(files: list[Path], folder: Path) -> Run:
    kb, load = KnowledgeBase(folder), os.getloadavg()[0]
    kb.encoder  # noqa: B018 - the model loads before the clock starts, as on an actor
    timed = TimedEmbedder(LocalEmbedder(EMBED_CHUNK))
    started = time.perf_counter()
    report = kb.ingest(files, embedder=timed)
    run = Run("local, 2 threads", kb, report, time.perf_counter() - started, timed.cpu)
    run.load = (load, os.getloadavg()[0])
    return run


def ingest_on_ray(files: list[Path], folder: Path, actors: int, batch_size: int) -> Run:
    kb, load = KnowledgeBase(folder), os.getloadavg()[0]
    started = time.perf_counter()
    with RayEmbedder(RayConfig(None, actors, batch_size)) as embedder, ActorCpu() as cpu:
        connect = time.perf_counter() - started
        timed = TimedEmbedder(embedder)
        report = kb.ingest(files, embedder=timed)
    label = f"Ray, {actors} actor{'s' if actors > 1 else ''} × 1 CPU"
    run = Run(label, kb, report, time.perf_counter() - started, cpu.seconds, actors, connect)
    run.first, run.steady = timed.first_and_steady()
    run.load = (load, os.getloadavg()[0])
    return run


def min_cosine(kb: KnowledgeBase, local: KnowledgeBase) -> float:
    """The lowest cosine between a window's vector in ``kb`` and in the local KB."""
    lowest = 1.0
    for doc in local.documents():
        ids = local.store.window_ids(doc.doc_id)
        assert kb.store.window_ids(doc.doc_id) == ids, doc.doc_id
        cosines = np.sum(kb.store.vectors_of(ids) * local.store.vectors_of(ids), axis=1)
        lowest = min(lowest, float(cosines.min()))
    return lowest


def print_runs(runs: list[Run]) -> None:
    print(
        "| run | windows | embed s (wall) | total s | join s | first vectors s |"
        " steady windows/s (wall) | embedding CPU s | windows per CPU-s | min cosine | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run in runs:
        print(f"| {run.label} | {run.report.windows_embedded:,} |"
              f" {run.report.seconds['embed']:.1f} | {run.seconds:.1f} | {run.connect:.1f} |"
              f" {run.first:.1f} | {run.steady:.1f} | {run.cpu:.1f} |"
              f" {run.per_cpu_second:.1f} | {run.min_cosine:.5f} |"
              f" {run.load[0]:.1f}→{run.load[1]:.1f} |")  # fmt: skip


def print_projection(per_actor: float, windows_per_clause: float, gpu_rate: float) -> None:
    windows = CLAUSES_TO_PROJECT * windows_per_clause
    rates = f"{per_actor:.1f} windows/s per CPU actor, {gpu_rate:.0f} per GPU actor (assumed)"
    print(f"\n10M clauses ≈ {windows:,.0f} windows ({windows_per_clause:.3f} a clause); {rates}")
    print("| actors | CPU actors (1 core each) | GPU actors |")
    print("| --- | --- | --- |")
    for n in (1, 8, 32, 128, 512):
        cpu, gpu = windows / (per_actor * n), windows / (gpu_rate * n)
        print(f"| {n} | {_duration(cpu)} | {_duration(gpu)} |")


def _duration(seconds: float) -> str:
    if seconds >= 48 * 3600:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--sample", type=int, default=20, help="files, spread over the corpus")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per Ray batch")
    parser.add_argument("--gpu-rate", type=float, default=1000.0,
                        help="windows/s of one GPU actor: an assumption, no GPU here")  # fmt: skip
    args = parser.parse_args()
    files = sample_files(args.folder, args.sample)
    print(f"{platform.machine()}, {os.cpu_count()} cores; {len(files)} files of {args.folder};"
          f" Ray batch size {args.batch_size}")  # fmt: skip
    with tempfile.TemporaryDirectory() as temp:
        local = ingest_locally(files, Path(temp) / "local")
        runs = [local]
        for actors in (1, 2):
            run = ingest_on_ray(files, Path(temp) / f"ray{actors}", actors, args.batch_size)
            run.min_cosine = min_cosine(run.kb, local.kb)
            runs.append(run)
        print_runs(runs)
    per_actor = min(run.per_cpu_second for run in runs[1:])
    ratio = local.report.windows_embedded / max(1, local.report.clauses)
    print_projection(per_actor, ratio, args.gpu_rate)


if __name__ == "__main__":
    main()
