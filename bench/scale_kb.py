"""Search at scale through a real KB: dense, BM25 and hybrid top 10 over 100k and 1M clauses.

lawrefbook's national files (the STARD corpus) are parsed once; a KB of n clauses holds
them and perturbed copies of them. A copy swaps a few pairs of adjacent Chinese characters
in each clause (so FTS5 indexes distinct rows; sentence ends, hence windows, stay), and gets
its own doc_id, title and clause ids; each of its windows gets the real window's vector
moved as bench/scale.py moves copies. Real window vectors are the STARD KB's vector cache
(read only); a document with a window not in it is left out.

The writes are KnowledgeBase.ingest's, through Store's own methods, without parsing each
copy again: Store.save_vectors and Store.insert_document (clauses, units, windows, both FTS5
tables) in one transaction per batch of documents; versions.refresh; then the vector and BM25
steps of KnowledgeBase._change (SegmentedIndex.changed and LexicalIndex.changed, their
Update.commit, the generation), one HNSW segment of every window and one BM25 postings
segment of every clause. Links are not computed for the copies (search does not read them).
Then real documents held out of the bulk are ingested with KnowledgeBase.ingest (their
vectors cached): the time to add one document. Searches: Searcher.search, top 10, each
mode, the 343 real queries (vectors from .kb/scale/real.npz: query encoding is
bench/encode.py's figure), wall and CPU p50/p95, one FAISS thread; BM25 also as FTS5 ranks it
(the reference the in-memory index replaces); cold start in a fresh process; memory and disk
per clause.

    nice -n 10 .venv/bin/python bench/scale_kb.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scale import CACHE, SHARED, exact_top, ms, query_vectors, recall, stard_vectors  # noqa: E402

from index import versions  # noqa: E402
from index.encoders.base import Encoder, default_model, model_id  # noqa: E402
from index.filters import Filters  # noqa: E402
from index.kb import KnowledgeBase, Snapshot, text_hash  # noqa: E402
from index.lexical import bm25_match  # noqa: E402
from index.lexical_index.segments import LexicalIndex  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.vector_index import hnsw  # noqa: E402
from index.vector_index.factory import policy  # noqa: E402
from index.vector_index.segments import SegmentedIndex  # noqa: E402
from index.windows import windows  # noqa: E402
from ingest.models import ParsedDocument  # noqa: E402

MODES = ("dense", "bm25", "hybrid")
FILTERS = {  # broad filters: a filtered search reads the ids they allow (index.doc_map)
    "level=national": Filters(level="national"),
    "region=香港": Filters(region="香港"),
    "year 2000-2020": Filters(year_from=2000, year_to=2020),
    "in_force on 2020-01-01": Filters(status="in_force", in_force_on="2020-01-01"),
}
BATCH_CLAUSES = 20_000  # clauses written per transaction
HELD_OUT = 4  # real documents kept out of the bulk: ingested one at a time afterwards
_HAN = re.compile(r"[\u4e00-\u9fff]{2}")


class QueryTable(Encoder):
    """The KB's model as the manifest records it, answering the benchmark's queries from
    their cached vectors (all passages are in the KB's vector cache already)."""

    dim = 384

    def __init__(self, texts: list[str], vectors: np.ndarray):
        self.name = model_id(default_model())
        self.table = {t.strip(): v for t, v in zip(texts, vectors, strict=True)}
        self.queries = vectors

    def encode_queries(self, texts):
        return np.vstack([self.table[t.strip()] for t in texts])

    def encode_passages(self, texts, progress=None):
        raise LookupError(f"{len(texts)} passages not in the vector cache")


def query_texts() -> list[str]:
    """The 343 real queries, in the order of .kb/scale/real.npz."""
    lines = (ROOT / "tests/eval/queries.jsonl").open()
    texts = [json.loads(line)["text"] for line in lines]
    stard = json.loads((SHARED / "benchmarks/stard/dev.json").read_text())
    return texts + [q["问题"] for q in stard[:300]]


def parsed_corpus() -> list[ParsedDocument]:
    """lawrefbook's national files, parsed once and cached."""
    cached = CACHE / "national.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    from evals.corpus import national_files
    from ingest.pipeline import parse_file
    from ingest.readers.base import IngestError

    docs = []
    for path in national_files(SHARED / "corpora" / "lawrefbook"):
        try:
            docs.append(parse_file(path.resolve()))
        except IngestError:
            continue
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(docs))
    return docs


def window_texts(doc: ParsedDocument) -> list[list[str]]:
    return [[c.text[s.start : s.end] for s in windows(c.text)] for c in doc.clauses]


def covered(docs: list[ParsedDocument], rows: dict[str, int]) -> list[ParsedDocument]:
    """The documents whose every window has a real vector, each doc_id once."""
    seen, kept = set(), []
    for doc in docs:
        hashes = [text_hash(t) for ts in window_texts(doc) for t in ts]
        if doc.document.doc_id not in seen and hashes and all(h in rows for h in hashes):
            seen.add(doc.document.doc_id)
            kept.append(doc)
    return kept


def swapped(text: str, count: int, rng: np.random.Generator) -> str:
    """``text`` with ``count`` pairs of adjacent Chinese characters swapped."""
    pairs = [m.start() for m in _HAN.finditer(text)]
    chars = list(text)
    for at in rng.choice(pairs, min(count, len(pairs)), replace=False) if pairs else []:
        chars[at], chars[at + 1] = chars[at + 1], chars[at]
    return "".join(chars)


def copied(doc: ParsedDocument, copy: int, rng: np.random.Generator) -> ParsedDocument:
    """Copy ``copy`` (≥ 1) of a document: its own ids and title, each clause's text perturbed."""
    meta = doc.document
    suffix = f"~{copy}"
    document = replace(
        meta, doc_id=meta.doc_id + suffix, title=f"{meta.title}（副本{copy}）", doc_number=None,
        source=f"{meta.source}#copy{copy}", content_hash=meta.content_hash + suffix,
    )  # fmt: skip
    clauses = [
        replace(c, clause_id=c.clause_id + suffix, text=swapped(c.text, 1 + copy % 3, rng),
                parent_id=c.parent_id + suffix if c.parent_id else None)
        for c in doc.clauses
    ]  # fmt: skip
    return ParsedDocument(document, clauses)


def moved(vectors: np.ndarray, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """bench/scale.py's copies: each vector moved by 0.2–0.5 × a real difference vector."""
    b, c = rng.integers(len(real), size=(2, len(vectors)))
    shift = rng.uniform(0.2, 0.5, size=(len(vectors), 1)).astype(np.float32)
    out = vectors + shift * (real[b] - real[c])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def planned(docs: list[ParsedDocument], n: int, rng: np.random.Generator):
    """(document, copy) pairs in write order until n clauses; copy 0 is the document itself."""
    total, copy = 0, 0
    while True:
        for doc in docs:
            if total >= n:
                return
            yield doc, copy
            total += len(doc.clauses)
        copy += 1


def write_batch(kb: KnowledgeBase, batch, real, rows, rng) -> None:
    """One transaction: the batch's window vectors into the cache, then its documents."""
    vectors, written = {}, []
    for doc, copy in batch:
        made = copied(doc, copy, rng) if copy else doc
        spans, base = [], []
        for clause, texts in zip(made.clauses, window_texts(doc), strict=True):
            found = windows(clause.text)
            spans.append([(s, text_hash(clause.text[s.start : s.end])) for s in found])
            base += [
                real[rows[text_hash(texts[min(i, len(texts) - 1)])]] for i in range(len(found))
            ]
        got = moved(np.vstack(base), real, rng) if copy else np.vstack(base)
        vectors.update(zip((h for c in spans for _, h in c), got, strict=True))
        written.append((made, spans))
    with kb.store.transaction():
        kb.store.save_vectors(vectors)
        for made, spans in written:
            kb.store.insert_document(made, spans)


def build(folder: Path, docs, held, n: int, real, rows, encoder) -> dict:
    """A KB of about n clauses: rows and FTS5 in batches, statuses, then the vector index."""
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(n)
    kb = KnowledgeBase(folder, encoder=encoder)
    kb.encoder  # noqa: B018 - writes the manifest, as a new KB's first ingest does
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started, batch, size = time.perf_counter(), [], 0
    for doc, copy in planned(docs, n, rng):
        batch.append((doc, copy))
        size += len(doc.clauses)
        if size >= BATCH_CLAUSES:
            write_batch(kb, batch, real, rows, rng)
            batch, size = [], 0
    write_batch(kb, batch, real, rows, rng)
    with kb.store.transaction():  # the held-out documents' vectors, for their ingest later
        hashes = [text_hash(t) for doc in held for ts in window_texts(doc) for t in ts]
        kb.store.save_vectors({h: real[rows[h]] for h in hashes})
    out = {"rows_s": time.perf_counter() - started}
    started = time.perf_counter()
    with kb.store.transaction():
        versions.refresh(kb.store)
    out["statuses_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with kb.store.transaction():  # KnowledgeBase._change's vector step, for the whole bulk
        ids, vectors = kb.store.window_vectors()
        out["read_vectors_s"] = time.perf_counter() - started
        empty = SegmentedIndex.load(folder, encoder.dim, kb.store.db, {})
        update = empty.changed(ids[:0], ids, vectors, 1, policy("auto"))
        update.commit(folder, kb.store.db, [])
        out["vectors_s"] = time.perf_counter() - started
        started = time.perf_counter()
        bm25 = LexicalIndex().changed(ids[:0], *kb.store.bm25_rows(), 1)
        bm25.commit(folder, kb.store.db, [])
        out["bm25_index_s"] = time.perf_counter() - started
        kb.store.set_meta("generation", "1")
    out |= kb.store.counts() | {"kinds": [s.index.kind for s in update.state.segments]}
    out["recall10"] = depths(update.state, ids, vectors, encoder.queries)
    kb.close()
    return out


def depths(state: SegmentedIndex, ids, vectors, queries) -> dict:
    """Recall@10 of the KB's vector index against exact search over the same windows, and
    the index's CPU p50/p95 at k = 300, per HNSW efSearch (one FAISS thread)."""
    truth = ids[exact_top(vectors, queries, 10)]
    faiss.omp_set_num_threads(1)
    out, default = {}, hnsw.SEARCH_DEPTH
    for depth in (300, 600, 1000):
        hnsw.SEARCH_DEPTH = depth
        times, found = [], []
        for query in queries:
            started = time.thread_time()
            found.append([i for i, _ in state.search(query, 300)])
            times.append(time.thread_time() - started)
        out[depth] = {"recall10": recall(found, truth)} | ms(times, "cpu_")
    hnsw.SEARCH_DEPTH = default
    return out


def searches(kb: KnowledgeBase, texts: list[str], modes=MODES, filters=None) -> dict:
    """Wall and CPU p50/p95 of each mode's top 10 (after one warm-up search per mode)."""
    searcher, out = Searcher(kb), {}
    for mode in modes:
        searcher.search(texts[0], 10, filters, mode=mode)
        wall, cpu = [], []
        for text in texts:
            started, used = time.perf_counter(), time.thread_time()
            searcher.search(text, 10, filters, mode=mode)
            wall.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - used)
        out[mode] = ms(wall, "") | ms(cpu, "cpu_")
    return out


def fts5_bm25(kb: KnowledgeBase, texts: list[str]) -> dict:
    """BM25 as FTS5 ranks it (Store.fts, the depth Searcher asks for), and how many queries
    the in-memory index leaves to FTS5 (a term of several tokens); its bytes per clause."""
    wall, cpu, left = [], [], 0
    with kb.reading() as snapshot:
        for text in texts:
            match = bm25_match(text)
            started, used = time.perf_counter(), time.thread_time()
            snapshot.store.fts("clauses_bm25", match, 100, Filters(), [])
            wall.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - used)
            left += snapshot.bm25.search(match, 100) is None
        size = snapshot.bm25.nbytes() / len(snapshot.bm25)
    return {"bm25_fts5": ms(wall, "") | ms(cpu, "cpu_"), "bm25_left_to_fts5": left,
            "bm25_b_per_clause": size}  # fmt: skip


def reused(folder: Path, held: list[ParsedDocument], encoder) -> dict:
    """A KB an earlier --keep run built: the held-out documents it added are removed again,
    so the searches and the adds are measured on the same KB as after a build."""
    if not (folder / "manifest.json").exists():
        raise SystemExit(f"{folder}: no KB to reuse (build it first with --keep)")
    kb = KnowledgeBase(folder, encoder=encoder)
    removed = [doc.document.doc_id for doc in held if kb.remove(doc.document.doc_id)]
    out = {"reused": str(folder), "removed_held": removed} | kb.store.counts()
    kb.close()
    return out


def filtered(kb: KnowledgeBase, texts: list[str], repeat: int = 20, sql: int = 4) -> dict:
    """Per filter of FILTERS: the share of clauses it allows; its masks' wall p50/p95, from
    index.doc_map and from Store's SQL join (the reference, and the code before); each mode's
    top 10 with either (with SQL's masks, every ``sql``-th query: they take up to a second at
    100k). The map is read first (once per generation: ``map_load_s``)."""
    out, own = {}, (Snapshot.allowed_windows, Snapshot.allowed_clauses)
    with kb.reading() as snapshot:
        started = time.perf_counter()
        doc_map = snapshot.doc_map
        out["map_load_s"] = time.perf_counter() - started
        clauses = snapshot.store.clause_count()
        out["map_b_per_clause"] = doc_map.nbytes / clauses
        for name, given in FILTERS.items():
            out[name] = {"share": len(snapshot.allowed_clauses(given, [])) / clauses}
            for kind in ("windows", "clauses"):
                for source, reader in (("map", snapshot), ("sql", snapshot.store)):
                    count = repeat if source == "map" else max(3, repeat // sql)
                    times = timed(getattr(reader, f"allowed_{kind}"), given, count)
                    out[name] |= ms(times, f"{kind}_{source}_")
    for name, given in FILTERS.items():
        out[name]["search_map"] = searches(kb, texts, filters=given)
        Snapshot.allowed_windows = lambda self, f, u: self.store.allowed_windows(f, u)
        Snapshot.allowed_clauses = lambda self, f, u: self.store.allowed_clauses(f, u)
        try:
            out[name]["search_sql"] = searches(kb, texts[::sql], filters=given)
        finally:
            Snapshot.allowed_windows, Snapshot.allowed_clauses = own
    return out


def timed(mask, given: Filters, repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` calls of a mask (no unit names)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        mask(given, [])
        times.append(time.perf_counter() - started)
    return times


def added(kb: KnowledgeBase, held: list[ParsedDocument]) -> dict:
    """Held-out real documents ingested one at a time through KnowledgeBase.ingest."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    times, stages = [], []
    for doc in held:
        started = time.perf_counter()
        report = kb.ingest([Path(doc.document.source)])
        times.append(time.perf_counter() - started)
        stages.append(report.seconds)  # parse, embed (cache), index, links
        assert report.added == [doc.document.doc_id] and not report.windows_embedded, report
    faiss.omp_set_num_threads(1)
    return {"add_doc_s": times, "add_doc_stages": stages,
            "add_doc_clauses": [len(d.clauses) for d in held]}  # fmt: skip


def cold_start(folder: Path) -> None:
    """In a fresh process (its imports done): open the KB, answer one hybrid query."""
    faiss.omp_set_num_threads(1)
    texts = query_texts()
    encoder = QueryTable(texts, query_vectors())
    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    kb = KnowledgeBase(folder, encoder=encoder)
    Searcher(kb).search(texts[0], 10, mode="hybrid")
    seconds = time.perf_counter() - started
    grown = psutil.Process().memory_info().rss - before
    print(json.dumps({"cold_start_s": seconds, "memory_b": grown}))


def measure(n: int, docs, held, real, rows, encoder, texts, args) -> dict:
    keep, queries = args.keep, args.queries
    folder = args.out / f"kb-clauses-{n}"
    out = {"n": n, "load": os.getloadavg()[0]}
    out |= (
        reused(folder, held, encoder)
        if args.reuse
        else build(folder, docs, held, n, real, rows, encoder)
    )
    print(json.dumps(out), flush=True)
    kb = KnowledgeBase(folder, encoder=encoder)
    faiss.omp_set_num_threads(1)
    started = time.perf_counter()
    kb.vectors  # noqa: B018 - loads the segments
    out["open_vectors_s"] = time.perf_counter() - started
    texts = texts[:: max(1, len(texts) // queries)]
    started = time.perf_counter()
    kb.bm25  # noqa: B018 - loads the postings segments
    out["open_bm25_s"] = time.perf_counter() - started
    out |= {"queries": len(texts)} | searches(kb, texts)
    if not args.no_fts5:  # the reference BM25 replaced: minutes at 1M clauses
        out |= fts5_bm25(kb, texts)
    out["filtered"] = filtered(kb, texts[::4])  # before the adds: one segment, as built
    out |= added(kb, held)
    out["dense_after_add"] = searches(kb, texts, ("dense",))["dense"]  # 1 + 4 segments
    kb.close()
    child = [sys.executable, __file__, "--cold", str(folder)]
    out |= json.loads(subprocess.run(child, capture_output=True, text=True, check=True).stdout)
    disk = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    out |= {"disk_b_per_clause": disk / out["clauses"],
            "memory_b_per_clause": out["memory_b"] / out["clauses"],
            "load_after": os.getloadavg()[0]}  # fmt: skip
    if not (keep or args.reuse):  # a reused KB stays for the next run
        shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the KBs (in --out)")
    parser.add_argument("--out", type=Path, default=CACHE, help="where the KBs are built")
    parser.add_argument("--queries", type=int, default=343, help="searches per mode (spread)")
    parser.add_argument("--no-fts5", action="store_true", help="skip BM25 through FTS5")
    parser.add_argument("--reuse", action="store_true", help="measure the KBs --keep left")
    parser.add_argument("--cold", type=Path, help=argparse.SUPPRESS)  # the cold-start child
    args = parser.parse_args()
    if args.cold:
        cold_start(args.cold)
        return
    hashes, real = stard_vectors()
    rows = {h: i for i, h in enumerate(hashes)}
    started = time.perf_counter()
    docs = covered(parsed_corpus(), rows)
    print(f"{len(real)} real windows; {len(docs)} documents covered,"
          f" {sum(len(d.clauses) for d in docs)} clauses ({time.perf_counter() - started:.0f} s);"
          f" {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    sized = sorted(docs, key=lambda d: abs(len(d.clauses) - 50))
    held = sized[:HELD_OUT]
    docs = [d for d in docs if all(d is not h for h in held)]
    texts = query_texts()
    encoder = QueryTable(texts, query_vectors())
    for n in args.sizes:
        result = measure(n, docs, held, real, rows, encoder, texts, args)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
