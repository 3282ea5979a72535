"""KB mechanics with a fake encoder: ingest, update, remove, atomicity, manifest, fusion."""

from __future__ import annotations

import shutil

import pytest

from index.filters import FilterError, Filters
from index.kb import KnowledgeBase
from index.manifest import ManifestMismatch
from index.search import QueryError, Searcher, _Candidate, _fuse
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder


@pytest.fixture
def kb(tmp_path):
    base = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    base.ingest([SEEDS["000"], SEEDS["004"]])
    yield base
    base.close()


def counts(kb: KnowledgeBase) -> tuple[int, int, int]:
    stats = kb.stats()
    return stats["documents"], stats["clauses"], stats["vectors"]


def test_ingest_writes_documents_clauses_and_one_vector_per_window(kb):
    documents, clauses, vectors = counts(kb)
    assert (documents, clauses) == (2, 30 + 15)
    assert vectors == kb.store.window_count() >= clauses
    assert (kb.folder / "manifest.json").exists()


def test_reingest_is_idempotent_and_embeds_nothing(kb):
    before = counts(kb)
    kb.encoder.passages_encoded = 0
    report = kb.ingest([SEEDS["000"], SEEDS["004"]])
    assert len(report.unchanged) == 2 and not report.added and not report.updated
    assert kb.encoder.passages_encoded == 0
    assert counts(kb) == before


def test_changed_file_replaces_its_old_version(kb, tmp_path):
    edited = tmp_path / SEEDS["004"].name
    text = SEEDS["004"].read_text(encoding="utf-8")
    edited.write_text(text.replace("机器人", "无人机"), encoding="utf-8")
    before = counts(kb)
    kb.encoder.passages_encoded = 0
    report = kb.ingest([edited])
    assert len(report.updated) == 1
    assert counts(kb) == before
    assert kb.encoder.passages_encoded == 1  # only the edited clause's window is new
    hits = Searcher(kb).search("“无人机”")
    assert len(hits) == 1 and "无人机" in hits[0].text
    assert not Searcher(kb).search("“机器人、工业互联网”")


def test_remove_deletes_clauses_and_vectors(kb):
    doc_id = next(d.doc_id for d in kb.documents() if "重庆" in d.title)
    assert kb.remove(doc_id)
    assert counts(kb)[:2] == (1, 30)
    assert counts(kb)[2] == kb.store.window_count()
    assert not kb.remove(doc_id)
    assert not Searcher(kb).search("“机器人”")


def test_failed_ingest_leaves_the_kb_as_it_was(kb, monkeypatch):
    before = counts(kb)
    files = sorted(p.name for p in kb.folder.iterdir())
    original = kb.store.insert_document
    calls = []

    def fail_on_second(parsed, windows):
        calls.append(parsed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        original(parsed, windows)

    monkeypatch.setattr(kb.store, "insert_document", fail_on_second)
    with pytest.raises(KeyboardInterrupt):
        kb.ingest([SEEDS["001"], SEEDS["002"]])
    assert counts(kb) == before
    assert sorted(p.name for p in kb.folder.iterdir()) == files
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert counts(reopened) == before


def test_bad_files_are_reported_and_the_rest_goes_in(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    report = kb.ingest([empty, SEEDS["002"]])
    assert [path for path, _ in report.failed] == [str(empty)]
    assert len(report.added) == 1


def test_vector_file_lost_is_rebuilt_from_sqlite(kb):
    before = counts(kb)
    for path in kb.folder.glob("vectors-*.faiss"):
        path.unlink()
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert counts(reopened) == before


def test_opening_with_another_model_is_refused(kb):
    with pytest.raises(ManifestMismatch, match="model: KB has 'fake-bigrams'"):
        KnowledgeBase(kb.folder, encoder=FakeEncoder(name="other-model"))
    with pytest.raises(ManifestMismatch, match="dim"):
        KnowledgeBase(kb.folder, encoder=FakeEncoder(dim=32)).encoder  # noqa: B018


def test_filters(kb):
    searcher = Searcher(kb)
    chongqing = searcher.search("产教融合", 50, Filters(region="重庆"))
    assert chongqing and {h.region for h in chongqing} == {"重庆市"}
    national = searcher.search("产教融合", 50, Filters(level="national"))
    assert national and {h.level for h in national} == {"national"}
    assert not searcher.search("产教融合", 5, Filters(year_from=2030))
    taxes = searcher.search("税收", 50, Filters(unit="市税务局", region="重庆市"))
    assert taxes and "12．" in [h.label for h in taxes]
    for hit in taxes:
        assert "国家税务总局重庆市税务局" in {u["canonical"] for u in hit.units}
    with pytest.raises(FilterError):
        Filters(level="city")


def test_queries_that_cannot_be_searched(kb):
    searcher = Searcher(kb)
    for query in ("", "   ", "政" * 501):
        with pytest.raises(QueryError):
            searcher.search(query)


def test_rrf_fusion_against_hand_computed_scores():
    dense = [_Candidate(1, ranks={"dense": 1}), _Candidate(2, ranks={"dense": 2})]
    bm25 = [_Candidate(2, ranks={"bm25": 1}), _Candidate(3, ranks={"bm25": 2})]
    fused = _fuse({"dense": dense, "bm25": bm25})
    assert [c.clause for c in fused] == [2, 1, 3]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)


def test_kb_folder_copy_opens_the_same(kb, tmp_path):
    copy = tmp_path / "copy"
    kb.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copytree(kb.folder, copy)
    assert counts(KnowledgeBase(copy, encoder=FakeEncoder())) == counts(kb)
