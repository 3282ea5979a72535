"""Who owns what, on a real KB of the seeds: units, tasks, matrices, targets (CLI and HTTP)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.settings import Settings
from index.filters import Filters
from index.owners import (
    ROLE_FILTERS,
    AmbiguousUnit,
    Matrix,
    MatrixRow,
    Unit,
    UnitDirectory,
    UnitNotFound,
    ownership_matrix,
)
from index.targets import list_targets, same_metric
from tests.conftest import SEEDS

CHONGQING = "14af87b5082c"
SHAOXING = "4a5ddbd56c23"
runner = CliRunner()


@pytest.fixture(scope="module")
def directory(corpus_kb):
    return UnitDirectory(corpus_kb.store)


@pytest.mark.parametrize("typed", ["市发改委", "发改委", "发展改革委", "重庆市发展和改革委员会"])
def test_what_officials_type_is_one_unit_in_chongqing(directory, typed):
    unit = directory.resolve(typed, region="重庆")
    assert (unit.canonical, unit.region) == ("重庆市发展和改革委员会", "重庆市")


def test_a_name_of_two_cities_lists_them_instead_of_guessing(directory):
    with pytest.raises(AmbiguousUnit) as error:
        directory.resolve("市税务局")
    assert {u.canonical for u in error.value.candidates} == {
        "国家税务总局重庆市税务局",
        "国家税务总局绍兴市税务局",
    }
    assert directory.resolve("市税务局", region="绍兴").canonical == "国家税务总局绍兴市税务局"


def test_an_unknown_name_gets_the_closest_units(directory):
    with pytest.raises(UnitNotFound) as error:
        directory.resolve("人设局", region="绍兴")
    assert error.value.suggestions[0].canonical == "绍兴市人力资源和社会保障局"


def test_tasks_stay_in_the_units_region(directory):
    unit = directory.resolve("人社局", region="绍兴")
    tasks = directory.tasks(unit)
    assert tasks and {t.doc_id for t in tasks} == {SHAOXING}
    assert all(t.region == "绍兴市" for t in tasks)
    leads = directory.tasks(unit, role="lead")
    assert [t.text[:8] for t in leads] == ["建设一批区域性公"]  # 附件2 row 9


def test_tasks_of_a_chongqing_unit_are_its_tagged_measures(directory):
    unit = directory.resolve("市规划自然资源局", region="重庆")
    labels = [t.label for t in directory.tasks(unit, role="responsible")]
    assert labels == ["10．", "13．"]
    co_units = directory.tasks(unit, role="responsible")[0].co_units
    assert {"canonical": "国家税务总局重庆市税务局", "role": "responsible"} in co_units


def _measure_tags(text: str) -> dict[str, set[str]]:
    """Measure number → the names in its （责任单位：…） tag, read straight from the file."""
    flat = re.sub(r"\s+", "", text)
    return {
        number: set(re.split(r"[、，]", names))
        for number, names in re.findall(r"(\d+)．[^．]*?（责任单位：(.*?)）", flat)
    }


def test_matrix_of_004_matches_its_responsibility_tags(directory, corpus_kb):
    matrix = ownership_matrix(directory, [CHONGQING], "004")
    tags = _measure_tags(SEEDS["004"].read_text(encoding="utf-8"))
    rows = {r.label.rstrip("．"): r for r in matrix.rows}
    assert set(tags) <= set(rows)
    aliases = {a: u.canonical for u in matrix.units for a in [u.canonical, *u.aliases]}
    for number, names in tags.items():
        expected = {aliases[n] for n in names}
        assert expected <= set(rows[number].roles), number
        assert {rows[number].roles[c] for c in expected} == {"responsible"}


def _attachment_2(text: str) -> list[tuple[str, str, list[str]]]:
    """(task, lead, responsible names) of 附件2, read from the tab-separated table."""
    table = text[text.index("序号\n\t重点任务") :]
    cells = [c.strip() for c in table.split("\n\t")][4:]
    rows = []
    while len(cells) >= 3 and cells[0].isdigit():
        names = re.split(r"[、，](?!县)", cells[3]) if len(cells) > 3 and cells[3] else []
        rows.append((cells[1], cells[2], [n for n in names if n and not n.isdigit()]))
        cells = cells[4:]
    return rows


def test_matrix_of_003_matches_its_attachment_2(directory):
    matrix = ownership_matrix(directory, [SHAOXING], "003")
    table = _attachment_2(SEEDS["003"].read_text(encoding="utf-8"))
    assert len(table) == 20
    by_text = {re.sub(r"\s+", "", r.text)[:20]: r for r in matrix.rows if r.label.isdigit()}
    for task, lead, responsible in table:
        row = by_text[re.sub(r"\s+", "", task)[:20]]
        leads = [c for c, role in row.roles.items() if role == "lead"]
        assert leads == [directory.resolve(lead, "绍兴").canonical], task
        shared = {directory.resolve(n, "绍兴").canonical for n in responsible}
        assert {c for c, role in row.roles.items() if role == "responsible"} == shared, task


def test_targets_line_up_national_and_local_by_metric(corpus_kb):
    rows = list_targets(corpus_kb.store, Filters(), year=2025)
    assert rows and all(r.year == 2025 for r in rows)
    cities = [r for r in rows if r.metric_group == "产教融合试点城市"]
    assert [(r.level, r.value, r.unit, r.qualifier) for r in cities] == [
        ("national", 50, "个", "左右")
    ]
    teachers = [r for r in rows if r.metric and "双师型" in r.metric]
    assert {(r.region, r.value, r.unit, r.qualifier) for r in teachers} == {
        ("绍兴市", 90, "%", "以上")
    }
    groups = [r.metric_group for r in rows]
    assert groups == sorted(groups, key=lambda g: (g is None, g or "")), "rows are grouped"


def test_same_metric_merges_near_names_with_one_head_noun():
    assert same_metric("产教融合试点城市", "产教融合型城市")
    assert not same_metric("产教融合型城市", "产教融合型企业")


def test_targets_filter_by_document_and_region(corpus_kb):
    chongqing = list_targets(corpus_kb.store, Filters(region="重庆"))
    assert [(r.value, r.unit, r.doc_id) for r in chongqing] == [(30, "%", CHONGQING)]
    by_number = list_targets(corpus_kb.store, Filters(doc="渝发改社会〔2023〕1271号"))
    assert by_number == chongqing


# --- CLI -------------------------------------------------------------------------------------


def _cli(corpus_kb, *args):
    return runner.invoke(app, [*args, "--kb", str(corpus_kb.folder)])


def test_cli_tasks_json(corpus_kb):
    result = _cli(corpus_kb, "tasks", "--unit", "市教委", "--region", "重庆", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["unit"]["canonical"] == "重庆市教育委员会"
    assert payload["unit"]["region"] == "重庆市"
    task = payload["tasks"][0]
    assert set(task) >= {"clause_id", "doc_title", "path", "text", "role", "co_units"}
    assert {t["doc_id"] for t in payload["tasks"]} == {CHONGQING}


def test_cli_tasks_ambiguous_and_unknown_exit_1(corpus_kb):
    ambiguous = _cli(corpus_kb, "tasks", "--unit", "市税务局")
    assert ambiguous.exit_code == 1 and "give a region" in ambiguous.stderr
    unknown = _cli(corpus_kb, "tasks", "--unit", "市发政委", "--region", "重庆")
    assert unknown.exit_code == 1 and "重庆市发展和改革委员会" in unknown.stderr


def test_cli_units_lists_aliases_and_counts(corpus_kb):
    result = _cli(corpus_kb, "units", "发改", "--json")
    units = {u["canonical"]: u for u in json.loads(result.stdout)["units"]}
    assert "市发改委" in units["绍兴市发展和改革委员会"]["aliases"]
    assert units["重庆市发展和改革委员会"]["tasks"] == 6


def test_cli_matrix_csv(corpus_kb):
    result = _cli(corpus_kb, "matrix", "若干措施", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:2] == ["条款", "内容"] and "重庆市教育委员会" in rows[0]
    assert len(rows) == 1 + 13
    assert set(rows[1][2:]) <= {"", "牵头", "责任"}


def test_cli_targets_csv_and_json(corpus_kb):
    as_json = json.loads(_cli(corpus_kb, "targets", "--doc", SHAOXING, "--json").stdout)
    assert all(t["doc_id"] == SHAOXING and t["metric"] for t in as_json["targets"])
    as_csv = list(csv.reader(io.StringIO(_cli(corpus_kb, "targets", "--csv").stdout)))
    assert as_csv[0][:3] == ["metric_group", "metric", "value"]


# --- HTTP ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(corpus_kb):
    with TestClient(create_app(Settings(home=corpus_kb.folder), corpus_kb)) as test_client:
        yield test_client


def test_http_units_search_aliases(client):
    found = client.get("/units", params={"q": "人社局"}).json()["units"]
    assert {u["canonical"] for u in found} == {
        "绍兴市人力资源和社会保障局",  # 市人社局 in 003
        "重庆市人力资源和社会保障局",  # 市人力社保局 in 004, and 人社局 as Chongqing reads it
    }


def test_http_unit_tasks_by_id_and_by_name(client):
    unit = client.get("/units", params={"q": "市教委"}).json()["units"][0]
    by_id = client.get(f"/units/{unit['id']}/tasks").json()
    by_name = client.get("/units/市教委/tasks", params={"region": "重庆"}).json()
    assert by_id == by_name and len(by_id["tasks"]) == unit["roles"]["responsible"] + unit[
        "roles"
    ].get("mentioned", 0)


def test_http_unit_errors(client):
    ambiguous = client.get("/units/市税务局/tasks")
    assert ambiguous.status_code == 409 and len(ambiguous.json()["candidates"]) == 2
    unknown = client.get("/units/不存在的局/tasks")
    assert unknown.status_code == 404 and "message" in unknown.json()


def test_http_matrix_and_targets(client):
    matrix = client.get(f"/documents/{SHAOXING}/matrix").json()
    assert matrix["units"][0]["canonical"] == "绍兴市教育局"  # leads the most rows
    as_csv = client.get(f"/documents/{SHAOXING}/matrix", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    targets = client.get("/targets", params={"region": "绍兴", "year": 2025}).json()["targets"]
    assert targets and all(t["region"] == "绍兴市" and t["year"] == 2025 for t in targets)
    assert client.get("/documents/nothing/matrix").status_code == 404


def test_supporting_units_have_tasks_and_a_matrix_cell_of_their_own():
    unit = Unit(
        "u", "沈阳市财政局", "沈阳市", "unit", roles=Counter(lead=1, supporting=2, mentioned=4)
    )
    assert unit.tasks == 3 and "supporting" in ROLE_FILTERS
    row = MatrixRow(
        "c", "d", "1.", ["六、职责分工"], "配合制定制度", {"沈阳市财政局": "supporting"}
    )
    assert Matrix("t", [unit], [row]).csv_rows()[1][-1] == "配合"


def test_role_filter_takes_supporting(directory, corpus_kb, client):
    unit = directory.resolve("市发改委", region="重庆")
    assert directory.tasks(unit, role="supporting") == []  # the seeds name no 配合 unit
    result = _cli(
        corpus_kb, "tasks", "--unit", "市发改委", "--region", "重庆", "--role", "supporting"
    )
    assert result.exit_code == 0, result.output
    found = client.get("/units/市发改委/tasks", params={"region": "重庆", "role": "supporting"})
    assert found.status_code == 200 and found.json()["tasks"] == []
