"""Benchmark: the write path of adding (and removing) one document, at growing KB sizes.

lawrefbook's files (national laws and DLC's local regulations) in a fixed shuffled order are
ingested through KnowledgeBase.ingest in batches until the KB holds about N documents; then
held-out real documents are added one at a time and removed again, and the seconds spent in
versions.refresh and Linker.refresh are timed apart from the whole ingest; before them, one
versions.refresh(full=True) (every document, as before refreshes were incremental). **The
encoder is tests/fake_encoder.py's** (hashed bigrams): this measures the write path beyond
embedding, not the model.

Links: while the KB grows, Linker.refresh computes no clause links (those of the bulk documents
are left out: at about one second per relinked document, growing would take hours). When a
document is added or removed, Linker.refresh runs for real, except that of the documents it
relinks only the first LINK_SAMPLE (``--link-sample``) are computed; the rest are counted, and
``links_est_s`` adds their count times the sampled seconds per document.

    nice -n 10 .venv/bin/python bench/add_document.py [--sizes 400 1500 3500] [--kb DIR]
        [--link-sample N] [--rounds N] [--warm]

``--warm`` calls ``KnowledgeBase.warm()`` before the first change, as a server does at start:
the first change then measures what a server's first upload waits for.

A KB grown before is reused as it is when ``--kb`` names a copy of it and ``--sizes`` its
document count (a larger size re-reads the bulk files from the first before it adds new ones,
which is slow); each run links documents the growth left unlinked: compare runs on fresh copies.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.cli import expand_paths  # noqa: E402
from index import kb as kb_module  # noqa: E402
from index import versions  # noqa: E402
from index.kb import KnowledgeBase  # noqa: E402
from index.links import Linker  # noqa: E402
from tests.fake_encoder import FakeEncoder  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "lawrefbook"
BATCH = 100  # files per ingest while growing the KB
# Held out of the bulk and added one at a time: a law with an older version in the KB, a
# law without one, a local regulation.
HELD = ("经济法/会计法(2024-06-28).md", "行政法/行政许可法(2019-04-23).md")
LINK_SAMPLE = 3  # documents relinked for real per change; the others are counted


class Timed:
    """Adds up the seconds spent in one function it replaces (``patch``/``restore``)."""

    def __init__(self, owner, name: str):
        self.owner, self.name, self.seconds = owner, name, 0.0
        self.inner = getattr(owner, name)

    def patch(self) -> None:
        inner = self.inner

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        setattr(self.owner, self.name, timed)

    def take(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


class SampledRelinks:
    """Linker._clause_link_rows run for the first ``limit`` documents of a change; the
    others are counted and get no rows (``active`` off: none run, as while growing)."""

    def __init__(self, limit: int = LINK_SAMPLE):
        self.inner, self.limit = Linker._clause_link_rows, limit
        self.active, self.count, self.sampled, self.seconds = False, 0, 0, 0.0
        sampler = self

        def rows(linker, doc, links):
            sampler.count += 1
            if not sampler.active or sampler.sampled >= sampler.limit:
                return []
            started = time.perf_counter()
            found = sampler.inner(linker, doc, links)
            sampler.seconds += time.perf_counter() - started
            sampler.sampled += 1
            return found

        Linker._clause_link_rows = rows

    def take(self, links_s: float) -> dict:
        """This change's relinks: counted, sampled, and the whole Linker.refresh estimated."""
        per_doc = self.seconds / self.sampled if self.sampled else 0.0
        out = {"relinked_docs": self.count, "relink_s_per_doc": per_doc,
               "links_est_s": links_s + (self.count - self.sampled) * per_doc}  # fmt: skip
        self.count, self.sampled, self.seconds = 0, 0, 0.0
        return out


def corpus_files(held: list[Path]) -> list[Path]:
    """Every lawrefbook file but the held-out ones, in a fixed shuffled order."""
    files = [f for f in expand_paths([CORPUS]) if f.name != "_index.md" and f not in held]
    random.Random(20261128).shuffle(files)
    return files


def grow(kb: KnowledgeBase, files: list[Path], target: int, done: int) -> int:
    """Ingest files from ``done`` on until the KB holds ``target`` documents."""
    while kb.stats()["documents"] < target and done < len(files):
        kb.ingest(files[done : done + BATCH])
        done += BATCH
    return done


def add_and_remove(kb: KnowledgeBase, held: list[Path], timers: tuple) -> list:
    """Each held-out file ingested alone, then removed: whole seconds and the two refreshes;
    ``add_cpu_s``: the process's CPU seconds in the add (every thread's; a figure less bent by
    a loaded machine than the wall clock)."""
    refresh, links, relinks = timers
    rows = []
    for path in held:
        refresh.take(), links.take(), relinks.take(0.0)
        started, cpu = time.perf_counter(), time.process_time()
        report = kb.ingest([path])
        added, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert len(report.added) == 1, report
        row = {"file": path.name, "clauses": report.clauses, "add_s": added, "add_cpu_s": cpu,
               "add_versions_s": refresh.take(), "add_links_s": links.take(),
               "add_stages_s": report.seconds}  # fmt: skip
        row |= {f"add_{k}": v for k, v in relinks.take(row["add_links_s"]).items()}
        started = time.perf_counter()
        kb.remove(report.added[0])
        row |= {"remove_s": time.perf_counter() - started,
                "remove_versions_s": refresh.take(), "remove_links_s": links.take()}  # fmt: skip
        row |= {f"remove_{k}": v for k, v in relinks.take(row["remove_links_s"]).items()}
        rows.append(row)
    return rows


def relink_seconds(rows: list[dict]) -> dict:
    """Seconds per relinked document: of the first change that relinked any (it pays the
    process's one-time costs: numba loading its kernels, cold caches), and the median of the
    later ones."""
    seconds = [r[f"{change}_relink_s_per_doc"] for r in rows for change in ("add", "remove")
               if r[f"{change}_relinked_docs"]]  # fmt: skip
    return {"relink_s_per_doc_first_change": seconds[0] if seconds else None,
            "relink_s_per_doc_later_median": statistics.median(seconds[1:]) if seconds[1:]
            else None}  # fmt: skip


def full_refresh(kb: KnowledgeBase, refresh: Timed) -> float | None:
    """Seconds of versions.refresh(full=True), every document recomputed (what each change
    cost before refreshes were incremental); None where refresh has no ``full``."""
    if "full" not in inspect.signature(refresh.inner).parameters:
        return None
    with kb.store.transaction():
        started = time.perf_counter()
        refresh.inner(kb.store, full=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[400, 1500, 3500])
    parser.add_argument("--kb", type=Path, help="KB folder (default: a temporary one)")
    parser.add_argument("--rounds", type=int, default=1, help="add/remove rounds per size")
    parser.add_argument(
        "--link-sample", type=int, default=LINK_SAMPLE,
        help="documents relinked for real per change; the others are estimated",
    )  # fmt: skip
    parser.add_argument("--warm", action="store_true", help="KnowledgeBase.warm() first")
    args = parser.parse_args()
    held = [CORPUS / h for h in HELD]
    held.append(next(f for f in expand_paths([CORPUS / "DLC"]) if f.name != "_index.md"))
    files = corpus_files(held)
    refresh, links = Timed(versions, "refresh"), Timed(Linker, "refresh")
    refresh.patch(), links.patch()
    relinks = SampledRelinks(args.link_sample)
    assert kb_module.versions.refresh is versions.refresh
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.kb or Path(scratch) / "kb"
        kb = KnowledgeBase(folder, encoder=FakeEncoder())
        done = 0
        print(json.dumps({"encoder": "FakeEncoder (tests/fake_encoder.py): write path only",
                          "cores": os.cpu_count()}), flush=True)  # fmt: skip
        for size in args.sizes:
            started = time.perf_counter()
            done = grow(kb, files, size, done)
            grown = time.perf_counter() - started
            full = full_refresh(kb, refresh)  # also brings an older KB's version keys in
            if args.warm:
                kb.warm()
            relinks.active = True
            rows = [r for _ in range(args.rounds)
                    for r in add_and_remove(kb, held, (refresh, links, relinks))]  # fmt: skip
            relinks.active = False
            summary = {
                key: statistics.median(r[key] for r in rows)
                for key in ("add_s", "add_versions_s", "add_links_s", "add_links_est_s",
                            "remove_s", "remove_versions_s", "remove_links_s",
                            "remove_links_est_s")
            }  # fmt: skip
            summary["full_versions_s"] = full
            summary |= relink_seconds(rows)
            print(json.dumps({"size": kb.stats(), "grow_s": round(grown, 1),
                              "load": os.getloadavg()[0], "median": summary, "rows": rows},
                             ensure_ascii=False), flush=True)  # fmt: skip
        kb.close()


if __name__ == "__main__":
    main()
