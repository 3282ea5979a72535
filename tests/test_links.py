"""Cross-level links: the alignment kernel against its reference, link upkeep on change, and
the real links of the seeds (Chongqing's 13 measures against the national plan)."""

from __future__ import annotations

import json
import random

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.settings import Settings
from index import link_views
from index.alignment import differences, smith_waterman, smith_waterman_reference
from index.kb import KnowledgeBase
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder

NATIONAL = "323ee34b1f8e"
CHONGQING = "14af87b5082c"


def test_kernel_matches_the_reference_and_its_spans_score_the_same():
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("甲乙丙丁") for _ in range(rng.randint(0, 25)))
        b = "".join(rng.choice("甲乙丙丁") for _ in range(rng.randint(0, 25)))
        found = smith_waterman(a, b)
        assert found.score == smith_waterman_reference(a, b), (a, b)
        inner_a, inner_b = a[slice(*found.a_span)], b[slice(*found.b_span)]
        assert smith_waterman_reference(inner_a, inner_b) == found.score, (a, b)


def test_differences_mark_what_the_locality_added():
    national = "围绕新一代信息技术、人工智能、工业互联网等产业"
    local = "围绕新一代信息技术、人工智能、机器人、工业互联网、物业服务等产业"
    changes = differences(local, national)
    assert [(c.kind, c.local_text) for c in changes] == [
        ("added", "机器人、"),
        ("added", "、物业服务"),
    ]
    assert local[slice(*changes[0].local)] == "机器人、"


def test_links_follow_the_documents_they_depend_on(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["004"]])
    alone = link_views.document_links(kb.store, CHONGQING)
    assert [c["resolved"] for c in alone["implements"]] == [False]  # kept, unresolved
    assert not any(c["sources"] for c in alone["links"])
    kb.ingest([SEEDS["000"]])  # the national plan arrives: 004 is relinked
    joined = link_views.document_links(kb.store, CHONGQING)
    assert [c["doc_id"] for c in joined["implements"]] == [NATIONAL]
    implemented_by = link_views.document_links(kb.store, NATIONAL)["implemented_by"]
    assert [d["doc_id"] for d in implemented_by] == [CHONGQING]
    assert sum(bool(c["sources"]) for c in joined["links"]) >= 10
    kb.remove(NATIONAL)  # and goes: its links go with it
    gone = link_views.document_links(kb.store, CHONGQING)
    assert [c["resolved"] for c in gone["implements"]] == [False]
    assert not any(c["sources"] for c in gone["links"])


@pytest.fixture(scope="module")
def chongqing_links(corpus_kb):
    return link_views.document_links(corpus_kb.store, CHONGQING)


def _measure(links: dict, label: str) -> dict:
    return next(c for c in links["links"] if c["label"] == label)


def test_each_chongqing_measure_finds_its_national_measure(chongqing_links):
    expected = {"1．": "1.", "2．": "2.", "3．": "3.", "5．": "6.", "6．": "10.", "7．": "11.",
                "8．": "12.", "9．": "13.", "10．": "14.", "11．": "15.", "12．": "17.",
                "13．": "18."}  # fmt: skip
    for local, national in expected.items():
        sources = _measure(chongqing_links, local)["sources"]
        assert sources and sources[0]["doc_id"] == NATIONAL, local
        assert sources[0]["label"] == national, local


def test_measure_2_adds_robots_and_property_services(chongqing_links):
    source = _measure(chongqing_links, "2．")["sources"][0]
    added = "".join(d["local_text"] for d in source["diff"] if d["kind"] in ("added", "changed"))
    assert "机器人" in added and "物业" in added
    assert source["kind"] in ("adapted", "verbatim")


def test_derived_and_coverage(corpus_kb, chongqing_links):
    tax = _measure(chongqing_links, "12．")
    national_17 = tax["sources"][0]["clause_id"]
    groups = link_views.derived(corpus_kb.store, national_17)
    assert tax["clause_id"] in {c["clause_id"] for c in groups["重庆市"]}
    report = link_views.coverage(corpus_kb.store, CHONGQING)["implements"][0]
    assert report["doc_id"] == NATIONAL
    covered = {c["label"] for c in report["covered"]}
    assert {"1.", "2.", "17.", "18."} <= covered
    assert len(report["covered"]) + len(report["left_out"]) == report["clauses"]


def test_cli_links_json(corpus_kb):
    result = CliRunner().invoke(app, ["links", "渝发改社会〔2023〕1271号", "--kb",
                                      str(corpus_kb.folder), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) >= {"doc_id", "doc_title", "implements", "cites", "links"}
    source = next(c for c in payload["links"] if c["sources"])["sources"][0]
    assert set(source) >= {"clause_id", "doc_id", "doc_title", "text", "score", "kind", "diff"}


def test_http_link_routes(corpus_kb, chongqing_links):
    with TestClient(create_app(Settings(home=corpus_kb.folder), corpus_kb)) as client:
        clause = _measure(chongqing_links, "13．")["clause_id"]
        sources = client.get(f"/clauses/{clause}/sources").json()["sources"]
        assert sources[0]["doc_id"] == NATIONAL
        derived = client.get(f"/clauses/{sources[0]['clause_id']}/derived").json()["derived"]
        assert "重庆市" in derived
        assert client.get(f"/documents/{CHONGQING}/links").status_code == 200
        assert client.get(f"/documents/{CHONGQING}/coverage").json()["implements"]
        assert client.get("/clauses/nothing/sources").status_code == 404


def _clause_links(kb: KnowledgeBase) -> list[tuple]:
    rows = kb.store.db.execute(
        "SELECT clause_id, source_id, rank, round(score, 6), kind FROM clause_links"
    )
    return sorted(map(tuple, rows))


def test_a_change_relinks_only_documents_whose_sources_it_moves(tmp_path, monkeypatch):
    """Links after a sequence of changes equal links computed in one batch, while a national
    document that is not among a local document's sources leaves that document alone."""
    from index import links as links_module

    monkeypatch.setattr(links_module, "NEAREST_DOCS", 1)  # few sources, so some stay apart
    relinked: list[str] = []
    replace = links_module.Store.replace_clause_links
    monkeypatch.setattr(links_module.Store, "replace_clause_links",
                        lambda self, doc_id, rows: (relinked.append(doc_id),
                                                    replace(self, doc_id, rows))[1])  # fmt: skip
    national = tmp_path / SEEDS["000"].name  # a copy, changed in place below
    national.write_text(SEEDS["000"].read_text(encoding="utf-8"), encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "steps", encoder=FakeEncoder())
    kb.ingest([SEEDS["003"], SEEDS["004"], SEEDS["001"]])
    sources = kb.store.doc_sources()
    counts = []
    for path in (national, SEEDS["002"]):  # national documents that come after
        relinked.clear()
        kb.ingest([path])
        after = kb.store.doc_sources()
        assert set(relinked) == {d for d in sources if after[d] != sources[d]}, path
        counts.append(len(relinked))
        sources = after
    assert NATIONAL in sources[CHONGQING]
    assert counts[0] >= 1 and counts[1] < len(sources), counts  # 000 moves some, 002 not all
    kb.remove(next(d.doc_id for d in kb.documents() if d.title.startswith("国家产教融合")))
    text = national.read_text(encoding="utf-8")  # the national plan is revised: its sources'
    national.write_text(text.replace("产教融合", "产教深度融合", 5), encoding="utf-8")
    relinked.clear()
    kb.ingest([national])  # documents that draw on it are relinked, their sources unchanged
    assert {d for d, found in kb.store.doc_sources().items() if NATIONAL in found} <= set(relinked)
    batch = KnowledgeBase(tmp_path / "batch", encoder=FakeEncoder())
    batch.ingest([national, *(SEEDS[k] for k in ("002", "003", "004"))])
    assert _clause_links(kb) == _clause_links(batch)
    assert kb.store.doc_sources() == batch.store.doc_sources()


def test_a_new_document_may_name_only_citations_that_could_resolve_to_it():
    from index.links import may_name

    law = {"title": "中华人民共和国会计法", "doc_number": None}
    assert may_name(law, "会计法", None) and may_name(law, "中华人民共和国会计法", None)
    assert not may_name(law, "统计法", None) and not may_name(law, None, "国发〔2019〕4号")
    notice = {"title": "北京市人民政府关于印发《北京市数字经济促进条例》的通知",
              "doc_number": "京政发〔2023〕5号"}  # fmt: skip
    assert may_name(notice, "北京市数字经济促进条例", None)
    assert may_name(notice, None, "京政发[2023]5号")  # brackets as written elsewhere
    assert not may_name(notice, "北京市数字经济", None)  # a part of the title is not a name
