"""The web page in a real browser: Debian's chromium driven by playwright, against
`policykb serve` on the corpus KB. Each test leaves a screenshot in tests/artifacts/."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Root needs --no-sandbox; the rest keep chromium off a network it cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
CHONGQING = (
    "关于印发重庆市落实《职业教育产教融合赋能提升行动实施方案（2023—2025年）》若干措施的通知"
)
CHONGQING_NUMBER = "渝发改社会〔2023〕1271号"
NATIONAL_PLAN = "职业教育产教融合赋能提升行动实施方案（2023—2025年）"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _page(browser, corpus_server, request, viewport) -> Page:
    context = browser.new_context(base_url=corpus_server, viewport=viewport, locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=corpus_server)
    page = context.new_page()
    request.addfinalizer(lambda: _screenshot(page, request.node.name))
    return page


def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    filename = re.sub(r"[^\w-]+", "_", name) + ".png"
    page.screenshot(path=ARTIFACTS / filename, full_page=True)
    page.context.close()


@pytest.fixture
def page(browser, corpus_server, request) -> Page:
    """A laptop-sized page."""
    return _page(browser, corpus_server, request, {"width": 1280, "height": 900})


@pytest.fixture
def phone(browser, corpus_server, request) -> Page:
    return _page(browser, corpus_server, request, {"width": 390, "height": 844})


def _relevant(query_id: str) -> set[str]:
    rows = (ROOT / "tests/eval/qrels/test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return {line.split("\t")[1] for line in rows if line.split("\t")[0] == query_id}


def _search(page: Page, query: str) -> None:
    """Type the query as a reader would: / to the box, then Enter."""
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    page.wait_for_selector("#summary")


def _result_ids(page: Page) -> list[str]:
    hrefs = page.locator("#results .hit h2 a").evaluate_all("els => els.map(a => a.href)")
    return [href.rsplit("/", 1)[1] for href in hrefs]


def test_a_question_finds_the_labelled_clause(page):
    page.goto("/")
    _search(page, "产教融合型企业投资办职业教育可以抵免哪些税费？")
    assert set(_result_ids(page)[:3]) & _relevant("r1")
    first = page.locator("#results .hit").first
    expect(first.locator(".m-hit").first).to_be_visible()
    expect(first.locator(".level")).to_have_text(re.compile("国家级|省级|市级"))
    assert page.locator("#results .hit .target").count() >= 1  # the 30% tax credit is marked


def test_quoted_wording_finds_exactly_where_it_is_used(page):
    page.goto("/")
    _search(page, "“产教融合型企业”")
    expect(page.locator("#summary")).to_contain_text("精确措辞")
    texts = page.locator("#results .hit .text").all_inner_texts()
    assert len(texts) >= 3 and all("产教融合型企业" in t for t in texts)
    titles = set(page.locator("#results .hit h2").all_inner_texts())
    assert len(titles) >= 3  # across documents and levels
    marked = page.locator("#results .hit .m-hit").all_inner_texts()
    assert marked and set(marked) == {"产教融合型企业"}


def test_region_filter_keeps_one_region(page):
    page.goto("/")
    _search(page, "产教融合")
    everywhere = set(page.locator("#results .hit .region").all_inner_texts())
    page.select_option("select[name=region]", "重庆市")
    page.locator("#q").press("Enter")
    page.wait_for_url(re.compile(r"region=%E9%87%8D%E5%BA%86"))
    regions = page.locator("#results .hit .region").all_inner_texts()
    assert len(everywhere) > 1 and regions and set(regions) == {"重庆市"}
    levels = page.locator("#results .hit .level").all_inner_texts()
    assert "国家级" not in levels


def test_unit_filter_reads_the_name_as_officials_type_it(page):
    page.goto("/")
    page.fill("input[name=unit]", "市发改委")
    page.select_option("select[name=region]", "重庆市")
    page.fill("#q", "产教融合")
    page.locator("#q").press("Enter")
    expect(page.locator("#unit-note .chip")).to_have_text(["重庆市发展和改革委员会"])
    hits = page.locator("#results .hit")
    assert hits.count() >= 5
    for index in range(hits.count()):
        chips = hits.nth(index).locator(".chips a").evaluate_all("els => els.map(a => a.title)")
        assert any(title.endswith("重庆市发展和改革委员会") for title in chips)


def test_a_chongqing_measure_shows_its_national_source_with_differences(page):
    page.goto("/ui/documents")
    page.get_by_role("link", name=CHONGQING).click()
    page.locator(".tree .label", has_text=re.compile(r"^2．$")).click()
    source = page.locator("#sources .source").first
    expect(source.locator("h3")).to_contain_text(NATIONAL_PLAN)
    added = source.locator(".local-text .m-added").all_inner_texts()
    assert any("机器人" in a for a in added) and any("物业" in a for a in added)
    assert source.locator(".source-text .m-dropped").count() >= 1
    source.scroll_into_view_if_needed()


def test_copy_citation_gives_title_number_and_path(page):
    page.goto("/ui/documents")
    page.get_by_role("link", name=CHONGQING).click()
    page.locator(".tree .label", has_text=re.compile(r"^12．$")).click()
    page.locator("main > p button.copy").click()
    expect(page.locator("main > p button.copy")).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"《{CHONGQING}》（{CHONGQING_NUMBER}）12．"


def test_a_unit_chip_opens_the_units_tasks(page):
    page.goto("/ui/documents")
    page.get_by_role("link", name=CHONGQING).click()
    page.locator(".tree .label", has_text=re.compile(r"^2．$")).click()
    page.locator(".chips a.chip", has_text="市发展改革委").first.click()
    expect(page.locator("#unit-name")).to_have_text("重庆市发展和改革委员会")
    rows = page.locator("#tasks-table tbody tr")
    assert rows.count() >= 6
    assert set(page.locator("#tasks-table tbody td:nth-child(2)").all_inner_texts()) == {
        CHONGQING_NUMBER
    }


def test_a_unit_typed_as_officials_do_is_scoped_to_the_region(page):
    page.goto("/ui/units/人社局?region=绍兴&role=lead")
    expect(page.locator("#unit-name")).to_have_text("绍兴市人力资源和社会保障局")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
    page.goto("/ui/units/市税务局")
    expect(page.locator(".error")).to_be_visible()
    expect(page.locator(".suggestions li")).to_have_count(2)  # 绍兴 and 重庆: choose one


def _downloaded_csv(page: Page, table: str) -> list[list[str]]:
    with page.expect_download() as download:
        page.locator(f"button.csv[data-table={table}]").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode()), "CSV starts with a BOM so spreadsheets read UTF-8"
    return list(csv.reader(data.decode("utf-8-sig").splitlines()))


def test_targets_table_filters_sorts_and_exports_csv(page):
    page.goto("/ui/targets")
    page.locator("input.table-filter").fill("产教融合型企业")
    visible = page.locator("#targets-table tbody tr:visible")
    shown = visible.count()
    assert 0 < shown < page.locator("#targets-table tbody tr").count()
    page.get_by_role("columnheader", name="数值").focus()  # sorting works from the keyboard
    page.keyboard.press("Enter")
    values = [float(v) for v in visible.locator("td:nth-child(4)").all_inner_texts()]
    assert values == sorted(values)
    rows = _downloaded_csv(page, "targets-table")
    assert rows[0][:4] == ["指标组", "指标", "限定", "数值"] and "引用" not in rows[0]
    assert len(rows) == shown + 1
    assert [float(r[3]) for r in rows[1:]] == values
    assert all("产教融合型企业" in "".join(r) for r in rows[1:])


def test_ownership_matrix_exports_csv(page):
    page.goto("/ui/documents")
    page.get_by_role("link", name=CHONGQING).click()
    rows = _downloaded_csv(page, "matrix-table")
    assert rows[0][:2] == ["条款", "内容"] and "重庆市发展和改革委员会" in rows[0]
    column = rows[0].index("重庆市发展和改革委员会")
    measure_2 = next(r for r in rows[1:] if r[0] == "2．")
    assert measure_2[column] == "责任" and "机器人" in measure_2[1]  # the full text, not cut
    page.locator("#matrix").scroll_into_view_if_needed()


def test_document_shows_what_it_implements_and_its_coverage(page):
    page.goto("/ui/documents")
    page.get_by_role("link", name=CHONGQING).click()
    expect(page.locator("#links")).to_contain_text(NATIONAL_PLAN)
    expect(page.locator("#coverage h3")).to_contain_text(re.compile(r"\d+ / \d+ 条"))
    page.locator("#coverage").scroll_into_view_if_needed()


def test_document_tree_collapses_and_opens(page):
    page.goto("/ui/documents")
    page.get_by_role("link", name=NATIONAL_PLAN, exact=True).click()
    expect(page.locator("#links")).to_contain_text("被以下文件落实")
    expect(page.locator("#links").get_by_role("link", name=CHONGQING)).to_be_visible()
    assert page.locator(".tree .derived-link").count() >= 10  # national clauses Chongqing took up
    nested = page.locator(".tree ul ul .label").first  # a clause two levels down
    expect(nested).to_be_visible()
    page.get_by_role("button", name="全部收起").click()
    assert page.locator(".tree details[open]").count() == 0
    expect(nested).to_be_hidden()
    page.get_by_role("button", name="全部展开").click()
    expect(nested).to_be_visible()


def test_phone_reads_without_sideways_scrolling(phone):
    phone.goto("/")
    _search(phone, "产教融合型企业能享受哪些优惠？")
    assert phone.locator("#results .hit").count() > 0
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.goto("/ui/documents")
    phone.get_by_role("link", name=CHONGQING).click()
    phone.locator(".tree .label", has_text=re.compile(r"^2．$")).click()
    source, local = (phone.locator("#sources .source").first.locator(".pane").nth(i).bounding_box()
                     for i in (0, 1))  # fmt: skip
    assert local["y"] >= source["y"] + source["height"]  # stacked, not side by side
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
