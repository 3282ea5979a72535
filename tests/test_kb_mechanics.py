"""KB mechanics with a fake encoder: ingest, update, remove, atomicity, manifest, fusion."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from index.filters import FilterError, Filters
from index.kb import KnowledgeBase
from index.manifest import ManifestMismatch
from index.search import QueryError, Searcher, _Candidate, _fuse
from tests.conftest import SEEDS, editable_seed_kb
from tests.fake_encoder import FakeEncoder


@pytest.fixture
def kb(tmp_path):
    """A KB of copies of 000 and 004 under tmp_path/docs, so a test may edit them in place."""
    base = editable_seed_kb(tmp_path)
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


def test_reingest_is_idempotent_and_embeds_nothing(kb, tmp_path):
    before = counts(kb)
    kb.encoder.passages_encoded = 0
    report = kb.ingest(sorted((tmp_path / "docs").iterdir()))
    assert len(report.unchanged) == 2 and not report.added and not report.updated
    assert kb.encoder.passages_encoded == 0
    assert counts(kb) == before


def test_changed_file_replaces_its_old_version(kb, tmp_path):
    edited = tmp_path / "docs" / SEEDS["004"].name
    text = edited.read_text(encoding="utf-8")
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
    fused = _fuse({"dense": dense, "bm25": bm25})  # shipped: dense 1.2, BM25 0.8, k 60
    assert [c.clause for c in fused] == [2, 1, 3]
    assert fused[0].score == pytest.approx(1.2 / 62 + 0.8 / 61)
    assert fused[1].score == pytest.approx(1.2 / 61)
    assert fused[2].score == pytest.approx(0.8 / 62)


def test_kb_folder_copy_opens_the_same(kb, tmp_path):
    copy = tmp_path / "copy"
    kb.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copytree(kb.folder, copy)
    assert counts(KnowledgeBase(copy, encoder=FakeEncoder())) == counts(kb)


# --- who may replace a document --------------------------------------------------------


def chongqing(kb: KnowledgeBase):
    return next(d for d in kb.documents() if d.region == "重庆市")


def test_another_file_claiming_a_doc_id_is_refused_and_the_old_document_kept(kb, tmp_path):
    old = chongqing(kb)
    before = counts(kb)
    intruder = tmp_path / "other" / "intruder.txt"
    intruder.parent.mkdir()
    shutil.copy(SEEDS["002"], intruder)
    intruder.with_name("intruder.meta.json").write_text(f'{{"doc_id": "{old.doc_id}"}}')
    report = kb.ingest([intruder])
    [(path, reason)] = report.failed
    assert path == str(intruder) and not report.updated and not report.added
    assert f"doc_id {old.doc_id} already belongs to" in reason and old.source in reason
    assert counts(kb) == before and chongqing(kb) == old


def test_another_file_with_the_same_wenhao_is_refused(kb, tmp_path):
    twin = tmp_path / "twin.txt"
    shutil.copy(SEEDS["002"], twin)
    sidecar = '{"doc_number": "渝发改社会〔2023〕1271号", "doc_id": "twin-1"}'
    twin.with_name("twin.meta.json").write_text(sidecar)
    report = kb.ingest([twin])
    [(path, reason)] = report.failed
    assert "文号 渝发改社会〔2023〕1271号 already belongs to" in reason
    assert chongqing(kb).source in reason and path == str(twin)
    assert counts(kb)[0] == 2


def test_an_identical_copy_elsewhere_is_unchanged(kb, tmp_path):
    copy = tmp_path / "copy.txt"
    shutil.copy(SEEDS["004"], copy)
    report = kb.ingest([copy])
    assert report.unchanged == [chongqing(kb).doc_id] and not report.failed


def test_the_same_file_with_a_new_wenhao_replaces_its_old_self(kb, tmp_path):
    path = tmp_path / "docs" / SEEDS["004"].name
    old = chongqing(kb)
    path.with_name(path.stem + ".meta.json").write_text('{"doc_number": "渝发改社会〔2024〕1号"}')
    report = kb.ingest([path])
    assert len(report.updated) == 1 and not report.failed
    new = chongqing(kb)
    assert new.doc_id != old.doc_id and new.doc_number == "渝发改社会〔2024〕1号"
    assert kb.document(old.doc_id) is None and counts(kb)[0] == 2


def test_an_edited_sidecar_updates_the_document(kb, tmp_path):
    path = tmp_path / "docs" / SEEDS["004"].name
    path.with_name(path.stem + ".meta.json").write_text('{"date": "2023-12-01"}')
    report = kb.ingest([path])
    assert len(report.updated) == 1 and chongqing(kb).date == "2023-12-01"


def test_a_clause_without_breaks_too_long_to_index_is_refused(kb, tmp_path):
    huge = tmp_path / "huge.txt"
    huge.write_text("关于推进产教融合的通知\n" + "加强产教融合。" * 8000, encoding="utf-8")
    before = counts(kb)
    report = kb.ingest([huge])
    [(path, reason)] = report.failed
    assert path == str(huge) and "over the limit of 50,000" in reason
    assert counts(kb) == before


# --- readers see one state, and the newest --------------------------------------------


def test_a_snapshot_keeps_its_state_while_the_kb_changes(kb):
    with kb.reading() as before:
        documents = len(before.documents())
        generation = before.generation
        kb.remove(chongqing(kb).doc_id)
        assert len(before.documents()) == documents and before.generation == generation
        assert len(before.vectors) == before.stats()["windows"]
        assert Searcher(before).search("机器人", 5, mode="dense")
    with kb.reading() as after:
        assert len(after.documents()) == documents - 1 and after.generation == generation + 1
        assert len(after.vectors) == after.stats()["windows"]


def test_a_reader_sees_another_writers_changes_at_once(kb, tmp_path):
    """Two KnowledgeBase objects on one folder stand for the server and a CLI process."""
    server = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    searcher = Searcher(server)
    assert searcher.search("机器人", 5, mode="dense")  # loads the vectors it starts with
    kb.remove(chongqing(kb).doc_id)
    for mode in ("dense", "hybrid", "bm25"):  # once a KeyError in _dense: stale vectors
        assert all(h.region != "重庆市" for h in searcher.search("机器人", 20, mode=mode))
    kb.ingest([SEEDS["002"]])
    stats = server.stats()
    assert stats["documents"] == 2 and stats["vectors"] == stats["windows"]
    assert searcher.search("市域产教联合体", 3, mode="dense")[0].doc_id == kb.documents()[0].doc_id
    server.close()


def test_concurrent_queries_share_model_calls_and_get_their_own_vectors(kb):
    texts = [f"产教融合第{n}问" for n in range(32)]
    expected = {t: kb.encoder.encode_queries([t])[0] for t in texts}
    got: dict[str, np.ndarray] = {}
    threads = [threading.Thread(target=lambda t=t: got.update({t: kb.encode_query(t)}))
               for t in texts]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.allclose(got[t], expected[t]) for t in texts)


def test_a_model_error_reaches_the_searcher_and_the_batcher_goes_on(kb, monkeypatch):
    def broken(texts):
        raise RuntimeError("model fell over")

    monkeypatch.setattr(kb.encoder, "encode_queries", broken)
    with pytest.raises(RuntimeError, match="model fell over"):
        kb.encode_query("产教融合")
    monkeypatch.undo()
    assert kb.encode_query("产教融合").shape == (kb.encoder.dim,)


def test_control_characters_in_a_query_are_spaces(kb):
    for mode in ("phrase", "bm25", "hybrid"):
        assert Searcher(kb).search("产教\x00融合", 3, mode=mode) is not None
