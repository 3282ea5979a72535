"""Merges in the background (index/merging.py): a write defers the large ones, a merge
built from an older state keeps what changed meanwhile, and a kill leaves the last commit.

The seeds with a fake encoder, every merge made large: more than one segment is a merge
due (``max_segments=1``) and a write may merge nothing itself (limits of 0 rows).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index.kb import KnowledgeBase
from index.lexical_index import segments as lexical_segments
from index.merge_policy import MergePolicy
from index.merging import MergeCancelled, MergeReport, merge_lock
from index.search import Searcher
from index.segment_update import STAGING
from index.vector_index import segments as vector_segments
from index.vector_index.factory import Policy, policy
from index.windows import windows as spans
from ingest.pipeline import parse_file
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder

QUERIES = ["产教融合", "职业教育", "财政支持", "人工智能"]
BATCHES = (("000", "003"), ("001",), ("004",))  # 131, 33 and 15 windows: one segment each
EVERY_MERGE_LARGE = """
from index.lexical_index import segments as lexical_segments
from index.merge_policy import MergePolicy
from index.vector_index import segments as vector_segments
from index.vector_index.factory import Policy, policy
from index.windows import windows as spans
from ingest.pipeline import parse_file
for module in (lexical_segments, vector_segments):
    module.MERGES = MergePolicy(max_segments=1)
vector_segments.SYNC_ROWS = 0
lexical_segments.WRITE_LIMIT = 0
"""


@pytest.fixture
def large_merges(monkeypatch):
    for module in (lexical_segments, vector_segments):
        monkeypatch.setattr(module, "MERGES", MergePolicy(max_segments=1))
    monkeypatch.setattr(vector_segments, "SYNC_ROWS", 0)
    monkeypatch.setattr(lexical_segments, "WRITE_LIMIT", 0)


def deferred_kb(folder: Path, monkeypatch) -> KnowledgeBase:
    """A KB that merges in the background, its thread kept from running: merges wait."""
    kb = KnowledgeBase(folder, encoder=FakeEncoder(), background_merges=True)
    monkeypatch.setattr(kb.merger, "request", lambda: None)
    for batch in BATCHES:
        kb.ingest([SEEDS[key] for key in batch])
    return kb


def segment_counts(kb: KnowledgeBase) -> tuple[int, int]:
    return len(kb.vectors.segments), len(kb.bm25.segments)


def results(kb: KnowledgeBase) -> list[list[tuple[str, str]]]:
    searcher = Searcher(kb)
    return [[(h.clause_id, h.text) for h in searcher.search(q, 10, mode=mode)]
            for q in QUERIES for mode in ("dense", "bm25")]  # fmt: skip


def test_policy_limit_keeps_large_groups_out_of_a_write():
    sizes = [10, 20, 40, 1000, 5000, 9000]
    policy = MergePolicy(max_segments=2)
    live = total = lambda size: size
    assert policy.groups(sizes, live, total, False) == [[10, 20, 40, 1000, 5000]]
    assert policy.groups(sizes, live, total, False, limit=100) == [[10, 20, 40]]
    assert policy.groups(sizes, live, total, False, limit=20) == []
    worn = [(50, 100), (500, 1000)]  # (live, total): both half deleted
    groups = MergePolicy().groups(worn, lambda s: s[0], lambda s: s[1], False, limit=200)
    assert groups == [[(50, 100)]]


def test_writes_defer_large_merges_and_a_merge_changes_no_result(
    tmp_path, monkeypatch, large_merges
):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    assert segment_counts(kb) == (3, 3)  # one per change, none merged
    before, stats = results(kb), kb.stats()
    report = kb.merge()
    assert (report.vector_merges, report.lexical_merges) == (1, 1) and not report.busy
    assert report.rows == stats["vectors"] + stats["clauses"]
    assert segment_counts(kb) == (1, 1)
    assert results(kb) == before
    assert kb.stats() == stats | {"generation": stats["generation"] + 1}
    assert not kb.merge().merged  # nothing left to do
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())  # another process: the same
    assert segment_counts(reopened) == (1, 1) and results(reopened) == before
    assert not list(kb.folder.glob(f"{STAGING}*"))
    files = {p.name for pattern in ("vectors-*", "lexical-*") for p in kb.folder.glob(pattern)}
    assert files >= {s.name for s in kb.vectors.segments + kb.bm25.segments}  # and the
    # merged groups', kept for readers of the state before, until the next change sweeps


def test_a_document_removed_while_a_merge_builds_stays_removed(tmp_path, monkeypatch, large_merges):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    gone = next(d for d in kb.documents() if Path(d.source).name == SEEDS["000"].name)
    adopt = KnowledgeBase._adopt

    def remove_then_adopt(self, vectors, lexical, report):
        assert self.remove(gone.doc_id)  # a writer commits between build and commit
        return adopt(self, vectors, lexical, report)

    monkeypatch.setattr(KnowledgeBase, "_adopt", remove_then_adopt)
    report = kb.merge()
    assert report.vector_merges == 1
    merged = kb.vectors.segments[0]
    assert len(merged.deleted) > 0  # the removed windows: tombstones of the merged segment
    for state in (kb, KnowledgeBase(kb.folder, encoder=FakeEncoder())):
        assert len(state.vectors) == state.store.window_count()
        assert len(state.bm25) == state.store.clause_count()
        found = {h.doc_id for r in QUERIES for h in Searcher(state).search(r, 50, mode="dense")}
        assert gone.doc_id not in found
        lexical = {h.doc_id for r in QUERIES for h in Searcher(state).search(r, 50, mode="bm25")}
        assert gone.doc_id not in lexical


def test_a_merge_whose_group_changed_meanwhile_is_left_out(tmp_path, monkeypatch, large_merges):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    adopt = KnowledgeBase._adopt

    def another_merge_first(self, vectors, lexical, report):
        adopt(self, vectors, lexical, MergeReport())  # one that commits first takes the groups
        return adopt(self, vectors, lexical, report)

    monkeypatch.setattr(KnowledgeBase, "_adopt", another_merge_first)
    before = results(kb)
    generation = kb.generation
    assert not kb.merge().merged  # its groups were gone: nothing committed the second time
    assert kb.generation == generation + 1 and results(kb) == before


def test_a_merge_another_process_holds_is_not_waited_for(tmp_path, monkeypatch, large_merges):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    with merge_lock(kb.folder) as ours:
        assert ours
        report = kb.merge()
    assert report.busy and not report.merged and segment_counts(kb) == (3, 3)


KILLED_MERGE = """
import os, sys
from index.kb import KnowledgeBase
from tests.fake_encoder import FakeEncoder
def die(*args):
    os._exit(9)  # the merged files are staged; nothing is committed
KnowledgeBase._adopt = die
KnowledgeBase(sys.argv[1], encoder=FakeEncoder()).merge()
"""


def test_a_kill_before_the_merge_commits_leaves_the_last_commit(
    tmp_path, monkeypatch, large_merges
):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    before, stats = results(kb), kb.stats()
    kb.close()
    code = textwrap.dedent(EVERY_MERGE_LARGE + KILLED_MERGE)
    root = Path(__file__).resolve().parents[1]
    killed = subprocess.run([sys.executable, "-c", code, str(kb.folder)], cwd=root,
                            capture_output=True)  # fmt: skip
    assert killed.returncode == 9, killed.stderr.decode()
    assert list(kb.folder.glob(f"{STAGING}*"))  # the dead merge's files, listed nowhere
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert reopened.stats() == stats and results(reopened) == before
    assert segment_counts(reopened) == (3, 3)
    assert reopened.merge().merged  # the next merge clears them and does the work
    assert not list(kb.folder.glob(f"{STAGING}*")) and results(reopened) == before


def test_the_background_thread_merges_after_a_write(tmp_path, large_merges):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), background_merges=True)
    inline = KnowledgeBase(tmp_path / "inline", encoder=FakeEncoder())
    for batch in BATCHES:
        kb.ingest([SEEDS[key] for key in batch])
        inline.ingest([SEEDS[key] for key in batch])
    assert kb.merger.wait(timeout=120)
    assert segment_counts(kb) == (1, 1) == segment_counts(inline)
    assert results(kb) == results(inline)
    kb.close()
    inline.close()


def test_a_reused_window_id_in_a_merged_group_is_found_once(large_merges):
    """A window removed while its segment's merge is built, then its id given to a new
    window: the merged segment keeps it as a tombstone, the new segment serves it."""
    rule, dim, none = policy("flat"), 8, np.zeros(0, dtype=np.int64)
    vectors = np.random.default_rng(0).standard_normal((6, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    state = vector_segments.SegmentedIndex(dim)
    for generation, ids in enumerate(([1, 2, 3], [4, 5]), 1):
        ids = np.array(ids, dtype=np.int64)
        state = state.changed(none, ids, vectors[ids], generation, rule, limit=0).state
    merges = state.merges_due(3, rule)
    assert [len(m.group) for m in merges] == [2]
    reused = np.array([2], dtype=np.int64)
    state = state.changed(reused, reused, vectors[[0]], 3, rule, limit=0).state
    adopted = state.adopted(merges, 4).state
    assert adopted.ids().tolist() == [1, 2, 3, 4, 5]
    hits = adopted.search(vectors[0], 6)
    assert [i for i, _ in hits].count(2) == 1 and hits[0][0] == 2


def test_exact_segments_that_add_up_to_a_graph_are_merged_into_one():
    """Writes merge only into exact segments; once those hold enough vectors together, the
    background merges them into one approximate segment."""
    rule, dim, none = Policy("auto", "hnsw", 1000), 8, np.zeros(0, dtype=np.int64)
    vectors = np.random.default_rng(1).standard_normal((1200, dim)).astype(np.float32)
    state = vector_segments.SegmentedIndex(dim)
    for generation, start in enumerate(range(0, 1200, 300), 1):
        ids = np.arange(start, start + 300, dtype=np.int64)
        limit = vector_segments.write_limit(rule)
        state = state.changed(none, ids, vectors[ids], generation, rule, limit).state
        assert {s.index.kind for s in state.segments} == {"flat"}
        if start < 900:
            assert not state.merges_due(generation + 1, rule)
    [merge] = state.merges_due(5, rule)
    assert merge.segment.index.kind == "hnsw" and len(merge.segment.index) == 1200


def test_the_server_opens_its_kb_with_background_merges(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    for setting in (True, False):
        settings = Settings(home=tmp_path / "kb", background_merges=setting)
        with TestClient(create_app(settings)) as client:
            assert (client.app.state.kb.merger is not None) is setting


def test_policykb_merge_does_the_merges_due(tmp_path, monkeypatch, large_merges):
    from typer.testing import CliRunner

    from api.cli import app

    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    kb.close()
    runner = CliRunner()
    done = runner.invoke(app, ["merge", "--kb", str(kb.folder)])
    assert done.exit_code == 0 and "merged 1 vector and 1 BM25 segments" in done.output
    again = runner.invoke(app, ["merge", "--kb", str(kb.folder)])
    assert again.exit_code == 0 and "merged 0 vector and 0 BM25" in again.output
    with merge_lock(kb.folder):
        busy = runner.invoke(app, ["merge", "--kb", str(kb.folder)])
    assert busy.exit_code == 1 and "another process is merging" in busy.output


def test_a_merge_lands_when_a_write_merged_part_of_its_group_meanwhile(large_merges):
    """The write's own merge takes the group's smallest segment into a new one: the merge
    still lands, and that segment's rows are tombstones of it, so each row is served once."""
    rule, dim, none = policy("flat"), 8, np.zeros(0, dtype=np.int64)
    vectors = np.random.default_rng(2).standard_normal((12, dim)).astype(np.float32)
    state = vector_segments.SegmentedIndex(dim)
    for generation, ids in enumerate((range(1, 7), range(7, 9)), 1):
        ids = np.array(list(ids), dtype=np.int64)
        state = state.changed(none, ids, vectors[ids], generation, rule, limit=0).state
    [merge] = state.merges_due(3, rule)
    added = np.array([9, 10], dtype=np.int64)
    state = state.changed(none, added, vectors[added], 3, rule, limit=4).state  # takes 7, 8
    assert sorted(s.live for s in state.segments) == [4, 6]
    update = state.adopted([merge], 4)
    assert update.written and update.state.ids().tolist() == list(range(1, 11))
    assert sorted(s.live for s in update.state.segments) == [4, 6]
    for query in vectors[1:11]:
        found = [i for i, _ in update.state.search(query, 10)]
        assert len(found) == len(set(found)) == 10


def test_a_kb_merge_lands_beside_a_write_that_merges(tmp_path, monkeypatch, large_merges):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    inline = KnowledgeBase(tmp_path / "inline", encoder=FakeEncoder())
    for batch in (*BATCHES, ("002",)):
        inline.ingest([SEEDS[key] for key in batch])
    adopt = KnowledgeBase._adopt

    def write_then_adopt(self, vectors, lexical, report):
        """A write whose own merge takes the new document and the smallest segment only."""
        new = parse_file(SEEDS["002"]).clauses
        windows = sum(len(spans(c.text)) for c in new)
        smallest = (min(s.live for s in self.vectors.segments),
                    min(s.live_count for s in self.bm25.segments))  # fmt: skip
        monkeypatch.setattr(vector_segments, "SYNC_ROWS", smallest[0] + windows)
        monkeypatch.setattr(lexical_segments, "WRITE_LIMIT", smallest[1] + len(new))
        self.ingest([SEEDS["002"]])
        for planned, now in ((vectors, self.vectors), (lexical, self.bm25)):
            assert len(set(planned[0].group) - {s.name for s in now.segments}) == 1
        return adopt(self, vectors, lexical, report)

    monkeypatch.setattr(KnowledgeBase, "_adopt", write_then_adopt)
    report = kb.merge()
    assert (report.vector_merges, report.lexical_merges) == (1, 1)
    for state in (kb, KnowledgeBase(kb.folder, encoder=FakeEncoder())):
        assert segment_counts(state) == (2, 2)
        assert len(state.vectors) == state.store.window_count()
        assert len(state.bm25) == state.store.clause_count()
        assert results(state) == results(inline)


def test_a_merge_beside_a_state_rebuilt_in_memory_deletes_no_listed_file(
    tmp_path, monkeypatch, large_merges
):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    kb.close()
    listed = sorted(kb.folder.glob("vectors-*"))
    listed[0].unlink()  # lost: the vectors are rebuilt in memory from SQLite
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert not reopened.vectors.on_disk
    report = reopened.merge()
    assert (report.vector_merges, report.lexical_merges) == (0, 1)
    assert all(path.exists() for path in listed[1:])
    assert not reopened.vectors.on_disk and results(reopened) == results(reopened)
    reopened.ingest([SEEDS["002"]])  # the next change writes the vectors whole
    third = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert third.vectors.on_disk and len(third.vectors) == third.store.window_count()


def test_a_kb_closed_during_a_merge_commits_nothing(tmp_path, monkeypatch, large_merges):
    kb = deferred_kb(tmp_path / "kb", monkeypatch)
    generation, adopt = kb.generation, KnowledgeBase._adopt

    def close_then_adopt(self, vectors, lexical, report):
        self.close()
        return adopt(self, vectors, lexical, report)

    monkeypatch.setattr(KnowledgeBase, "_adopt", close_then_adopt)
    with pytest.raises(MergeCancelled):
        kb.merge()
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert reopened.generation == generation and segment_counts(reopened) == (3, 3)
    assert not list(kb.folder.glob(f"{STAGING}*"))


def test_exact_segments_merge_into_a_graph_no_larger_than_the_policy_allows(monkeypatch):
    monkeypatch.setattr(vector_segments, "MERGES", MergePolicy(max_merged=700))
    rule, dim, none = Policy("auto", "hnsw", 500), 8, np.zeros(0, dtype=np.int64)
    vectors = np.random.default_rng(3).standard_normal((1200, dim)).astype(np.float32)
    state = vector_segments.SegmentedIndex(dim)
    for generation, start in enumerate(range(0, 1200, 300), 1):
        ids = np.arange(start, start + 300, dtype=np.int64)
        state = state.changed(none, ids, vectors[ids], generation, rule, limit=0).state
    [merge] = state.merges_due(5, rule)
    assert len(merge.group) == 2 and len(merge.segment.index) == 600
