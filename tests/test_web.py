"""The web page without a browser: marks, escaping, error pages, no outside resources."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from api import web
from api.app import create_app
from api.marks import Mark, diff_marks, hit_marks, runs
from tests.conftest import ROOT

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted"'


# --- marks ------------------------------------------------------------------------------


def test_runs_cut_where_marks_change_and_keep_every_character():
    text = "产教融合型企业投资"
    pieces = runs(text, [Mark(0, 4, "hit"), Mark(2, 7, "sentence"), Mark(7, 99, "target")])
    assert "".join(p.text for p in pieces) == text
    assert [(p.text, p.kinds) for p in pieces] == [
        ("产教", ("hit",)), ("融合", ("hit", "sentence")), ("型企业", ("sentence",)),
        ("投资", ("target",)),
    ]  # fmt: skip
    assert runs("", [Mark(0, 3, "hit")]) == [] and runs("ab", [])[0].kinds == ()


def test_hit_marks_cover_sentence_words_and_targets():
    text = "建设培育1万家以上产教融合型企业。其他。"
    highlight = {"sentence": [0, 17], "spans": [[9, 13]]}
    found = hit_marks(text, highlight, [{"text": "1万家以上"}, {"text": "不在文中"}])
    assert Mark(0, 17, "sentence") in found and Mark(9, 13, "hit") in found
    assert Mark(4, 9, "target") in found and len(found) == 3


def test_diff_marks_split_by_side():
    diff = [{"kind": "added", "local": [3, 6], "source": [2, 2]},
            {"kind": "dropped", "local": [8, 8], "source": [6, 9]},
            {"kind": "changed", "local": [10, 12], "source": [11, 14]}]  # fmt: skip
    assert diff_marks(diff, "local") == [Mark(3, 6, "added"), Mark(10, 12, "changed")]
    assert diff_marks(diff, "source") == [Mark(6, 9, "dropped"), Mark(11, 14, "changed")]


def test_citation_is_title_number_and_path():
    assert web.citation("标题", "渝发改社会〔2023〕1271号", ["二、", "", "12．"]) == (
        "《标题》（渝发改社会〔2023〕1271号）二、 12．"
    )
    assert web.citation("标题", None, []) == "《标题》"


# --- escaping: clause text can hold anything ---------------------------------------------


def test_hostile_clause_text_is_printed_as_text():
    hit = {
        "clause_id": "d-1", "doc_id": "d", "doc_title": HOSTILE, "doc_number": HOSTILE,
        "level": "municipal", "region": HOSTILE, "label": "1．", "path": [HOSTILE],
        "text": HOSTILE, "units": [{"name": HOSTILE, "canonical": HOSTILE, "role": "lead"}],
        "targets": [{"text": "alert", "metric": HOSTILE, "value": 1.0, "unit": "%",
                     "qualifier": None, "year": 2025}],
        "highlight": {"sentence": [0, 10], "spans": [[1, 7]]},
    }  # fmt: skip
    hit = web._hit(hit)
    request = SimpleNamespace(cookies={})  # not signed in
    html = web.templates.env.get_template("search.html").render(
        request=request, form={"q": HOSTILE, "exact": False}, hits=[hit], regions=[HOSTILE],
        documents=[], levels=[],
    )  # fmt: skip
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'data-citation="《&lt;script&gt;' in html  # attributes are escaped too
    assert "&#34;quoted&#34;" in html or "&quot;quoted&quot;" in html


def test_no_template_or_script_turns_data_into_html():
    for template in (ROOT / "api/templates").glob("*.html"):
        source = template.read_text(encoding="utf-8")
        assert "|safe" not in source.replace(" ", ""), template.name
        assert "autoescape false" not in source, template.name
    script = (ROOT / "api/static/app.js").read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)


# --- pages over the corpus KB ------------------------------------------------------------


@pytest.fixture(scope="module")
def client(corpus_kb):
    with TestClient(create_app(kb=corpus_kb)) as test_client:
        yield test_client


PAGES = [
    "/", "/?q=产教融合", "/ui/documents", "/ui/documents/14af87b5082c", "/ui/units",
    "/ui/clauses/14af87b5082c-199f8bf7e90d", "/ui/clauses/323ee34b1f8e-145d6a90beee",
    "/ui/units/人社局?region=绍兴", "/ui/targets", "/ui/targets?region=绍兴&year=2025",
]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_chinese_html_with_no_outside_resources(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="zh-CN">' in html and "政策知识库" in html
    outside = re.findall(r'(?:src|href)="((?:https?:)?//[^"]*)"', html)
    assert outside == [], f"{path} loads {outside}: the page must work offline"
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset


def test_search_page_marks_words_and_lists_units_as_chips(client):
    html = client.get("/", params={"q": "市发展改革委 机器人", "region": "重庆"}).text
    assert re.search(r'<span class="[^"]*m-hit[^"]*">机器人</span>', html)
    assert re.search(r'<a class="chip role-responsible" href="/ui/units/[0-9a-f]{12}"', html)


def test_exact_wording_mode_finds_only_the_phrase(client):
    html = client.get("/", params={"q": "头雁效应", "exact": "1"}).text
    assert "精确措辞“头雁效应”：1 条结果" in html


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/ui/units/市税务局", 409, "绍兴市税务局"),
        ("/ui/units/人设局", 404, "绍兴市人力资源和社会保障局"),
        ("/ui/documents/no-such-doc", 404, "no-such-doc"),
        ("/ui/clauses/no-such-clause", 404, "no-such-clause"),
        ("/ui/targets?year=twenty", 422, "year"),
        ("/ui/targets?level=planet", 422, "level"),
    ],
)
def test_problems_are_pages_that_say_what_is_wrong(client, path, status, says):
    response = client.get(path)
    assert response.status_code == status and response.headers["content-type"].startswith(
        "text/html"
    )
    assert says in response.text


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/?q=" + "政" * 501, 422, "q: String should have at most 500 characters"),
        ("/?q=产教融合&region=" + "渝" * 300, 422, "region"),
        ("/ui/units?q=" + "局" * 501, 422, "q"),
        ("/ui/targets?region=" + "x" * 300, 422, "region"),
        ("/ui/no-such-page", 404, "Not Found"),
        ("/ui/documents/..%2F..%2Fetc%2Fpasswd", 404, "Not Found"),
        ("/ui/clauses/<img src=x onerror=alert(1)>", 404, "&lt;img src=x onerror=alert(1)&gt;"),
    ],
)
def test_page_errors_are_error_pages_never_json(client, path, status, says):
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text and says in response.text
    assert "<script>alert" not in response.text and "<img src=x" not in response.text


def test_bad_search_input_stays_on_the_search_page(client):
    response = client.get("/", params={"q": "产教融合", "year_from": "2030", "year_to": "2020"})
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert 'value="产教融合"' in response.text  # the reader's query is kept


def test_every_page_route_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for route in web.router.routes:
        assert f"`{route.path}`" in readme, f"{route.path} is not in README.md"


def test_a_long_targets_table_is_cut_with_a_link_to_every_row(client, monkeypatch):
    monkeypatch.setattr(web, "TABLE_ROWS", 5)
    html = client.get("/ui/targets", params={"year": "2025"}).text
    assert html.count('<tr class="') == 5
    link = re.search(r'<a href="(/targets\?[^"]+)">下载全部 (\d+) 条', html)
    assert link and int(link.group(2)) > 5
    full = client.get(link.group(1).replace("&amp;", "&"))
    assert full.headers["content-type"].startswith("text/csv")
    assert len(full.text.strip().splitlines()) == int(link.group(2)) + 1


@pytest.mark.parametrize(
    ("unit", "says", "names"),
    [
        ("市税务局", "可指以下单位", ["绍兴市税务局", "重庆市税务局"]),
        ("人设局", "知识库中没有单位“人设局”", ["绍兴市人力资源和社会保障局"]),
    ],
)
def test_search_says_how_it_read_the_unit_filter(client, unit, says, names):
    html = client.get("/", params={"q": "产教融合", "unit": unit}).text
    note = re.search(r'<p class="unit-note" id="unit-note">(.*?)</p>', html, re.S).group(1)
    assert says in note and all(name in note for name in names)
