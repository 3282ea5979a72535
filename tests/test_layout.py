"""The layout of an official document (GB/T 9704): 版头, title, note, signature, 版记."""

from pathlib import Path

from ingest.cleaning import Paragraph
from ingest.dates import is_date_line, parse_date
from ingest.layout import read_layout
from ingest.metadata import infer
from ingest.readers.base import RawDocument


def layout_of(*lines: str):
    return read_layout([Paragraph(line) for line in lines])


def document_of(*lines: str, hints: dict | None = None):
    items = [Paragraph(line) for line in lines]
    raw = RawDocument(Path("doc.txt"), [], hints=hints or {}, raw_bytes="".join(lines).encode())
    return infer(raw, items)


def test_red_header_with_joint_issuers_stacked_beside_one_mark():
    layout = layout_of(
        "000123",
        "CSCR-2022-87001",
        "特急",
        "南京市住房保障和房产局",
        "南京市财政局        文件",
        "南京市自然资源和规划局",
        "宁房市字〔2023〕 12 号           签发人：张三",
        "关于进一步促进房地产市场",
        "平稳健康发展的通知",
        "各区人民政府：",
        "为促进房地产市场平稳健康发展，现通知如下。",
    )
    assert layout.header_issuers == [
        "南京市住房保障和房产局",
        "南京市财政局",
        "南京市自然资源和规划局",
    ]
    assert layout.doc_number == "宁房市字〔2023〕12号"
    assert layout.title == "关于进一步促进房地产市场平稳健康发展的通知"
    assert layout.consumed == set(range(10))


def test_letter_spaced_issuer_mark():
    layout = layout_of(
        "北 京 市 人 民 政 府 文 件", "京政发〔2023〕14号", "关于印发某方案的通知", "正文。"
    )
    assert layout.header_issuers == ["北京市人民政府"]
    assert layout.title == "关于印发某方案的通知"


def test_a_title_is_the_longest_balanced_run_ending_on_a_document_type():
    layout = layout_of(
        "北京市继续促进国四排放标准", "老旧营运货车报废更新实施细则", "根据《某通知》，制定本细则。"
    )
    assert layout.title == "北京市继续促进国四排放标准老旧营运货车报废更新实施细则"


def test_collector_wrappers_and_a_repeated_title_are_skipped():
    layout = layout_of(
        "【法宝引证码】 CLI.12.6476457",
        "原文链接：https://www.pkulaw.com/lar/x.html",
        "某市人民政府办公室关于印发某办法的通知",
        "某市人民政府办公室关于印发某办法的通知",
        "（某府办发〔2022〕3号）",
        "各县（区）人民政府：",
        "现将某办法印发给你们。",
    )
    assert layout.title == "某市人民政府办公室关于印发某办法的通知"
    assert layout.doc_number == "某府办发〔2022〕3号"
    assert 6 not in layout.consumed


def test_a_regulation_note_gives_date_issuer_and_order_number():
    layout = layout_of(
        "北京市地名管理办法",
        "(2023 年 12 月 15 日北京市人民政府第 312 号令公布 自2024 年 2 月 1 日起施行)",
        "第一条 为了加强地名管理，制定本办法。",
    )
    assert (layout.title, layout.date) == ("北京市地名管理办法", "2023-12-15")
    assert layout.doc_number == "北京市人民政府第312号令"
    assert layout.header_issuers == ["北京市人民政府"]


def test_a_government_order_header_and_its_signing_official():
    layout = layout_of(
        "某市政务数据管理办法",
        "某市人民政府令",
        "（第16号）",
        "《某市政务数据管理办法》已经市政府常务会议审议通过，现予公布。",
        "市长 王某某",
        "2020年5月15日",
        "第一条 为了规范政务数据管理，制定本办法。",
    )
    assert layout.doc_number == "某市人民政府令第16号"
    assert layout.header_issuers == ["某市人民政府"]
    assert layout.date == "2020-05-15"
    assert {4, 5} <= layout.consumed


def test_signature_in_columns_over_a_chinese_numeral_date_and_the_colophon():
    document, consumed = document_of(
        "关于某事项的通知",
        "各有关单位：",
        "现就某事项通知如下。",
        "重庆市发展和改革委员会 重庆市教育委员会",
        "重庆市财政局",
        "二○一二年一月九日",
        "（此件公开发布）",
        "抄送：各区县。",
        "重庆市发展和改革委员会办公室 2012年1月10日印发",
    )
    assert document.issuers == ["重庆市发展和改革委员会", "重庆市教育委员会", "重庆市财政局"]
    assert document.date == "2012-01-09"
    assert consumed == {0, 1, 3, 4, 5, 6, 7, 8}


def test_a_draft_keeps_its_mark_in_the_title():
    document, _ = document_of(
        "某市停车管理规定", "（征求意见稿）", "第一条 为规范停车，制定本规定。"
    )
    assert (document.title, document.status) == ("某市停车管理规定（征求意见稿）", "draft")


def test_issuers_from_a_joint_title_when_nothing_else_names_them():
    document, _ = document_of("国家发展改革委 财政部关于做好某项工作的通知", "各省：", "正文。")
    assert document.issuers == ["国家发展改革委", "财政部"]


def test_web_page_metadata_fills_what_the_text_lacks():
    table = {
        "doc_number": "京政办发 〔2023〕 15号",
        "date": "2023年05月23日",
        "issuers": "北京市人民政府办公厅",
    }
    document, _ = document_of("一、总体要求", "正文。", hints={"metadata_table": table})
    assert (document.doc_number, document.date) == ("京政办发〔2023〕15号", "2023-05-23")
    assert document.issuers == ["北京市人民政府办公厅"]


def test_dates_in_any_numerals():
    assert parse_date("二〇二三年十一月一日") == "2023-11-01"
    assert parse_date("一九九六年六月二十九日") == "1996-06-29"
    assert parse_date("2024 年1 月30 日") == "2024-01-30"
    assert parse_date("2023年13月45日") is None
    assert is_date_line("二○一二年一月九日") and not is_date_line("年  月  日")


def test_issuers_stacked_over_the_title_without_a_mark():
    layout = layout_of(
        "重庆市发展和改革委员会",
        "重   庆   市   公   安   局",
        "重 庆 市 体 育 局",
        "关于印发《若干措施》的通知",
        "渝发改规范〔2025〕7号",
        "各有关单位：",
    )
    assert layout.header_issuers == ["重庆市发展和改革委员会", "重庆市公安局", "重庆市体育局"]
    assert layout.title == "关于印发《若干措施》的通知"


def test_an_issuer_on_the_first_line_of_a_title_stays_in_the_title():
    layout = layout_of("高阳县人民政府", "关于加强房地产市场管控的意见", "各乡（镇）政府：")
    assert layout.title == "高阳县人民政府关于加强房地产市场管控的意见"
    assert layout.header_issuers == []


def test_a_page_linking_its_original_by_doc_number():
    document, _ = document_of("关于某事项的通知", "各区：", "正文。", "市政办发〔2022〕167号.pdf")
    assert document.doc_number == "市政办发〔2022〕167号"


def test_regions_down_to_the_district_or_development_zone():
    cases = {
        "三明市沙县区人民政府关于印发某措施的通知": ("county", "三明市沙县区"),
        "北京市西城区教育委员会关于某工作的实施意见": ("county", "西城区"),
        "北京经济技术开发区管理委员会关于印发某细则的通知": ("county", "北京经济技术开发区"),
        "“好年华 聚福州”长乐区人才购房补贴的实施细则（试行）": ("county", "福州市长乐区"),
    }
    for title, (level, region) in cases.items():
        document, _ = document_of(title, "各有关单位：", "正文。")
        assert (document.level.value, document.region) == (level, region), title


def test_a_headline_with_its_doc_number_and_a_short_issuer_named_in_full_by_the_site():
    hints = {
        "headline": "市规划资源局关于印发《某细则》的通知（津规资发〔2024〕3号）",
        "metadata_table": {"source": "天津市规划和自然资源局"},
    }
    document, _ = document_of("某细则", "第一条 为规范转让，制定本细则。", hints=hints)
    assert document.title == "市规划资源局关于印发《某细则》的通知"
    assert document.issuers == ["天津市规划和自然资源局"]


def test_text_read_off_page_images_is_marked():
    document, _ = document_of("关于某事项的通知", "各区：", "正文。", hints={"ocr": True})
    assert document.extraction == "ocr"
    assert document_of("关于某事项的通知", "正文。")[0].extraction == "text"


def test_the_name_pattern_matches_the_longest_name_at_each_place():
    import re

    from ingest.regions import trie_regex

    pattern = re.compile(trie_regex(["沙县", "沙县区", "三明市", "三明"]))
    assert pattern.findall("三明市沙县区人民政府，三明沙县") == ["三明市", "沙县区", "三明", "沙县"]
