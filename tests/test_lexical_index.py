"""The in-memory BM25 index against its reference, SQLite FTS5 itself: same clauses, same
order, the same scores, after ingest, removal, merge, a failed change, and on an old KB."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import numpy as np
import pytest

from index.filters import Filters
from index.kb import KnowledgeBase
from index.lexical import bm25_match
from index.lexical_index import segments as lexical_segments
from index.lexical_index.tokens import tokens
from index.merge_policy import MergePolicy
from index.search import Searcher
from tests.conftest import ROOT, SEEDS, shared
from tests.fake_encoder import FakeEncoder

KUAIJI = ("corpora/lawrefbook/经济法/会计法(2017-11-04).md",
          "corpora/lawrefbook/经济法/会计法(2024-06-28).md")  # fmt: skip
EVERY_VERSION = Filters(status="all")
LIMIT = 100_000  # every match: ties at a cut-off cannot differ


def _queries() -> list[str]:
    lines = (ROOT / "tests/eval/queries.jsonl").read_text(encoding="utf-8").splitlines()
    asked = [json.loads(line)["text"] for line in lines[:40]]
    return [*asked, "会计凭证和会计账簿", "单位负责人对本单位的会计工作负责", "第一条"]


QUERIES = _queries()


def _built(folder) -> KnowledgeBase:
    """The seeds and two versions of 会计法 (the older one superseded)."""
    base = KnowledgeBase(folder, encoder=FakeEncoder())
    report = base.ingest([*SEEDS.values(), *(shared(p) for p in KUAIJI)])
    assert not report.failed, report.failed
    return base


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One KB for the tests that only read it."""
    base = _built(tmp_path_factory.mktemp("lexical") / "kb")
    yield base
    base.close()


@pytest.fixture
def kb(tmp_path):
    """A KB of its own, for a test that changes it."""
    base = _built(tmp_path / "kb")
    yield base
    base.close()


def _reference(kb, match: str, filters: Filters = EVERY_VERSION, limit: int = LIMIT):
    with kb.reading() as snapshot:
        return snapshot.store.fts("clauses_bm25", match, limit, filters, [])


def _fast(kb, match: str, filters: Filters = EVERY_VERSION, limit: int = LIMIT):
    with kb.reading() as snapshot:
        allowed = None if filters.empty else snapshot.store.allowed_clauses(filters, [])
        return snapshot.bm25.search(match, limit, allowed)


def _assert_same(kb, filters: Filters = EVERY_VERSION) -> int:
    """Every query ranks as FTS5 ranks it; returns how many the fast path answered."""
    answered = 0
    for query in QUERIES:
        match = bm25_match(query)
        found = _fast(kb, match, filters)
        if found is None:  # a multi-token phrase: the search falls back to FTS5
            continue
        expected = _reference(kb, match, filters)
        assert [c for c, _ in found] == [c for c, _ in expected], query
        assert np.allclose([s for _, s in found], [s for _, s in expected], rtol=0, atol=1e-4)
        answered += 1
    assert answered >= len(QUERIES) - 5
    return answered


def test_tokens_are_fts5s_own(built):
    """The Python tokenizer cuts every stored row as FTS5 did (its fts5vocab instances)."""
    db = sqlite3.connect(f"file:{built.folder / 'kb.sqlite'}?mode=ro", uri=True)
    db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, clauses_bm25, instance)")
    theirs: dict[int, Counter] = {}
    for term, row in db.execute("SELECT term, doc FROM v"):
        theirs.setdefault(row, Counter())[term] += 1
    rows = dict(db.execute("SELECT rowid, words FROM clauses_bm25"))
    db.close()
    assert len(rows) > 300
    assert {row: Counter(tokens(words)) for row, words in rows.items()} == {
        row: theirs.get(row, Counter()) for row in rows
    }


def test_scores_and_order_equal_fts5(built):
    _assert_same(built)
    _assert_same(built, Filters())  # the default: superseded versions left out, as FTS5's SQL does


def test_a_multi_token_phrase_is_left_to_fts5(built):
    assert built.bm25.search('"covid-19" OR "会计"', 10) is None
    assert built.bm25.search('"" OR "会计"', 10) == built.bm25.search('"会计"', 10)


def test_a_selective_filter_still_returns_k(built):
    match = bm25_match("会计工作")
    seed = next(d.doc_id for d in built.documents() if "会计" not in d.title)
    selective = Filters(doc=seed, status="all")
    found = _fast(built, match, selective, limit=3)
    assert len(found) == 3 and found == _reference(built, match, selective, limit=3)
    assert not {c for c, _ in found} & {c for c, _ in _fast(built, match, limit=3)}


def test_the_default_leaves_superseded_versions_out(built):
    old = min(built.documents(), key=lambda d: d.date if "会计" in d.title else "9")
    hidden = {c for c in built.store.clause_ids_of(old.doc_id)}
    match = bm25_match("会计凭证")
    everything = {c for c, _ in _fast(built, match)}
    default = {c for c, _ in _fast(built, match, Filters())}
    assert everything & hidden and not default & hidden


def test_removal_leaves_tombstones_and_exact_statistics(kb):
    doc_id = next(d.doc_id for d in kb.documents() if "会计" not in d.title)
    kb.remove(doc_id)
    assert any(len(s.deleted) for s in kb.bm25.segments)  # not merged away: tombstones
    assert len(kb.bm25) == kb.stats()["clauses"]
    _assert_same(kb)


def test_merge_keeps_scores(kb, monkeypatch):
    doc_id = next(d.doc_id for d in kb.documents() if "会计" not in d.title)
    source = kb.document(doc_id).source
    kb.remove(doc_id)
    monkeypatch.setattr(lexical_segments, "MERGES", MergePolicy(max_segments=1))
    kb.ingest([source])  # a second segment: over the limit, merged with the first
    assert len(kb.bm25.segments) == 1 and not len(kb.bm25.segments[0].deleted)
    catalog = kb.store.db.execute("SELECT name FROM lexical_segments").fetchall()
    assert [r[0] for r in catalog] == [kb.bm25.segments[0].name]  # the last state's file stays
    _assert_same(kb)  # for its readers until the next change sweeps it


def test_a_failed_change_leaves_the_previous_state(kb, monkeypatch):
    before = {q: _fast(kb, bm25_match(q)) for q in QUERIES[:10]}
    files = sorted(p.name for p in kb.folder.glob("lexical-*"))
    generation = kb.generation
    commit = lexical_segments.Update.commit

    def failing(self, folder, db, paths):
        commit(self, folder, db, paths)  # files written, catalog rows in the transaction
        raise RuntimeError("killed")

    monkeypatch.setattr(lexical_segments.Update, "commit", failing)
    with pytest.raises(RuntimeError):
        kb.remove(kb.documents()[0].doc_id)
    monkeypatch.undo()
    assert kb.generation == generation
    assert sorted(p.name for p in kb.folder.glob("lexical-*")) == files
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert {q: _fast(reopened, bm25_match(q)) for q in before} == before
    reopened.close()
    stray = kb.folder / "lexical-99-0badf11e.npz"  # what a kill mid-change leaves behind
    stray.write_bytes(b"half a segment")
    kb.remove(kb.documents()[0].doc_id)
    assert not stray.exists()


def _without_catalog(kb) -> None:
    """Make ``kb`` a KB built before the BM25 catalog: no catalog tables, no segment files."""
    with kb.store.transaction():
        kb.store.db.execute("DROP TABLE lexical_segments")
        kb.store.db.execute("DROP TABLE lexical_deletes")
    for path in kb.folder.glob("lexical-*"):
        path.unlink()


def _catalog_rows(kb) -> list[tuple] | None:
    db = sqlite3.connect(f"file:{kb.folder / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT name, rows FROM lexical_segments").fetchall()
    except sqlite3.OperationalError:  # no such table
        return None
    finally:
        db.close()


def test_an_old_kb_without_the_catalog_is_written_out_once(kb, monkeypatch):
    _without_catalog(kb)
    old = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    _assert_same(old)  # rebuilt from FTS5, then written out
    files = [p.name for p in kb.folder.glob("lexical-*")]
    assert len(files) == 1 and old.bm25.on_disk
    assert _catalog_rows(kb) == [(files[0], old.stats()["clauses"])]
    old.close()
    monkeypatch.setattr(type(kb.store), "bm25_rows", lambda *a: pytest.fail("rebuilt again"))
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    _assert_same(reopened)  # read from the file, not rebuilt
    monkeypatch.undo()
    reopened.remove(reopened.documents()[0].doc_id)  # incremental now: tombstones, same file
    assert [s.name for s in reopened.bm25.segments] == files
    assert len(reopened.bm25.segments[0].deleted)
    _assert_same(reopened)
    reopened.close()


def test_an_old_kb_is_not_written_while_a_writer_holds_the_lock(kb):
    _without_catalog(kb)
    writer = sqlite3.connect(kb.folder / "kb.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process at work on a change
    old = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    _assert_same(old)  # served from memory
    assert not old.bm25.on_disk and not list(kb.folder.glob("lexical-*"))
    writer.execute("ROLLBACK")
    writer.close()
    assert _catalog_rows(kb) is None
    state = old.bm25
    assert state.persisted(old.folder, old.folder / "kb.sqlite", old.generation - 1) is None
    assert not list(kb.folder.glob("lexical-*")) and _catalog_rows(kb) is None  # a stale state
    old.close()
    again = KnowledgeBase(kb.folder, encoder=FakeEncoder())  # the lock is free: written now
    assert again.bm25.on_disk and len(_catalog_rows(kb)) == 1
    _assert_same(again)
    again.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_file_is_rebuilt_from_fts5(kb, damage):
    for path in kb.folder.glob("lexical-*"):
        data = path.read_bytes()
        path.write_bytes(b"not a segment" if damage == "garbage" else data[: len(data) // 2])
    damaged = KnowledgeBase(kb.folder, encoder=FakeEncoder())
    assert not damaged.bm25.on_disk
    _assert_same(damaged)
    damaged.close()


@pytest.mark.parametrize("query", ["单位负责人对本单位的会计工作负责", "会计资料保管 2.5"])
def test_searcher_ranks_as_fts5_did(built, query):
    """Through Searcher: the in-memory index, or FTS5 itself for a multi-token term (2.5)."""
    match = bm25_match(query)
    if "2.5" in query:
        assert built.bm25.search(match, 10) is None
    expected = [c for c, _ in _reference(built, match, Filters(), limit=100)]
    assert len(expected) > 10
    assert Searcher(built).ranking(query, 100, mode="bm25") == expected


def test_every_version_is_searched_without_a_mask(built):
    """status "all" alone restricts nothing: no clause-id mask is read, and superseded
    versions' clauses are ranked as FTS5 ranks them."""
    assert EVERY_VERSION.everything
    assert not Filters().everything and not Filters(status="all", level="national").everything
    searcher = Searcher(built)
    for query in ("会计凭证和会计账簿", "单位负责人对本单位的会计工作负责"):
        expected = built.store.fts("clauses_bm25", bm25_match(query), 50, EVERY_VERSION, [])
        assert searcher.ranking(query, 50, EVERY_VERSION, "bm25") == [c for c, _ in expected]
    superseded = set(built.store.superseded_clauses().tolist())
    shown = searcher.ranking("会计凭证和会计账簿", 50, EVERY_VERSION, "dense")
    assert superseded & set(shown)
    assert not superseded & set(searcher.ranking("会计凭证和会计账簿", 50, Filters(), "dense"))
