"""Vector index backends and segments (fake encoder, synthetic clustered vectors): each
backend against exact numpy search, filters that keep their k results, segment add, delete
and merge, a crash between a segment file and the SQLite commit, and the manifest check."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.filters import Filters
from index.kb import KnowledgeBase
from index.manifest import ManifestMismatch
from index.search import Searcher
from index.vector_index import factory, hnsw, ivf
from index.vector_index.base import SearchThreads
from index.vector_index.factory import Policy, UnknownIndex, policy
from index.vector_index.flat import FlatIndex
from index.vector_index.hnsw import HnswIndex
from index.vector_index.ivf import IvfIndex
from index.vector_index.segments import MERGES, SegmentedIndex
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder

DIM = 32
SMALL_HNSW = Policy("auto", "hnsw", 1000)  # approximate from 1,000 vectors, to test it small


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres: a distribution with structure, as real text has."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    points = centres[rng.integers(40, size=n)] + 0.6 * rng.standard_normal((n, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def exact(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(ids[i]) for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


def overlap(found, truth) -> float:
    return len({i for i, _ in found} & set(truth)) / len(truth)


DATA = clustered(3000)
IDS = np.arange(3000, dtype=np.int64) * 2 + 7  # ids are not positions
QUERIES = clustered(30, seed=1)


@pytest.mark.parametrize("backend", [FlatIndex, HnswIndex, IvfIndex])
def test_each_backend_finds_what_exact_search_finds(backend):
    index = backend.build(DIM, IDS, DATA)
    recalls = [overlap(index.search(q, 10), exact(DATA, IDS, q, 10)) for q in QUERIES]
    assert np.mean(recalls) >= (1.0 if backend is FlatIndex else 0.95)
    assert sorted(index.ids().tolist()) == IDS.tolist()
    assert np.allclose(index.vectors_of(IDS[[5, 0, 99]]), DATA[[5, 0, 99]])


@pytest.mark.parametrize("backend", [FlatIndex, HnswIndex, IvfIndex])
@pytest.mark.parametrize("share", [0.002, 0.05, 0.5])
@pytest.mark.parametrize("small_sets_exact", [True, False])
def test_a_filter_returns_its_k_results_from_the_allowed_only(
    backend, share, small_sets_exact, monkeypatch
):
    """Without exact search of small allowed sets, the approximate backends search with a
    selector, and fall back to exact search when they come back short."""
    if not small_sets_exact:
        for module, name in ((ivf, "EXACT_BELOW"), (hnsw, "EXACT_BELOW"), (hnsw, "EXACT_SHARE")):
            monkeypatch.setattr(module, name, 0)
    index = backend.build(DIM, IDS, DATA)
    rng = np.random.default_rng(2)
    chosen = np.sort(rng.choice(len(IDS), max(3, int(len(IDS) * share)), replace=False))
    allowed = IDS[chosen]
    for query in QUERIES[:10]:
        found = index.search(query, 20, allowed)
        assert len(found) == min(20, len(allowed))
        assert {i for i, _ in found} <= set(allowed.tolist())
        truth = exact(DATA[chosen], allowed, query, min(10, len(allowed)))
        assert overlap(found, truth) >= 0.8


def catalog(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "catalog.sqlite", isolation_level=None)


def commit(state, folder, db, removed, added, vectors, generation, rule=SMALL_HNSW):
    db.execute("BEGIN IMMEDIATE")
    update = state.changed(
        np.asarray(removed, dtype=np.int64), np.asarray(added, dtype=np.int64), vectors,
        generation, rule,
    )  # fmt: skip
    update.commit(folder, db, [])
    db.execute("COMMIT")
    return update.state


def reloaded(folder, db) -> SegmentedIndex:
    db.execute("BEGIN")
    try:
        return SegmentedIndex.load(folder, DIM, db, {})
    finally:
        db.execute("ROLLBACK")


def test_segments_add_delete_and_merge(tmp_path):
    db, state = catalog(tmp_path), SegmentedIndex(DIM)
    state = commit(state, tmp_path, db, [], IDS[:1500], DATA[:1500], 1)
    assert [s.index.kind for s in state.segments] == ["hnsw"]  # past the size: approximate
    for generation, start in enumerate(range(1500, 3000, 100), 2):  # 15 small documents
        state = commit(state, tmp_path, db, [], IDS[start : start + 100],
                       DATA[start : start + 100], generation)  # fmt: skip
        assert len(state.segments) <= MERGES.max_segments
    assert len(state) == 3000
    removed = IDS[::3]
    state = commit(state, tmp_path, db, removed, [], None, 20)
    live = np.setdiff1d(IDS, removed)
    assert len(state) == len(live) and state.ids().tolist() == live.tolist()
    for query in QUERIES[:10]:
        found = state.search(query, 10)
        assert not {i for i, _ in found} & set(removed.tolist())
        keep = np.isin(IDS, live)
        assert overlap(found, exact(DATA[keep], IDS[keep], query, 10)) >= 0.8
    again = reloaded(tmp_path, db)  # what another process opens: the same state
    assert again.ids().tolist() == state.ids().tolist()
    assert again.search(QUERIES[0], 10) == state.search(QUERIES[0], 10)
    assert {p.name for p in tmp_path.glob("vectors-*")} >= {s.name for s in state.segments}


def test_a_third_deleted_segment_is_rewritten_and_a_reused_id_is_found_once(tmp_path):
    db, state = catalog(tmp_path), SegmentedIndex(DIM)
    state = commit(state, tmp_path, db, [], IDS[:200], DATA[:200], 1)
    first = state.segments[0].name
    state = commit(state, tmp_path, db, IDS[:50], [], None, 2)  # a quarter: tombstones
    assert [s.name for s in state.segments] == [first] and len(state.segments[0].deleted) == 50
    deleted = db.execute("SELECT count(*) FROM vector_deletes").fetchone()[0]
    assert deleted == 50
    state = commit(state, tmp_path, db, IDS[50:80], IDS[:1], DATA[:1], 3)  # 40 %: rewritten
    assert first not in {s.name for s in state.segments}
    assert db.execute("SELECT count(*) FROM vector_deletes").fetchone()[0] == 0
    assert len(state) == 200 - 80 + 1
    found = state.search(DATA[0], 5)
    assert found[0][0] == IDS[0] and [i for i, _ in found].count(IDS[0]) == 1


def test_a_selective_filter_on_an_approximate_kb_keeps_its_k_results(tmp_path, monkeypatch):
    """A small KB made approximate (HNSW, a shallow walk, no exact search of small allowed
    sets): a one-document filter still gets its k results."""
    monkeypatch.setitem(factory.POLICIES, "hnsw", Policy("hnsw", "hnsw", 30))
    for name, value in (("EXACT_BELOW", 0), ("EXACT_SHARE", 0), ("SEARCH_DEPTH", 1)):
        monkeypatch.setattr(hnsw, name, value)
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), vector_index="hnsw")
    kb.ingest([SEEDS["000"], SEEDS["004"]])
    assert "hnsw" in {s.index.kind for s in kb.vectors.segments}
    assert json.loads((kb.folder / "manifest.json").read_text())["index_type"] == "segments/hnsw"
    searcher = Searcher(kb)
    chongqing = next(d for d in kb.documents() if d.region and d.region.startswith("重庆"))
    windows = kb.store.allowed_windows(Filters(doc=chongqing.doc_id), [])
    hits = searcher.search("产教融合", 10, Filters(doc=chongqing.doc_id), mode="dense")
    assert len(hits) == min(10, chongqing.clauses) and len(windows) < len(kb.vectors) / 2
    assert {h.doc_id for h in hits} == {chongqing.doc_id}
    kb.close()


def test_the_index_the_kb_asks_for_must_be_the_kbs_own(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), vector_index="flat")
    kb.ingest([SEEDS["000"]])
    kb.close()
    with pytest.raises(ManifestMismatch, match="index_type: KB has 'segments/flat'"):
        KnowledgeBase(kb.folder, encoder=FakeEncoder(), vector_index="hnsw")
    assert len(KnowledgeBase(kb.folder, encoder=FakeEncoder()).vectors) > 0  # its own: opens
    manifest = json.loads((kb.folder / "manifest.json").read_text())
    (kb.folder / "manifest.json").write_text(json.dumps(manifest | {"index_type": "HNSW"}))
    with pytest.raises(ManifestMismatch, match="HNSW"):
        KnowledgeBase(kb.folder, encoder=FakeEncoder()).stats()
    with pytest.raises(UnknownIndex):
        policy("annoy")


CRASH = """
import os, sys
from index.kb import KnowledgeBase
from index.vector_index.segments import Update
from tests.fake_encoder import FakeEncoder
write = Update.commit
def commit_then_die(self, folder, db, paths):
    write(self, folder, db, paths)  # segment files on disk and catalog rows, not committed
    os._exit(9)
Update.commit = commit_then_die
KnowledgeBase(sys.argv[1], encoder=FakeEncoder()).ingest([sys.argv[2]])
"""


def test_a_kill_between_segment_file_and_commit_leaves_the_last_commit(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["000"]])
    before, files = kb.stats(), {p.name for p in kb.folder.glob("vectors-*")}
    hits = [h.clause_id for h in Searcher(kb).search("产教融合", 5, mode="dense")]
    kb.close()
    root = Path(__file__).resolve().parents[1]
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASH), str(kb.folder), str(SEEDS["004"])],
        cwd=root, capture_output=True,
    )  # fmt: skip
    assert killed.returncode == 9, killed.stderr.decode()
    strays = {p.name for p in kb.folder.glob("vectors-*")} - files
    assert strays  # the dead writer's segment, which nothing refers to
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert reopened.stats() == before
    assert [h.clause_id for h in Searcher(reopened).search("产教融合", 5, mode="dense")] == hits
    reopened.ingest([SEEDS["004"]])  # the next change sweeps the strays
    assert not strays & {p.name for p in kb.folder.glob("vectors-*")}
    assert reopened.stats()["vectors"] == reopened.store.window_count()
    reopened.close()


def test_a_damaged_segment_is_rebuilt_from_sqlite_and_written_whole_next_time(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["000"]])
    kb.ingest([SEEDS["004"]])
    windows = kb.store.window_count()
    kb.close()
    for path in kb.folder.glob("vectors-*"):
        path.write_bytes(path.read_bytes()[:100])  # truncated
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert len(reopened.vectors) == windows and not reopened.vectors.on_disk
    reopened.remove(reopened.documents()[0].doc_id)
    third = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    state = third.vectors
    assert state.on_disk and len(state) == third.store.window_count() < windows
    assert len(state.segments) == 1
    shutil.rmtree(kb.folder)


def test_each_thread_that_searches_takes_the_search_thread_count(monkeypatch):
    """FAISS's OpenMP thread count is per thread: a request thread must get the server's."""
    state = SegmentedIndex.rebuilt(DIM, IDS, DATA, policy("flat"))
    seen: dict[str, int] = {}

    def in_new_thread(task) -> None:
        thread = threading.Thread(target=task)
        thread.start()
        thread.join()

    in_new_thread(lambda: seen.update(default=faiss.omp_get_max_threads()))
    monkeypatch.setattr(SearchThreads, "wanted", seen["default"] + 1)  # not a new thread's

    def search() -> None:
        seen["before"] = faiss.omp_get_max_threads()
        state.search(QUERIES[0], 5)
        seen["after"] = faiss.omp_get_max_threads()

    in_new_thread(search)
    assert (seen["before"], seen["after"]) == (seen["default"], seen["default"] + 1)
