"""Scale curve of the vector index: 10k, 100k and 1M window vectors from real clauses.

Real clause windows are the STARD KB's vector cache (lawrefbook's national laws, about
134,000 distinct windows embedded by `make eval-stard`; read only), else (``--real sample``)
4,000 windows of corpus/ and lawrefbook embedded here. Real queries (tests/eval and STARD
dev.json questions) are embedded once with the KB's model and cached in .kb/scale/real.npz.
A KB of n vectors repeats the real ones, each copy moved towards the difference of two
other real vectors (so the copies keep the real distribution and are not duplicates).
Per size: build time, dense search p50/p95 (the index alone, as the searcher asks: 300
windows), recall@10 against exact search at several efSearch, filtered search, the time to
add one document of 50 clauses incrementally, cold start, memory and disk per vector.
BM25 and hybrid search through a real KB at scale: bench/scale_kb.py.
``--compare`` measures HNSW against IVF at one size (the choice of backend).

    nice -n 10 .venv/bin/python bench/scale.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.vector_index import hnsw  # noqa: E402
from index.vector_index.factory import policy  # noqa: E402
from index.vector_index.segments import SegmentedIndex  # noqa: E402

SHARED = ROOT.parent / "shared"
CACHE = ROOT / ".kb" / "scale"
STARD_DB = ROOT / ".kb" / "stard" / "kb" / "kb.sqlite"
DEPTH = 300  # windows the searcher asks for: max(100, 5·top_k)·3
DOC_CLAUSES = 50
OTHER_DEPTHS = [300, 1000]  # efSearch values measured besides the default


def real_vectors(clauses: int, files: int) -> tuple[np.ndarray, np.ndarray]:
    """(clause window vectors, query vectors), embedded once and cached."""
    cached = CACHE / "real.npz"
    if cached.exists():
        data = np.load(cached)
        return data["windows"], data["queries"]
    from index.encoder import default_model, load_encoder
    from index.windows import windows
    from ingest.pipeline import parse_file
    from ingest.readers.base import IngestError

    lawref = sorted((SHARED / "corpora" / "lawrefbook").rglob("*.md"))
    paths = sorted((ROOT / "corpus").iterdir()) + lawref[:: max(1, len(lawref) // files)]
    texts: dict[str, None] = {}
    for path in paths:
        try:
            parsed = parse_file(path)
        except IngestError:
            continue
        for clause in parsed.clauses:
            for span in windows(clause.text):
                texts[clause.text[span.start : span.end]] = None
    picked = list(texts)[:: max(1, len(texts) // clauses)][:clauses]
    queries = [json.loads(line)["text"] for line in (ROOT / "tests/eval/queries.jsonl").open()]
    stard = json.loads((SHARED / "benchmarks/stard/dev.json").read_text())
    queries += [q["问题"] for q in stard[:300]]
    encoder = load_encoder(default_model())
    started = time.perf_counter()
    vectors = encoder.encode_passages(picked)
    print(f"embedded {len(picked)} windows in {time.perf_counter() - started:.0f} s", flush=True)
    encoded = encoder.encode_queries(queries)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, windows=vectors, queries=encoded)
    return vectors, encoded


def stard_vectors(path: Path = STARD_DB, chunk: int = 20_000) -> tuple[list[str], np.ndarray]:
    """(text hashes, vectors) of a KB's vector cache, read only, a short read at a time; kept
    in .kb/scale/stard.npz (delete it to read the cache again), so runs share one set."""
    kept = CACHE / "stard.npz"
    if kept.exists():
        data = np.load(kept)
        return list(data["hashes"]), data["vectors"]
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    hashes, blobs, last = [], [], 0
    while True:
        rows = db.execute(
            "SELECT rowid, text_hash, vector FROM embeddings WHERE rowid > ? ORDER BY rowid"
            " LIMIT ?", (last, chunk),
        ).fetchall()  # fmt: skip
        if not rows:
            break
        last = rows[-1][0]
        hashes += [r[1] for r in rows]
        blobs += [r[2] for r in rows]
    db.close()
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(kept, hashes=np.array(hashes), vectors=vectors)
    return hashes, vectors


def query_vectors() -> np.ndarray:
    """The real queries' vectors (embedded by ``real_vectors`` and cached)."""
    return real_vectors(0, 0)[1]


def scaled(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n vectors: the real ones, then copies each moved by a real difference vector."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        rows = np.arange(start, min(n, start + 100_000))
        base = real[rows % len(real)]
        b, c = rng.integers(len(real), size=(2, len(rows)))
        shift = rng.uniform(0.2, 0.5, size=(len(rows), 1)).astype(np.float32)
        moved = base + shift * (real[b] - real[c])
        moved[rows < len(real)] = base[rows < len(real)]
        out[rows] = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index.search(queries, k)[1]


def recall(found: list[list[int]], truth: np.ndarray, k: int = 10) -> float:
    pairs = zip(found, truth, strict=True)
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in pairs]))


def ms(times: list[float], prefix: str) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    return {f"{prefix}p{p}_ms": 1e3 * float(np.percentile(times, p)) for p in (50, 95)}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def commit(state: SegmentedIndex, folder: Path, db, removed, added, vectors, generation):
    """One change as the KB makes it: segment file, catalog rows, SQLite commit."""
    db.execute("BEGIN IMMEDIATE")
    update = state.changed(removed, added, vectors, generation, policy("auto"))
    update.commit(folder, db, [])
    db.execute("COMMIT")
    return update.state


def measure(real: np.ndarray, queries: np.ndarray, n: int) -> dict:
    folder = CACHE / f"kb-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "catalog.sqlite", isolation_level=None)
    vectors = scaled(real, n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    empty = SegmentedIndex(vectors.shape[1])
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # a build uses every core
    started = time.perf_counter()
    state = commit(empty, folder, db, ids[:0], ids, vectors, 1)
    faiss.omp_set_num_threads(1)  # one search per request thread, as `serve` runs them
    result = {"n": n, "build_s": time.perf_counter() - started,
              "kinds": [s.index.kind for s in state.segments]}  # fmt: skip
    truth = exact_top(vectors, queries, 10)
    state.search(queries[0], DEPTH)
    times, cpu, found = [], [], []
    for query in queries:
        started, used = time.perf_counter(), time.thread_time()
        hits = state.search(query, DEPTH)
        times.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - used)  # the CPU it took: what the load does not add
        found.append([i - 1 for i, _ in hits])  # ids are rows + 1
    result |= {"recall10": recall(found, truth)} | ms(times, "") | ms(cpu, "cpu_")
    result["depths"] = depths(state, queries, truth)
    result |= filtered(state, vectors, queries)
    adds = []
    next_id = n + 1
    for generation in range(2, 22):  # 20 documents of 50 clauses: copies of real ones
        doc = scaled(real, DOC_CLAUSES, seed=generation)
        added = np.arange(next_id, next_id + DOC_CLAUSES, dtype=np.int64)
        next_id += DOC_CLAUSES
        started = time.perf_counter()
        state = commit(state, folder, db, ids[:0], added, doc, generation)
        adds.append(time.perf_counter() - started)
    removed = np.arange(next_id - DOC_CLAUSES, next_id, dtype=np.int64)  # replace one document
    started = time.perf_counter()
    state = commit(state, folder, db, removed, removed, scaled(real, DOC_CLAUSES, 99), 22)
    result |= {"add_doc_p50_s": float(np.median(adds)), "add_doc_max_s": max(adds),
               "replace_doc_s": time.perf_counter() - started,
               "segments_after": len(state.segments)}  # fmt: skip
    db.close()
    cold = subprocess.run(
        [sys.executable, __file__, "--cold", str(folder), "--dim", str(vectors.shape[1])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    opened = json.loads(cold.stdout)
    disk = sum(p.stat().st_size for p in folder.glob("vectors-*"))
    return result | opened | {"disk_b_per_vector": disk / opened["vectors"]}


def cold_start(folder: Path, dim: int) -> None:
    """In a fresh process (its imports done): open the index, answer one query; print the
    time and the memory the index took."""
    faiss.omp_set_num_threads(1)
    query = query_vectors()[0]
    before = rss_mb()
    started = time.perf_counter()
    db = sqlite3.connect(folder / "catalog.sqlite", isolation_level=None)
    db.execute("BEGIN")
    state = SegmentedIndex.load(folder, dim, db, {})
    db.execute("ROLLBACK")
    state.search(query, DEPTH)
    seconds = time.perf_counter() - started
    memory = (rss_mb() - before) * 2**20 / len(state)
    print(json.dumps({"cold_start_s": seconds, "memory_b_per_vector": memory,
                      "vectors": len(state)}))  # fmt: skip


def depths(state: SegmentedIndex, queries: np.ndarray, truth: np.ndarray) -> dict:
    """Recall@10 and p95 at other HNSW search depths (efSearch): the trade-off."""
    out, default = {}, hnsw.SEARCH_DEPTH
    for depth in OTHER_DEPTHS:
        hnsw.SEARCH_DEPTH = depth
        times, found = [], []
        for query in queries:
            started = time.thread_time()
            found.append([i - 1 for i, _ in state.search(query, DEPTH)])
            times.append(time.thread_time() - started)
        out[depth] = {"recall10": recall(found, truth)} | ms(times, "cpu_")
    hnsw.SEARCH_DEPTH = default
    return out


def filtered(state: SegmentedIndex, vectors: np.ndarray, queries: np.ndarray) -> dict:
    """A 1 % filter and a 0.1 % filter: results returned and recall@10 against exact."""
    out = {}
    rng = np.random.default_rng(1)
    for share in (0.01, 0.001):
        allowed = np.sort(rng.choice(len(vectors), int(len(vectors) * share), replace=False))
        truth = allowed[exact_top(vectors[allowed], queries[:100], 10)]
        times, found, short = [], [], 0
        for query in queries[:100]:
            started = time.thread_time()
            hits = state.search(query, DEPTH, allowed + 1)
            times.append(time.thread_time() - started)
            short += len(hits) < min(DEPTH, len(allowed))
            found.append([i - 1 for i, _ in hits])
        out[f"filter{share}"] = {"cpu_p95_ms": 1e3 * np.percentile(times, 95), "short": short,
                                 "recall10": recall(found, truth)}  # fmt: skip
    return out


def compare(real: np.ndarray, queries: np.ndarray, n: int) -> list[dict]:
    """HNSW against IVF on the same n vectors: build time, recall@10, p95 at k=300."""
    from index.vector_index.ivf import IvfIndex

    vectors, ids = scaled(real, n), np.arange(n, dtype=np.int64)
    truth = exact_top(vectors, queries, 10)
    rows = []
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    ivf = IvfIndex.build(vectors.shape[1], ids, vectors)
    built = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    for nprobe in (8, 16, 32, 64, 128):
        ivf.nprobe = nprobe
        rows.append(_run(f"IVF{ivf.index.nlist},Flat nprobe={nprobe}", built, queries, truth,
                         lambda q: ivf.search(q, DEPTH)))  # fmt: skip
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(vectors)
    built = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    for ef in (DEPTH, 400, 600):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        rows.append(_run(f"HNSW32 efSearch={ef}", built, queries, truth,
                         lambda q, p=params: [(int(i), 0.0) for i in hnsw.search(
                             q.reshape(1, -1), DEPTH, params=p)[1][0]]))  # fmt: skip
    return rows


def _run(name, built, queries, truth, search) -> dict:
    times, found = [], []
    for query in queries:
        started = time.thread_time()
        found.append([i for i, _ in search(query)])
        times.append(time.thread_time() - started)
    row = {"index": name, "build_s": built, "recall10": recall(found, truth)} | ms(times, "cpu_")
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--real",
        choices=("stard", "sample"),
        default="stard",
        help="real windows: the STARD KB's vector cache (if built), or a sample embedded",
    )
    parser.add_argument("--clauses", type=int, default=4000, help="real windows embedded")
    parser.add_argument("--files", type=int, default=300, help="lawrefbook files read")
    parser.add_argument("--compare", type=int, help="HNSW vs IVF at this size, then stop")
    parser.add_argument("--links", type=int, default=hnsw.LINKS, help="HNSW M")
    parser.add_argument("--build-depth", type=int, default=hnsw.BUILD_DEPTH, help="efConstruction")
    parser.add_argument("--search-depth", type=int, default=hnsw.SEARCH_DEPTH, help="efSearch")
    parser.add_argument(
        "--depths", type=int, nargs="*", default=[300, 1000], help="other efSearch values measured"
    )
    parser.add_argument("--cold", type=Path, help=argparse.SUPPRESS)  # the cold-start child
    parser.add_argument("--dim", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        cold_start(args.cold, args.dim)
        return
    hnsw.LINKS, hnsw.BUILD_DEPTH = args.links, args.build_depth
    hnsw.SEARCH_DEPTH, OTHER_DEPTHS[:] = args.search_depth, args.depths
    real, queries = real_vectors(args.clauses, args.files)
    if args.real == "stard" and (STARD_DB.exists() or (CACHE / "stard.npz").exists()):
        real = stard_vectors()[1]  # else (a fresh clone, no STARD KB): the embedded sample
    print(f"{len(real)} real windows, {len(queries)} real queries; {platform.processor()}"
          f" {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    if args.compare:
        compare(real, queries, args.compare)
        return
    for n in args.sizes:
        load = os.getloadavg()[0]
        result = measure(real, queries, n) | {
            "load": load,
            "load_after": os.getloadavg()[0],
            "links": hnsw.LINKS,
            "efc": hnsw.BUILD_DEPTH,
        }
        print(json.dumps(result, default=float), flush=True)
        shutil.rmtree(CACHE / f"kb-{n}", ignore_errors=True)


if __name__ == "__main__":
    main()
