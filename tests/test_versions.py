"""Validity and versions: the text rules, the seeds' statuses, grouping and repeals, clause
history, and the CLI, HTTP and filter interfaces over a small KB (fake encoder: the model is
not the point here)."""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from index import versions
from index.filters import FilterError, Filters
from index.kb import KnowledgeBase
from index.search import Searcher
from index.versions import align_units, resolve, status_on, title_key, units_from
from ingest.pipeline import parse_file
from ingest.readers.base import IngestError
from ingest.validity import from_text, repeals_in
from tests.conftest import shared
from tests.fake_encoder import FakeEncoder

runner = CliRunner()
KUAIJI_OLD = "corpora/lawrefbook/经济法/会计法(2017-11-04).md"
KUAIJI_NEW = "corpora/lawrefbook/经济法/会计法(2024-06-28).md"
LOCAL = """杭州市会计工作管理办法

第一条 为了规范本市会计工作，根据《中华人民共和国会计法》，制定本办法。

第二条 各单位应当依法设置会计账簿，保证会计资料真实、完整。

第三条 本办法自2020年1月1日起施行，有效期5年。《杭州市会计工作暂行规定》同时废止。

杭州市人民政府

2019年12月1日
"""


# --- the text's own evidence ------------------------------------------------------------------


def test_effective_date_term_and_repeals_from_the_text():
    body = [
        "第四十条 本办法自2024年3月1日起施行，有效期5年。",
        "2010年5月1日发布的《某市停车场管理办法》和《某市道路停车暂行规定》同时废止。",
    ]
    found = from_text("某市停车管理办法", body, "2024-01-15")
    assert (found.valid_from, found.valid_to) == ("2024-03-01", "2029-02-28")
    assert "自2024年3月1日起施行" in found.from_reason and "有效期5年" in found.to_reason
    assert [r.title for r in found.repeals] == ["某市停车场管理办法", "某市道路停车暂行规定"]
    assert found.repeals[0].dates == ("2010-05-01",)


def test_issued_day_until_and_chinese_numbers():
    body = ["本措施自印发之日起施行，有效期至2026年12月31日。"]
    found = from_text("关于支持企业发展的若干措施", body, "2024-06-30")
    assert (found.valid_from, found.valid_to) == ("2024-06-30", "2026-12-31")
    assert from_text("通知", ["本通知自发布之日起实施，有效期三年。"], "2022-01-10").valid_to == (
        "2025-01-09"
    )


def test_plan_period_in_title_but_not_in_a_cited_title():
    plan = from_text("职业教育行动计划（2023—2025年）", [], None)
    assert (plan.valid_from, plan.valid_to) == ("2023-01-01", "2025-12-31")
    notice = from_text("关于印发落实《行动方案（2023—2025年）》若干措施的通知", [], "2023-11-01")
    assert notice.valid_to is None


def test_a_revision_keeps_the_first_versions_date_which_is_not_its_own():
    body = ["第五十二条 本法自2000年7月1日起施行。"]
    assert from_text("会计法", body, "2024-06-28").valid_from is None


def test_repeal_needs_a_title_before_the_verb():
    assert repeals_in(["对不符合规定的文件予以废止。", "本法自公布之日起施行。"]) == []
    found = repeals_in(["本法自公布之日起施行，《中华人民共和国民事诉讼法（试行）》同时废止。"])
    assert [r.title for r in found] == ["中华人民共和国民事诉讼法（试行）"]


def test_sidecar_outranks_the_text_and_is_checked(tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(LOCAL, encoding="utf-8")
    (tmp_path / "plan.meta.json").write_text(json.dumps({"valid_to": "2021-06-30"}))
    validity = parse_file(path).document.validity
    assert validity.valid_to == "2021-06-30" and validity.to_reason.startswith("sidecar")
    assert validity.valid_from == "2020-01-01"  # the sidecar did not say: the text's
    (tmp_path / "plan.meta.json").write_text(json.dumps({"expired": "yes"}))
    with pytest.raises(IngestError, match="expired"):
        parse_file(path)


def test_lawrefbook_catalogue_is_read_by_the_markdown_reader():
    document = parse_file(shared(KUAIJI_OLD)).document
    assert document.validity.valid_from == "2017-11-05"
    assert "LawRefBook" in document.validity.from_reason
    relative = Path(os.path.relpath(shared(KUAIJI_OLD)))  # as `make eval` names it
    assert parse_file(relative).document.validity.valid_from == "2017-11-05"


# --- the seeds --------------------------------------------------------------------------------


def _resolve(parsed: list) -> dict[str, versions.VersionState]:
    documents = [
        {"doc_id": p.document.doc_id, "title": p.document.title, "date": p.document.date,
         "region": p.document.region, "status": p.document.status}
        for p in parsed
    ]  # fmt: skip
    evidence = {p.document.doc_id: asdict(p.document.validity) for p in parsed}
    return {s.doc_id: s for s in resolve(documents, evidence)}


def test_seed_statuses(seeds):
    states = _resolve(list(seeds.values()))
    status = {key: states[p.document.doc_id] for key, p in seeds.items()}
    assert status_on(status["003"], "2024-01-01") == "draft"
    assert status_on(status["000"], "2024-06-01") == "in_force"
    assert status_on(status["000"], "2026-01-01") == "expired"
    assert status["000"].valid_to == "2025-12-31" and "2023—2025" in status["000"].to_reason
    assert status_on(status["004"], "2023-10-01") == "not_yet"
    assert status_on(status["004"], "2024-01-01") == "in_force"
    assert status_on(status["002"], "2026-01-01") == "in_force"
    assert len({s.group_id for s in states.values()}) == 5  # five documents, no versions


def test_draft_and_final_text_are_one_document_the_final_supersedes():
    documents = [
        {"doc_id": "d", "title": "关于深化产教融合五年行动计划（征求意见稿）", "date": None,
         "region": "绍兴市", "status": "draft"},
        {"doc_id": "f", "title": "关于深化产教融合五年行动计划", "date": "2024-03-01",
         "region": "绍兴市", "status": "issued"},
        {"doc_id": "o", "title": "关于深化产教融合五年行动计划", "date": "2024-03-01",
         "region": "宁波市", "status": "issued"},
    ]  # fmt: skip
    states = {s.doc_id: s for s in resolve(documents, {})}
    assert states["d"].group_id == states["f"].group_id != states["o"].group_id
    assert states["d"].superseded_by == "f" and states["f"].superseded_by is None
    assert status_on(states["d"]) == "draft" and status_on(states["f"], "2025-01-01") == "in_force"


def test_parts_of_one_code_are_documents_of_one_edition_not_versions():
    files = [shared(f"corpora/lawrefbook/民法典/{name}.md") for name in ("总则", "合同编")]
    parts = [parse_file(path) for path in files]
    assert {p.document.title for p in parts} == {"中华人民共和国民法典"}
    assert parts[0].document.doc_id != parts[1].document.doc_id
    documents = [
        {"doc_id": p.document.doc_id, "title": p.document.title, "date": p.document.date,
         "region": None, "status": "issued"} for p in parts
    ] + [{"doc_id": "next", "title": "中华人民共和国民法典", "date": "2030-01-01",
          "region": None, "status": "issued"}]  # fmt: skip
    states = {s.doc_id: s for s in resolve(documents, {})}
    for part in parts:  # neither part supersedes the other; a later edition supersedes both
        assert states[part.document.doc_id].superseded_by == "next"
        assert status_on(states[part.document.doc_id], "2025-01-01") == "in_force"


def test_a_part_takes_the_effective_date_another_part_of_its_edition_states():
    """Only the 民法典's 附则 says 本法自2021年1月1日起施行: the other parts share that day and
    are not superseded by it."""
    documents = [
        {"doc_id": doc_id, "title": "中华人民共和国民法典", "date": "2020-05-28", "region": None,
         "status": "issued"} for doc_id in ("总则", "合同编", "附则")
    ]  # fmt: skip
    stated = {
        "valid_from": "2021-01-01",
        "from_reason": "本文：第一千二百六十条 本法自2021年1月1日起施行。",
    }
    states = {s.doc_id: s for s in resolve(documents, {"附则": stated})}
    assert {s.superseded_by for s in states.values()} == {None}
    assert {s.valid_from for s in states.values()} == {"2021-01-01"}
    assert states["总则"].from_reason.endswith(stated["from_reason"])
    assert {status_on(s, "2020-12-01") for s in states.values()} == {"not_yet"}
    assert {status_on(s, "2025-01-01") for s in states.values()} == {"in_force"}


def test_repeal_by_another_document_keeps_the_sentence():
    documents = [
        {"doc_id": "old", "title": "某省道路运输管理条例", "date": "2005-01-01", "region": "某省",
         "status": "issued"},
        {"doc_id": "new", "title": "某省道路运输条例", "date": "2014-03-01", "region": "某省",
         "status": "issued"},
    ]  # fmt: skip
    sentence = "本条例自2014年5月1日起施行。《某省道路运输管理条例》同时废止。"
    repeal = {"title": "某省道路运输管理条例", "sentence": sentence}
    evidence = {"new": {"valid_from": "2014-05-01", "repeals": [repeal]}}
    states = {s.doc_id: s for s in resolve(documents, evidence)}
    old = states["old"]
    assert (old.ended_by, old.valid_to, old.reason_doc) == ("repeal", "2014-04-30", "new")
    assert sentence in old.to_reason and old.group_id != states["new"].group_id
    assert status_on(old, "2014-04-30") == "in_force" and status_on(old, "2015-01-01") == "repealed"


def test_title_keys_of_versions():
    assert title_key("中华人民共和国职业教育法") == title_key("职业教育法（2022年修订）")
    assert title_key("关于印发某某方案的通知") == title_key("某某方案（征求意见稿）")
    trial, final = "民事诉讼法（试行）", "中华人民共和国民事诉讼法"
    assert versions.loose_key(trial) == versions.loose_key(final)


def test_articles_align_across_renumbering():
    def units(*texts):
        return units_from([{"clause_id": f"c{i}", "label": f"第{i}条", "text": t,
                            "kind": "article", "parent_id": None}
                           for i, t in enumerate(texts, 1)])  # fmt: skip

    old = units("为了规范会计行为，制定本法。", "会计年度自公历1月1日起至12月31日止。",
                "公司、企业进行会计核算应当遵守本章规定。")  # fmt: skip
    new = units(
        "为了规范会计行为，保证会计资料真实，制定本法。",
        "会计工作应当贯彻落实党和国家方针。",
        "会计年度自公历1月1日起至12月31日止。",
    )
    assert align_units(old, new) == [(0, 0, pytest.approx(0.8, abs=0.1)), (1, 2, 1.0),
                                     (2, None, 0.0), (None, 1, 0.0)]  # fmt: skip


# --- a KB: two versions of a law and a local document -----------------------------------------


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("versions")
    local = folder / "hangzhou.txt"
    local.write_text(LOCAL, encoding="utf-8")
    knowledge_base = KnowledgeBase(folder / "kb", encoder=FakeEncoder())
    report = knowledge_base.ingest([shared(KUAIJI_OLD), shared(KUAIJI_NEW), local])
    assert not report.failed, report.failed
    yield knowledge_base
    knowledge_base.close()


def _ids(kb) -> dict[str, str]:
    by_date = {d.date: d.doc_id for d in kb.documents()}
    return {"old": by_date["2017-11-04"], "new": by_date["2024-06-28"],
            "local": by_date["2019-12-01"]}  # fmt: skip


def test_two_lawrefbook_versions_are_grouped(kb):
    ids = _ids(kb)
    found = versions.versions_of(kb.store, ids["old"])
    assert [v["doc_id"] for v in found["versions"]] == [ids["old"], ids["new"]]
    assert found["status"] == "amended" and found["reason_doc"] == ids["new"]
    # neither the 2024 text nor the catalogue dates its 施行: its adoption stands in
    assert found["valid_to"] == "2024-06-27"
    assert versions.versions_of(kb.store, ids["new"])["status"] == "in_force"
    local = versions.versions_of(kb.store, ids["local"])
    assert (local["valid_from"], local["valid_to"]) == ("2020-01-01", "2024-12-31")


def test_a_local_document_links_to_the_version_in_force_when_it_was_issued(kb):
    from index import link_views

    ids = _ids(kb)
    cited = link_views.document_links(kb.store, ids["local"])["implements"]
    assert [c["doc_id"] for c in cited] == [ids["old"]]
    assert cited[0]["version"]["label"] == "2017-11-04 版" and not cited[0]["version"]["current"]


def test_clause_history_shows_each_version(kb):
    ids = _ids(kb)
    third = next(c for c in kb.clauses(ids["old"]) if c.label == "第三条")
    found = versions.history(kb.store, third.clause_id)
    assert [e["change"] for e in found["timeline"]] == ["original", "changed"]
    assert found["timeline"][1]["diff"][0]["source_text"] == "帐"  # 会计帐簿 → 会计账簿
    dropped = next(c for c in kb.clauses(ids["old"]) if c.label == "第二十四条")
    assert [e["change"] for e in versions.history(kb.store, dropped.clause_id)["timeline"]] == [
        "original", "dropped"]  # fmt: skip


def test_search_filters_versions_and_days(kb):
    ids = _ids(kb)
    searcher = Searcher(kb)

    def docs(**filters) -> set[str]:
        hits = searcher.search("会计凭证 会计账簿", 50, Filters(**filters), "hybrid")
        return {h.doc_id for h in hits}

    assert ids["old"] not in docs() and ids["new"] in docs()
    assert {ids["old"], ids["new"]} <= docs(status="all")
    assert docs(status="amended") == {ids["old"]}
    assert docs(in_force_on="2020-06-01") == {ids["old"], ids["local"]}
    assert ids["local"] in docs(status="expired")
    with pytest.raises(FilterError):
        Filters(in_force_on="2020-13-01")
    with pytest.raises(FilterError):
        Filters(status="valid")


def test_cli_versions_and_history_json(kb):
    ids = _ids(kb)
    result = runner.invoke(app, ["versions", ids["new"], "--kb", str(kb.folder), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["status_name"] == "现行有效" and len(payload["versions"]) == 2
    past = runner.invoke(app, ["versions", ids["new"], "--kb", str(kb.folder), "--json",
                               "--on", "2024-01-01"])  # fmt: skip
    assert json.loads(past.output)["status"] == "not_yet"
    clause = next(c for c in kb.clauses(ids["new"]) if c.label == "第三条").clause_id
    result = runner.invoke(app, ["history", clause, "--kb", str(kb.folder), "--json"])
    assert result.exit_code == 0, result.output
    assert [e["version"] for e in json.loads(result.output)["timeline"]] == [1, 2]
    text = runner.invoke(app, ["versions", ids["old"], "--kb", str(kb.folder)])
    assert "已修改" in text.output and "新版本" in text.output
    assert runner.invoke(app, ["history", "nope", "--kb", str(kb.folder)]).exit_code == 1


def test_http_routes_and_pages(kb):
    ids = _ids(kb)
    clause = next(c for c in kb.clauses(ids["new"]) if c.label == "第三条").clause_id
    with TestClient(create_app(kb=kb)) as client:
        found = client.get(f"/documents/{ids['old']}/versions").json()
        assert found["status"] == "amended" and found["versions"][1]["doc_id"] == ids["new"]
        assert client.get(f"/documents/{ids['old']}/versions?on=2020-01-01").json()[
            "status"] == "in_force"  # fmt: skip
        assert client.get(f"/documents/{ids['old']}/versions?on=2020-99-01").status_code == 422
        history = client.get(f"/clauses/{clause}/history").json()
        assert history["timeline"][0]["doc_id"] == ids["old"]
        assert client.get("/clauses/nope/history").status_code == 404
        results = client.get("/search", params={"q": "会计账簿", "in_force_on": "2020-06-01"})
        assert {r["doc_id"] for r in results.json()["results"]} <= {ids["old"], ids["local"]}
        assert {r["validity"]["status"] for r in results.json()["results"]} == {"in_force"}
        assert client.get("/search", params={"q": "会计", "status": "bogus"}).status_code == 422
        page = client.get(f"/ui/documents/{ids['new']}").text
        assert "版本沿革" in page and "现行有效" in page and "已修改" in page
        assert "条文沿革" in client.get(f"/ui/clauses/{clause}").text
        assert "2017-11-04 版" in client.get(f"/ui/documents/{ids['local']}").text
        hits = client.get("/", params={"q": "会计账簿", "status": "all"}).text
        assert "badge validity" in hits


def test_an_uploaded_sidecar_may_carry_validity():
    from api.uploads import Refusal, _check_sidecar

    _check_sidecar(json.dumps({"valid_from": "2024-01-01", "expired": True}).encode())
    with pytest.raises(Refusal, match="expired"):
        _check_sidecar(b'{"expired": "yes"}')
    with pytest.raises(Refusal, match="valid_to"):
        _check_sidecar(b'{"valid_to": "2024-02-30"}')


# --- incremental refresh ----------------------------------------------------------------------

ROAD = "corpora/lawrefbook/行政法规/道路运输条例({}).md"
TRIAL = """杭州市会计工作管理办法（试行）

第一条 为了规范本市会计工作，制定本办法。

第二条 各单位应当设置会计账簿。

第三条 本办法自2015年3月1日起试行。

杭州市人民政府

2015年2月1日
"""


def _reference(store) -> tuple[dict, set]:
    """A full recompute from the documents, next to what the incremental refreshes stored."""
    documents, evidence = store.version_documents(), store.validity_evidence()
    states = {s.doc_id: s.row() for s in resolve(documents, evidence)}
    keys = {(d["doc_id"], k) for d in documents
            for k in versions.version_keys(d["title"], evidence[d["doc_id"]])}  # fmt: skip
    return states, keys


def _stored(store) -> tuple[dict, set]:
    states = {doc_id: tuple(row) for doc_id, row in store.statuses().items()}
    return states, set(map(tuple, store.db.execute("SELECT doc_id, key FROM version_keys")))


def test_incremental_refresh_equals_a_full_one(tmp_path, monkeypatch):
    """Versions of a law added out of order, a repeal joining a trial text to its final one,
    removals and replacements: after each change the stored groups, statuses and keys are a
    full recompute's, and only the documents tied to the change were recomputed."""
    recomputed: list[set[str]] = []
    full_refresh = versions.refresh

    def refresh(store, full=False):
        states = full_refresh(store, full)
        recomputed.append({s.doc_id for s in states})
        return states

    monkeypatch.setattr(versions, "refresh", refresh)
    trial, final = tmp_path / "trial.txt", tmp_path / "final.txt"
    trial.write_text(TRIAL, encoding="utf-8")
    final.write_text(LOCAL.replace("暂行规定", "管理办法（试行）"), encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    ids: dict[str, str] = {}

    def change(action, *files: Path) -> set[str]:
        if action == "remove":
            assert all(kb.remove(ids[f]) for f in files)
        else:
            report = kb.ingest(list(files))
            assert not report.failed, report.failed
            for path, doc_id in zip(files, report.added + report.updated, strict=True):
                ids[path] = doc_id
        assert _stored(kb.store) == _reference(kb.store)
        return recomputed[-1]

    roads = [shared(ROAD.format(day)) for day in ("2019-03-02", "2022-03-29", "2023-07-20")]
    card = shared("corpora/lawrefbook/宪法相关法/居民身份证法(2011-10-29).md")
    change("ingest", roads[0], card, trial)
    assert change("ingest", roads[2], roads[1]) == {ids[r] for r in roads}
    assert change("ingest", final) == {ids[trial], ids[final]}
    state = kb.store.statuses([ids[trial], ids[final]])
    assert state[ids[trial]]["reason_doc"] == ids[final] and state[ids[trial]]["ended_by"] == (
        "repeal") and state[ids[trial]]["group_id"] == state[ids[final]]["group_id"]  # fmt: skip
    assert change("remove", roads[1]) == {ids[roads[0]], ids[roads[2]]}
    assert kb.store.statuses([ids[roads[0]]])[ids[roads[0]]]["superseded_by"] == ids[roads[2]]
    assert change("remove", final) == {ids[trial]}
    assert kb.store.statuses([ids[trial]])[ids[trial]]["ended_by"] is None
    final.write_text(final.read_text("utf-8").replace("有效期5年", "有效期3年"), "utf-8")
    change("ingest", final, roads[1])
    trial.write_text(TRIAL.replace("试行。", "试行，有效期5年。"), encoding="utf-8")
    assert change("ingest", trial) == {ids[trial], ids[final]}  # replaced: its group again
    assert kb.store.statuses([ids[card]])[ids[card]]["version"] == 1
    kb.close()


def test_incremental_refresh_equals_a_full_one_over_random_changes(tmp_path):
    """Many small changes of documents whose titles, regions, dates, drafts and repeals often
    collide (a bare store: no clauses): each incremental refresh leaves a full one's state."""
    from index.store import Store
    from ingest.models import Document, Level, ParsedDocument, Repeal, Validity

    rng = random.Random(14)
    laws = ["道路运输条例", "会计法", "档案法", "统计法", "审计法", "海关法", "专利法", "商标法"]
    forms = ["{}", "{}（试行）", "中华人民共和国{}", "{}（2017年修正）", "关于印发{}的通知",
             "{}（征求意见稿）"]  # fmt: skip

    def title(law: str) -> str:
        return rng.choice(forms).format(law if rng.random() < 0.8 else rng.choice(laws))

    def document(n: int) -> ParsedDocument:
        law = rng.choice(laws)
        repeals = [Repeal(title(law), "《…》同时废止。") for _ in range(rng.random() < 0.3)]
        day = f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-01" if rng.random() < 0.9 else None
        validity = Validity(valid_from=rng.choice([None, day]), repeals=repeals)
        name = title(law)
        doc = Document(f"d{n}", name, None, [], day, Level.NATIONAL,
                       rng.choice([None, None, "某省"]), "draft" if "征求" in name else "issued",
                       f"s{n}", "", validity=validity)  # fmt: skip
        return ParsedDocument(doc, [])

    store, held, made, work = Store(tmp_path / "kb.sqlite"), [], 0, [0, 0]
    for step in range(80):
        with store.transaction():
            for _ in range(rng.randint(1, 3)):
                if held and rng.random() < 0.35:
                    store.delete_document(held.pop(rng.randrange(len(held))))
                elif held and rng.random() < 0.2:  # replaced under its own doc_id
                    doc_id = rng.choice(held)
                    store.delete_document(doc_id)
                    replacement = document(made)
                    replacement.document.doc_id = doc_id
                    store.insert_document(replacement, [])
                else:
                    made += 1
                    store.insert_document(document(made), [])
                    held.append(f"d{made}")
            recomputed = {s.doc_id for s in versions.refresh(store)}
        assert _stored(store) == _reference(store), step
        work = [work[0] + len(recomputed), work[1] + len(held)]
    assert work[0] < work[1] / 2, work  # most changes recomputed few of the documents
    store.close()
