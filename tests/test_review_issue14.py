"""Review of the document map (index/doc_map.py): a map read beside another process's change is
of one generation, a change that rolls back leaves no map behind, and the KB's last document
removed (a change that empties the map)."""

from __future__ import annotations

import numpy as np
import pytest

from index.doc_map import DocMap, Members
from index.filters import Filters
from index.kb import KnowledgeBase
from index.store import Store
from tests.fake_encoder import FakeEncoder

HANGZHOU = """杭州市会计工作管理办法

第一条 为了规范本市会计工作，制定本办法。

第二条 市财政局负责本市会计工作的管理。

杭州市人民政府

2019年12月1日
"""


@pytest.fixture
def two_cities(tmp_path):
    """A KB of two municipal documents."""
    files = []
    for city in ("杭州", "宁波"):
        path = tmp_path / f"{city}.txt"
        path.write_text(HANGZHOU.replace("杭州", city), encoding="utf-8")
        files.append(path)
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    assert len(kb.ingest(files).added) == 2
    yield kb
    kb.close()


def _documents(members: Members) -> set[int]:
    return set(members.docs.tolist())


def test_a_map_read_beside_another_writer_is_of_one_generation(two_cities, monkeypatch):
    """A server's KnowledgeBase loads its map (warm) while a CLI ingest in another process
    commits a removal between the map's queries: the map kept for the generation read must
    hold that generation's documents in all its parts, not its clauses of one state and its
    windows and documents of the next."""
    writer = two_cities
    server = KnowledgeBase(writer.folder, encoder=FakeEncoder())
    ningbo = next(d.doc_id for d in writer.documents() if "宁波" in d.title)
    original, removed = Store.window_ranges, []

    def window_ranges(self):
        if not removed:  # another process commits between clause_ranges and window_ranges
            removed.append(writer.remove(ningbo))
        return original(self)

    monkeypatch.setattr(Store, "window_ranges", window_ranges)
    before = server.generation
    server.doc_map  # noqa: B018
    assert removed == [True]
    for generation in (before, before + 1):
        held = server._doc_maps.held(generation)
        if held is None:
            continue
        docs = set(held.documents.rowids.tolist())
        assert _documents(held.clauses) == _documents(held.windows) == docs, generation
    with server.reading() as snapshot:  # and what a search reads is the state it is at
        allowed = snapshot.allowed_clauses(Filters(region="宁波"), [])
        assert np.array_equal(allowed, snapshot.store.allowed_clauses(Filters(region="宁波"), []))
    server.close()


def test_a_change_that_rolls_back_keeps_no_derived_map(two_cities, monkeypatch):
    """A change that fails after its map was derived: no map is kept for the generation it
    would have made, so the change that next makes that generation is read right."""
    kb = two_cities
    kb.doc_map  # noqa: B018 - loaded: the change derives the next one
    generation = kb.generation
    hangzhou = next(d.doc_id for d in kb.documents() if "杭州" in d.title)
    derived = []
    changed = DocMap.changed
    monkeypatch.setattr(DocMap, "changed", lambda *a: derived.append(changed(*a)) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        kb.remove(hangzhou)
    assert derived and kb.generation == generation
    assert kb._doc_maps.held(generation + 1) is None
    monkeypatch.undo()
    other = KnowledgeBase(kb.folder, encoder=FakeEncoder())  # another process makes it
    assert other.remove(hangzhou)
    other.close()
    with kb.reading() as snapshot:
        assert snapshot.generation == generation + 1
        assert not len(snapshot.allowed_clauses(Filters(region="杭州"), []))


def test_a_change_to_no_members_ignores_ids_it_does_not_hold():
    """An empty map (a KB without windows) asked to drop ids it never held: they are not
    there to drop, and the added ones come in."""
    empty = Members.of_rows(np.zeros(0, np.int64), np.zeros(0, np.int64))
    got = empty.changed(np.array([3, 4], np.int64), (np.array([5, 6], np.int64), np.array([1, 1])))
    assert got.ids.tolist() == [5, 6] and got.owners.tolist() == [1, 1]
    assert not len(empty.changed(np.array([3], np.int64), (empty.ids, empty.docs)).ids)


def test_removing_every_document_after_a_filtered_search(two_cities):
    """The KB's last document removed while its map is loaded (a filtered search ran): the
    removal goes through and the map derived is empty, as one read afresh."""
    kb = two_cities
    for doc in kb.documents():
        with kb.reading() as snapshot:  # loads the map the change derives the next from
            assert len(snapshot.allowed_clauses(Filters(level="municipal"), []))
        assert kb.remove(doc.doc_id)
    assert kb._doc_maps.held(kb.generation) is not None
    with kb.reading() as snapshot:
        assert not len(snapshot.allowed_windows(Filters(level="municipal"), []))
        assert not len(snapshot.doc_map.clauses.ids) and not len(snapshot.doc_map.windows.ids)
