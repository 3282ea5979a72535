"""The HTML reader: one small page per mechanism, then every real page in ../shared/realdocs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.readers import SUFFIXES, read
from ingest.readers.base import IngestError, RawDocument, TableBlock, TextBlock
from ingest.readers.html import HtmlReader
from tests.conftest import SHARED

REALDOCS = SHARED / "realdocs"
BODY = (
    "<p>各区人民政府，市政府各委、办、局：</p>"
    "<p>经市政府同意，现将有关事项通知如下，请结合实际认真贯彻落实。</p>"
    "<p>一、加快推进数据共享，完善公共数据开放机制，提升政务服务水平。</p>"
)
NAV = (
    '<div class="nav"><a href="/">首页</a><a href="/a">政务公开</a><a href="/b">政策文件</a>'
    '<a href="/c">新闻中心</a><a href="/d">互动交流</a><a href="/e">办事服务</a></div>'
)
FOOTER = (
    '<div class="footer"><p>国务院相关部委：<a href="/1">外交部</a><a href="/2">国防部</a>'
    '<a href="/3">国家发展和改革委员会</a><a href="/4">教育部</a><a href="/5">科学技术部</a>'
    '<a href="/6">工业和信息化部</a></p><p>版权所有 主办单位：某市人民政府办公厅</p></div>'
)


def page(body: str, head: str = "<title>测试页面</title>") -> str:
    """A full page: navigation and footer around ``body``."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body>"
        f"{NAV}<div class='main'>{body}</div>{FOOTER}</body></html>"
    )


def write(tmp_path: Path, html: str | bytes, name: str = "page.html") -> RawDocument:
    """Write the page (text as UTF-8) and read it through the reader registry."""
    path = tmp_path / name
    if isinstance(html, str):
        path.write_text(html, encoding="utf-8")
    else:
        path.write_bytes(html)
    return read(path)


def lines(doc: RawDocument) -> list[str]:
    """The text lines of the body, tables left out."""
    return [line for block in doc.blocks if isinstance(block, TextBlock) for line in block.lines]


def text(doc: RawDocument) -> str:
    """Every line and cell of the body, whitespace removed."""
    cells = [c for b in doc.blocks if isinstance(b, TableBlock) for row in b.rows for c in row]
    return squeeze("".join(lines(doc) + cells))


def squeeze(value: object) -> str:
    """Whitespace and zero-width spaces removed, as the gold compares 文号 and titles."""
    return re.sub(r"[\s\u200b]+", "", str(value or ""))


def test_registered_for_html_suffixes(tmp_path: Path):
    assert {".html", ".htm", ".shtml", ".xhtml"} <= set(SUFFIXES)
    doc = write(tmp_path, page(BODY), name="page.shtml")
    assert lines(doc)[0] == "各区人民政府，市政府各委、办、局："


def test_inline_spans_join_without_losing_digits(tmp_path: Path):
    body = BODY + (
        "<p><span>首付比例不低于</span>\n  <span>15</span><span>%</span><span>。</span></p>"
        '<p style="text-align:right"><span>2024年7月</span>\n<span>8</span>\n<span>日</span></p>'
        "<p><b>京政办发</b><font>〔2023〕</font><a href='#'>15</a>号</p>"
        "<p>　　第一行<br>第二行<br/>　第三行</p>"
    )
    got = lines(write(tmp_path, page(body)))
    assert "首付比例不低于15%。" in got
    assert "2024年7月8日" in got
    assert "京政办发〔2023〕15号" in got
    assert got[-3:] == ["第一行", "第二行", "第三行"]  # br breaks lines; indentation stripped


def test_gb18030_page_with_meta_charset(tmp_path: Path):
    html = page(BODY + "<p>䶮字只在GB18030里。</p>", head='<meta charset="gb2312">')
    doc = write(tmp_path, html.replace("<meta charset='utf-8'>", "").encode("gb18030"))
    assert "一、加快推进数据共享，完善公共数据开放机制，提升政务服务水平。" in lines(doc)
    assert "䶮字只在GB18030里。" in lines(doc)


def test_undeclared_gbk_and_mislabelled_utf8(tmp_path: Path):
    bare = page(BODY).replace("<meta charset='utf-8'>", "")
    assert "各区人民政府，市政府各委、办、局：" in lines(write(tmp_path, bare.encode("gbk")))
    mislabelled = bare.replace("<head>", '<head><meta charset="gb2312">').encode("utf-8")
    assert "各区人民政府，市政府各委、办、局：" in lines(write(tmp_path, mislabelled))


def test_metadata_table_with_split_doc_number(tmp_path: Path):
    metadata = (
        '<table class="info"><tr><td><b>索 引 号：</b></td><td>000014349/2023-00015</td>'
        "<td><b>主题分类：</b></td><td>科技、教育\\科技</td></tr>"
        "<tr><td><b>发文机关：</b></td><td>北京市人民政府办公厅</td>"
        "<td><b>成文日期：</b></td><td>2023年05月23日</td></tr>"
        "<tr><td><b>标　　题：</b></td><td colspan='3'>关于促进数据共享的通知</td></tr>"
        "<tr><td><b>发文字号：</b></td><td><span>京政办发</span>\n<span>\u200b〔2023〕</span>\n"
        "<span>15号</span></td><td><b>发布日期：</b></td><td>2023-05-30</td></tr></table>"
    )
    doc = write(tmp_path, page(metadata + BODY))
    assert doc.hints["metadata_table"] == {
        "index_number": "000014349/2023-00015",
        "topic": "科技、教育\\科技",
        "issuers": "北京市人民政府办公厅",
        "date": "2023年05月23日",
        "title": "关于促进数据共享的通知",
        "doc_number": "京政办发〔2023〕15号",
        "publish_date": "2023-05-30",
    }
    assert not any(word in text(doc) for word in ("索引号", "000014349", "京政办发", "发布日期"))


def test_metadata_list_of_bracketed_labels(tmp_path: Path):
    metadata = (
        '<ol class="doc-info"><li>[发文机构] <span>北京市商务局</span></li>'
        "<li>[联合发文单位] <span>北京市消防救援局;北京市城市管理委员会</span></li>"
        "<li>[成文日期] <span>2025-09-26</span></li>"
        "<li>[发文字号] <span><span>\u200b京商生二字</span><span>〔2025〕</span><span>17号</span>"
        "</span></li><li>[有效性] <span>是</span></li></ol>"
        '<div class="time">发布时间： 2025-09-30   浏览次数：<span>1024</span></div>'
    )
    doc = write(tmp_path, page(metadata + BODY))
    table = doc.hints["metadata_table"]
    assert table["doc_number"] == "京商生二字〔2025〕17号"
    assert table["joint_issuers"] == "北京市消防救援局;北京市城市管理委员会"
    assert (table["validity"], table["publish_date"]) == ("是", "2025-09-30")
    assert "浏览次数" not in text(doc) and "京商生二字" not in text(doc)


def test_lone_label_line_in_the_text_stays_text(tmp_path: Path):
    body = BODY + "<p>时间：2024年5月10日上午</p><p>名称：数据共享平台</p>"
    doc = write(tmp_path, page(body))
    assert "metadata_table" not in doc.hints
    assert "时间：2024年5月10日上午" in lines(doc)


def test_navigation_footer_and_page_controls_dropped(tmp_path: Path):
    body = (
        '<div class="bar"><span>【打印】</span><span>【关闭】</span> 字号：大 中 小</div>'
        f'<div id="zoom">{BODY}</div><div class="share">分享到：</div>'
        '<ul class="related"><li><a href="/x">关于印发某某办法的通知</a></li>'
        '<li><a href="/y">某某政策解读</a></li></ul><script>var x = "脚本里的中文";</script>'
    )
    doc = write(tmp_path, page(body))
    assert lines(doc) == [
        "各区人民政府，市政府各委、办、局：",
        "经市政府同意，现将有关事项通知如下，请结合实际认真贯彻落实。",
        "一、加快推进数据共享，完善公共数据开放机制，提升政务服务水平。",
    ]


def test_task_table_rows_with_rowspan_filled(tmp_path: Path):
    table = (
        "<table border='1'>"
        "<tr><th>序号</th><th>重点任务</th><th>牵头单位</th><th>责任单位</th></tr>"
        "<tr><td>1</td><td>推进数据共享</td><td rowspan='2'>市发改委</td><td>市数据局</td></tr>"
        "<tr><td>2</td><td>完善考核机制</td><td>市人社局</td></tr>"
        "<tr><td colspan='2'>合计</td><td>2项</td><td></td></tr></table>"
    )
    doc = write(tmp_path, page(BODY + table + "<p>二、各单位要按照分工抓好落实。</p>"))
    kinds = [type(block).__name__ for block in doc.blocks]
    assert kinds == ["TextBlock", "TableBlock", "TextBlock"]
    assert doc.blocks[1].rows == [
        ["序号", "重点任务", "牵头单位", "责任单位"],
        ["1", "推进数据共享", "市发改委", "市数据局"],
        ["2", "完善考核机制", "市发改委", "市人社局"],
        ["合计", "", "2项", ""],
    ]


def test_layout_table_is_read_through(tmp_path: Path):
    layout = (
        "<table><tr><td class='side'><a href='/1'>首页</a><a href='/2'>通知公告</a></td>"
        f"<td><table><tr><td>{BODY}</td></tr></table></td></tr></table>"
    )
    single = f"<table><tr><td>{BODY}</td></tr><tr><td>2023年5月23日</td></tr></table>"
    for html in (layout, single):
        doc = write(tmp_path, page(html))
        assert not any(isinstance(block, TableBlock) for block in doc.blocks)
        assert lines(doc)[0] == "各区人民政府，市政府各委、办、局："


def test_notice_beside_a_long_attachment_is_kept(tmp_path: Path):
    notice = (
        "<p>京政办发〔2023〕15号</p><p>各区人民政府：</p>"
        "<p>现将《某某管理办法》印发给你们，请遵照执行。</p><p>北京市人民政府办公厅</p>"
    )
    article = "<p>第一条 为了规范管理，根据有关法律法规，结合本市实际，制定本办法。</p>" * 40
    for paragraphs in (notice, notice.replace("<p>", "<div>").replace("</p>", "</div>")):
        html = f"<div id='zoom'>{paragraphs}<div class='attachment'>{article}</div></div>"
        got = lines(write(tmp_path, page(html)))
        assert got[:3] == [
            "京政办发〔2023〕15号",
            "各区人民政府：",
            "现将《某某管理办法》印发给你们，请遵照执行。",
        ]
        assert len(got) == 44
    html = f"<div><div class='wh'>京政办发〔2023〕15号</div><div id='zoom'>{article}</div></div>"
    assert lines(write(tmp_path, page(html)))[0] == "京政办发〔2023〕15号"


def test_xhtml_with_xml_declaration_and_word_markup(tmp_path: Path):
    xhtml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<head><title>通知</title></head><body>"
        "<p class=MsoNormal><span lang=EN-US>1</span><span>．加快推进数据共享，提升服务水平。"
        "</span><o:p></o:p></p>"
        f"{BODY}<p><st1:chsdate Year='2023' Month='5' Day='23'>2023年5月23日</st1:chsdate></p>"
        "</body></html>"
    )
    got = lines(write(tmp_path, xhtml, name="page.xhtml"))
    assert got[0] == "1．加快推进数据共享，提升服务水平。"
    assert got[-1] == "2023年5月23日"


def test_double_escaped_entities(tmp_path: Path):
    body = BODY + "<p>&amp;ldquo;探索建立&amp;rdquo;机制&amp;nbsp;，比例为1&amp;#65306;1。</p>"
    got = lines(write(tmp_path, page(body)))
    assert got[-1] == "“探索建立”机制 ，比例为1：1。"


def test_fragment_without_html_element(tmp_path: Path):
    fragment = (
        '<div class="wrap"><table class="bd1"><tr><td><b>发文机关：</b></td><td>国务院办公厅</td>'
        "<td><b>发文字号：</b></td><td>国办发〔2019〕3号</td></tr></table>"
        f'<table><tr><td id="UCAP-CONTENT"><p><span>国务院办公厅关于开展</span><br>'
        f"<span>治理工作的通知</span></p>{BODY}</td></tr></table></div>"
    )
    doc = write(tmp_path, fragment)
    assert doc.hints["metadata_table"] == {
        "issuers": "国务院办公厅",
        "doc_number": "国办发〔2019〕3号",
    }
    assert lines(doc)[:2] == ["国务院办公厅关于开展", "治理工作的通知"]
    assert "page_title" not in doc.hints


def test_headline_page_title_and_validity_mark(tmp_path: Path):
    head = "<title>某市人民政府 [已废止]某市人民政府办公室关于加强管理的通知_政策文件</title>"
    body = (
        '<h1 class="print-title">某市人民政府办公室政府信息公开</h1>'
        f"<h3>【已废止】某市人民政府办公室关于加强管理的通知</h3>{BODY}"
    )
    doc = write(tmp_path, page(body, head=head))
    assert doc.hints["headline"] == "某市人民政府办公室关于加强管理的通知"
    assert doc.hints["validity_mark"] == "已废止"
    assert doc.hints["page_title"] == "某市人民政府 某市人民政府办公室关于加强管理的通知_政策文件"


def test_headline_inside_the_content_is_not_body_text(tmp_path: Path):
    body = f'<div class="content"><h1 class="title">关于加强管理的通知</h1>{BODY}</div>'
    doc = write(tmp_path, page(body))
    assert doc.hints["headline"] == "关于加强管理的通知"
    assert "关于加强管理的通知" not in lines(doc)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"   \n\t ", "empty file"),
        (b"<html>\x00\x01\x02\x00 binary</html>", "binary"),
        (page(NAV).encode(), "no content found"),
        (b"<html><body><p>English only, no Chinese text here.</p></body></html>", "no content"),
    ],
)
def test_bad_input_is_refused(tmp_path: Path, data: bytes, reason: str):
    path = tmp_path / "bad.html"
    path.write_bytes(data)
    with pytest.raises(IngestError, match=reason) as error:
        HtmlReader().read(path)
    assert error.value.path == str(path)


# ------------------------------------------------------------ the real pages in ../shared


def _gold_pages() -> list:
    """Gold rows of every html and html-fragment file, or one skipped case without them."""
    gold = REALDOCS / "gold.jsonl"
    if not (REALDOCS / "files").is_dir() or not gold.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{REALDOCS} is not present"))]
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line]
    return [
        pytest.param(row, id=row["file"])
        for row in rows
        if row["format"] in ("html", "html-fragment")
    ]


@pytest.mark.parametrize("gold", _gold_pages())
def test_real_page(gold: dict):
    doc = HtmlReader().read(REALDOCS / "files" / gold["file"])
    body = text(doc)
    assert len(re.findall(r"[\u4e00-\u9fff]", body)) >= 300
    if gold["doc_number"]:
        hints = squeeze(json.dumps(doc.hints, ensure_ascii=False))
        assert squeeze(gold["doc_number"]) in body + hints
    metadata = doc.hints.get("metadata_table", {})
    if "index_number" in metadata:
        assert metadata["index_number"] not in body  # the metadata block is not body text
    title = squeeze(gold["title"])
    first_lines = squeeze("".join(lines(doc)[:12]))
    assert (
        title in squeeze(doc.hints.get("headline"))
        or title in first_lines
        or title == squeeze(metadata.get("title"))
    )
