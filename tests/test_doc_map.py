"""Filter masks from index.doc_map against their reference, one SQL join per mask
(Store.allowed_windows, Store.allowed_clauses): the same ids over many filter combinations,
after ingests, a new version (the old one superseded), removals and a re-ingest that reuses
SQLite's ids; the map a change derives equals one read afresh."""

from __future__ import annotations

import random

import numpy as np
import pytest

from index.doc_map import DocMap
from index.filters import VERSION_CHOICES, Filters
from index.kb import KnowledgeBase
from index.search import Searcher
from tests.conftest import SEEDS, shared
from tests.fake_encoder import FakeEncoder

KUAIJI = ("corpora/lawrefbook/经济法/会计法(2017-11-04).md",
          "corpora/lawrefbook/经济法/会计法(2024-06-28).md")  # fmt: skip
LOCAL = """杭州市会计工作管理办法

第一条 为了规范本市会计工作，根据《中华人民共和国会计法》，制定本办法。

第二条 市财政局负责本市会计工作的管理，各区县财政局按照职责分工负责。

第三条 本办法自2020年1月1日起施行，有效期5年。

杭州市人民政府

2019年12月1日
"""
DAYS = (None, "2018-01-01", "2020-06-01", "2024-07-01", "2031-01-01")
YEARS = ((None, None), (2019, None), (None, 2019), (2017, 2023), (2030, None))


def _combinations(kb: KnowledgeBase, count: int, seed: int) -> list[Filters]:
    """Each filter value alone, then ``count`` random combinations, from the KB's own values
    (regions and their prefixes, doc ids, 文号, parts of titles, units and aliases)."""
    docs = kb.documents()
    regions = {d.region for d in docs if d.region} | {d.region[:2] for d in docs if d.region}
    refs = [d.doc_id for d in docs[:3]] + [d.doc_number for d in docs if d.doc_number]
    refs += [d.title[2:8] for d in docs[:4]] + ["会计法", "不存在的文件"]
    units = [r["canonical"] for r in kb.store.unit_names()[:6]] + ["市发改委", "财政局", "无此单位"]
    values = {
        "level": [None, "national", "provincial", "municipal", "county"],
        "region": [None, *sorted(regions), "浙江", "100%_"],
        "doc": [None, *refs],
        "unit": [None, *units],
        "years": list(YEARS),
        "status": [None, *VERSION_CHOICES],
        "in_force_on": list(DAYS),
    }
    rng = random.Random(seed)
    picked = [{name: value} for name, options in values.items() for value in options[1:]]
    picked += [{n: rng.choice(o) for n, o in values.items()} for _ in range(count)]
    out = []
    for chosen in picked:
        year_from, year_to = chosen.pop("years", (None, None))
        out.append(Filters(**chosen, year_from=year_from, year_to=year_to))
    return out


def _assert_masks_equal(kb: KnowledgeBase, filters: list[Filters]) -> int:
    """Fast and SQL masks agree for every filter; returns how many masks were not empty."""
    searcher, nonempty = Searcher(kb), 0
    with kb.reading() as snapshot:
        for given in filters:
            units = searcher.unit_names(given.unit) if given.unit else []
            windows = np.sort(snapshot.store.allowed_windows(given, units))
            clauses = snapshot.store.allowed_clauses(given, units)
            assert np.array_equal(snapshot.allowed_windows(given, units), windows), given
            assert np.array_equal(snapshot.allowed_clauses(given, units), clauses), given
            nonempty += bool(len(clauses))
    return nonempty


def _assert_map_is_fresh(kb: KnowledgeBase) -> None:
    """The map the last change derived equals one read from SQLite, as id ranges per
    document and id by id."""
    derived, fresh = kb.doc_map, DocMap.load(kb.store)
    by_id = {"clauses": kb.store.clause_documents(), "windows": kb.store.window_documents()}
    for kind in ("clauses", "windows"):
        ours, theirs = getattr(derived, kind), getattr(fresh, kind)
        for runs in ("lows", "sizes", "docs"):
            assert np.array_equal(getattr(ours, runs), getattr(theirs, runs)), (kind, runs)
        ids, docs = by_id[kind]
        assert np.array_equal(ours.ids, ids) and np.array_equal(ours.owners, docs)
        assert len(ours.lows) == len(set(docs.tolist()))  # one run per document


@pytest.fixture(scope="module")
def changing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("doc_map")
    local = folder / "hangzhou.txt"
    local.write_text(LOCAL, encoding="utf-8")
    kb = KnowledgeBase(folder / "kb", encoder=FakeEncoder())
    report = kb.ingest([*SEEDS.values(), local])
    assert not report.failed, report.failed
    yield kb
    kb.close()


def test_masks_equal_sql_over_many_filters_and_changes(changing):
    """Over 5 states of one KB: ingest, a new version, a removal, a removal of the newest
    document and its ingest again (SQLite reuses the highest ids); the map of each state is
    derived from the last (a filtered search loaded it), and equals a fresh read."""
    kb = changing
    steps = [
        ("ingest", [shared(KUAIJI[0])]),
        ("ingest", [shared(KUAIJI[1])]),  # the 2017 text is now superseded
        ("remove", [SEEDS["001"]]),
        ("remove", [shared(KUAIJI[1])]),
        ("ingest", [shared(KUAIJI[1])]),
    ]
    seen_superseded = False
    for step, (action, paths) in enumerate([("start", []), *steps]):
        if action == "ingest":
            report = kb.ingest(paths)
            assert report.added and not report.failed, report
        elif action == "remove":
            source = str(paths[0].resolve())
            (doc_id,) = [d.doc_id for d in kb.documents() if d.source == source]
            assert kb.remove(doc_id)
        if step:  # the change derived its map from the one the last step's searches loaded
            assert kb._doc_maps.held(kb.generation) is not None
        filters = _combinations(kb, 60, step)
        assert _assert_masks_equal(kb, filters) > len(filters) // 4  # not all empty
        _assert_map_is_fresh(kb)
        superseded = kb.store.superseded_clauses()
        seen_superseded |= bool(len(superseded))
    assert seen_superseded


def test_a_selective_and_a_broad_filter(changing):
    """A document filter allows exactly its windows; a level filter what SQL allows, most of
    the KB; the unit filter keeps only the unit's clauses within the other conditions."""
    kb = changing
    doc = kb.documents()[0]
    with kb.reading() as snapshot:
        own = sorted(snapshot.store.window_ids(doc.doc_id))
        assert snapshot.allowed_windows(Filters(doc=doc.doc_id, status="all"), []).tolist() == own
        national = snapshot.allowed_clauses(Filters(level="national"), [])
        assert 0 < len(national) < snapshot.store.clause_count()
        names = Searcher(snapshot).unit_names("市财政局")
        units = snapshot.allowed_clauses(Filters(unit="市财政局", region="杭州"), names)
        assert len(units) and set(units) <= set(snapshot.store.clauses_naming(names).tolist())


def test_a_second_reader_of_another_process_reads_the_map_afresh(changing, tmp_path):
    """Another KnowledgeBase on the same folder (as a server beside a CLI ingest): its map is
    read at the generation it sees, and after the writer's change, the next one's."""
    other = KnowledgeBase(changing.folder, encoder=FakeEncoder())
    filters = [Filters(level="national"), Filters(region="杭州", status="all")]
    _assert_masks_equal(other, filters)
    before = other.generation
    extra = tmp_path / "extra.txt"
    extra.write_text(LOCAL.replace("杭州", "宁波"), encoding="utf-8")
    assert changing.ingest([extra]).added
    assert other.generation == before + 1
    _assert_masks_equal(other, [*filters, Filters(region="宁波")])
    with other.reading() as snapshot:
        assert len(snapshot.allowed_clauses(Filters(region="宁波"), [])) == 3
    other.close()


def test_ranges_are_used_only_when_whole():
    from index.doc_map import Members

    whole = Members.of_ranges([(2, 5, 7, 3), (1, 1, 2, 2), (3, 9, 9, 1)])
    assert whole.ids.tolist() == [1, 2, 5, 6, 7, 9] and whole.owners.tolist() == [1, 1, 2, 2, 2, 3]
    chosen = np.array([False, True, False, True])
    assert whole.of(chosen).tolist() == [1, 2, 9]
    assert whole.among(np.array([0, 2, 3, 6, 9, 10]), chosen).tolist() == [2, 9]
    assert Members.of_ranges([(1, 1, 4, 3), (2, 2, 2, 1)]) is None  # doc 2's id inside doc 1's
    assert len(Members.of_ranges([]).ids) == 0


@pytest.mark.parametrize("removed, added, docs", [
    ([], [5, 6], [10, 11]), ([2, 4], [], []), ([3], [3, 9], [10, 11]), ([1, 2, 3, 4], [0], [10]),
    ([2], [], []), ([], [5, 6], [9, 9]), ([4], [4, 5], [9, 9]), ([8], [0], [7]),
])  # fmt: skip
def test_members_change_keeps_ids_sorted(removed, added, docs):
    from index.doc_map import Members

    start = Members.of_rows(np.array([1, 2, 3, 4], dtype=np.int64), np.array([7, 7, 8, 9]))
    new_docs = np.array(docs, dtype=np.int64)
    got = start.changed(np.array(removed, dtype=np.int64), (np.array(added, np.int64), new_docs))
    expected = {i: d for i, d in zip(start.ids, start.owners, strict=True) if i not in removed}
    expected |= dict(zip(added, new_docs, strict=True))
    assert got.ids.tolist() == sorted(expected)
    assert got.owners.tolist() == [expected[i] for i in sorted(expected)]
    canonical = Members.of_rows(got.ids, got.owners)  # runs split and joined as a fresh read
    assert [r.tolist() for r in (got.lows, got.sizes, got.docs)] == [
        r.tolist() for r in (canonical.lows, canonical.sizes, canonical.docs)]  # fmt: skip


def test_document_conditions_in_memory_equal_sql_on_random_documents(tmp_path):
    """DocFacts against Filters.document_sql on a bare store of random documents and statuses:
    regions in ASCII of any case and with LIKE's wildcards, NULLs, 文号 and titles, days on
    and either side of each validity boundary."""
    from index.doc_map import DocFacts
    from index.store import Store
    from ingest.models import Document, Level, ParsedDocument

    rng = random.Random(7)
    regions = [None, "浙江省", "浙江省杭州市", "Hong Kong特区", "hong kong", "HONG", "100%_区",
               "1000区"]  # fmt: skip
    titles = ["会计法", "道路运输条例", "关于印发X的通知"]
    days = ["2018-01-01", "2019-12-31", "2020-01-01", "2020-01-02", "2024-06-28", None]
    store = Store(tmp_path / "kb.sqlite")
    statuses = []
    with store.transaction():
        for n in range(300):
            number = rng.choice([None, f"浙政发〔2020〕{n % 7}号"])
            level, region = rng.choice(list(Level)), rng.choice(regions)
            doc = Document(f"d{n}", rng.choice(titles) + str(n), number, [], rng.choice(days),
                           level, region, "issued", f"s{n}", "")  # fmt: skip
            store.insert_document(ParsedDocument(doc, []), [])
            if rng.random() < 0.9:  # the rest have no status row yet
                statuses.append((doc.doc_id, "g", 1, rng.choice([None, None, "d0"]),
                                 int(rng.random() < 0.1), rng.choice(days), rng.choice(days),
                                 rng.choice([None, None, "version", "repeal", "term"]),
                                 None, None, None))  # fmt: skip
        store.replace_statuses(statuses, [])
    facts = DocFacts.of_rows(store.document_facts())
    probes = [*(r for r in regions if r), "hong", "HONG KONG", "浙江", "100%", "10", "%", "_"]
    for step in range(400):
        given = Filters(
            level=rng.choice([None, *(lv.value for lv in Level)]),
            region=rng.choice([None, None, *probes]),
            doc=rng.choice([None, None, None, "会计", "d7", "浙政发[2020]3号", "通知1"]),
            year_from=rng.choice([None, 2019, 2020]), year_to=rng.choice([None, 2020, 2024]),
            status=rng.choice([None, *VERSION_CHOICES]),
            in_force_on=rng.choice([None, None, *days[:-1]]),
        )  # fmt: skip
        where, params = given.document_sql()
        expected = [r[0] for r in store.db.execute(f"SELECT rowid FROM documents d WHERE {where}",
                                                   params)]  # fmt: skip
        assert sorted(facts.passing(given).tolist()) == sorted(expected), (step, given)
    store.close()
