"""The clause tree: articles of any number and shape, list numbering, attachment lists."""

from __future__ import annotations

from pathlib import Path

from ingest.cleaning import Paragraph
from ingest.models import Clause
from ingest.numbering import cn_to_int, label_number
from ingest.pipeline import parse_file
from ingest.tree import build_tree
from tests.conftest import shared

DIGITS = "零一二三四五六七八九"


def chinese(number: int) -> str:
    """How a law writes an article number: 10 → 十, 1258 → 一千二百五十八, 10000 → 一万."""
    if number >= 10_000:
        rest = number % 10_000
        gap = "零" if 0 < rest < 1000 else ""
        return chinese(number // 10_000) + "万" + gap + (chinese(rest) if rest else "")
    parts: list[str] = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // value % 10
        if digit:
            parts.append(("零" if zero else "") + DIGITS[digit] + unit)
            zero = False
        elif parts:
            zero = True
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


def tree(*paragraphs: str) -> list[Clause]:
    return build_tree([Paragraph(p) for p in paragraphs], set(), "doc")


def shape(clauses: list[Clause]) -> list[tuple[int, str, str]]:
    return [(c.depth, c.label, c.text) for c in clauses]


def test_chinese_numerals_read_back():
    assert [chinese(n) for n in (10, 15, 110, 1001, 1010, 1258, 10000)] == [
        "十",
        "十五",
        "一百一十",
        "一千零一",
        "一千零一十",
        "一千二百五十八",
        "一万",
    ]
    assert all(cn_to_int(chinese(n)) == n for n in range(1, 10_001))


# --- articles of any number --------------------------------------------------------------------


def test_a_law_of_ten_thousand_articles(tmp_path: Path):
    lines = ["# 中华人民共和国测试法", ""]
    for n in range(1, 10_001):
        if n % 500 == 1:
            lines += [f"## 第{chinese(n // 500 + 1)}章 第{n}条至第{n + 499}条", ""]
        lines += [f"第{chinese(n)}条 本条是第{n}条，规定第{n}项事务。", ""]
        if n % 1000 == 0:
            lines += ["第三条规定的期限，不适用于本条。", ""]  # a citation that opens a line
    path = tmp_path / "测试法.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    clauses = parse_file(path).clauses
    articles = [c for c in clauses if c.kind == "article"]
    assert len(articles) == 10_000
    assert [label_number(c.label) for c in articles] == list(range(1, 10_001))
    assert articles[-1].label == "第一万条"
    second = next(c for c in clauses if c.parent_id == articles[999].clause_id)
    assert (second.kind, second.text) == ("paragraph", "第三条规定的期限，不适用于本条。")
    assert max(len(c.text) for c in clauses) < 60
    assert [c.label for c in clauses if c.kind == "heading"][-1] == "第二十章"


def test_every_article_of_the_civil_code_is_a_clause():
    tort = parse_file(shared("corpora/lawrefbook/民法典/侵权责任编.md")).clauses
    articles = [c for c in tort if c.kind == "article"]
    assert [label_number(c.label) for c in articles] == list(range(1164, 1259))
    assert articles[0].label == "第一千一百六十四条"
    assert articles[0].text == "本编调整因侵害民事权益产生的民事关系。"
    assert articles[0].path == ["第一章 一般规定"]
    assert articles[-1].label == "第一千二百五十八条"
    assert all("第一千" not in c.text.split("\n", 1)[-1][:6] for c in articles)
    assert max(len(c.text) for c in tort) < 400


def test_the_civil_code_numbers_its_articles_across_its_books():
    books = ["总则", "物权编", "合同编", "人格权编", "婚姻家庭编", "继承编", "侵权责任编", "附则"]
    numbers = []
    for book in books:
        clauses = parse_file(shared(f"corpora/lawrefbook/民法典/{book}.md")).clauses
        numbers += [label_number(c.label) for c in clauses if c.kind == "article"]
    assert numbers == list(range(1, 1261))


def test_article_numbers_in_arabic_digits():
    clauses = tree("第1条 总则。", "第 2 条 适用范围。", "第3条 施行日期。")
    assert shape(clauses) == [
        (0, "第1条", "总则。"),
        (0, "第2条", "适用范围。"),
        (0, "第3条", "施行日期。"),
    ]


# --- article shapes ----------------------------------------------------------------------------


def test_article_label_alone_on_its_line_takes_the_next_paragraph():
    clauses = tree("第一条", "为了规范管理，制定本办法。", "第二条", "本办法适用于本市。")
    assert shape(clauses) == [
        (0, "第一条", "为了规范管理，制定本办法。"),
        (0, "第二条", "本办法适用于本市。"),
    ]


def test_article_separators_and_captions():
    clauses = tree(
        "第一条　为了规范管理，制定本办法。",
        "第二条 本办法适用于本市。",
        "第三条【总体目标】落实城市总体规划。",
        "第四条　（目的和依据）",
        "为了推进新片区建设，制定本办法。",
    )
    assert shape(clauses) == [
        (0, "第一条", "为了规范管理，制定本办法。"),
        (0, "第二条", "本办法适用于本市。"),
        (0, "第三条", "【总体目标】落实城市总体规划。"),
        (0, "第四条", "（目的和依据）\n为了推进新片区建设，制定本办法。"),
    ]


def test_letter_spaced_chapter_headings():
    clauses = tree("第一章　总　则", "第一条 为了规范管理，制定本办法。", "第二章 附  则")
    assert [(c.depth, c.label, c.text) for c in clauses][::2] == [
        (0, "第一章", "总则"),
        (0, "第二章", "附则"),
    ]
    assert clauses[1].path == ["第一章 总则"]


def test_a_cited_article_at_the_start_of_a_line_is_text():
    clauses = tree(
        "第九条 申请人应当提交材料。",
        "第十条 有下列情形之一的，不予受理：",
        "（一）材料不全的；",
        "（二）逾期提交的。",
        "第三条规定的期限届满的，依照前款处理。",
        "第十一条 本办法自发布之日起施行。",
    )
    assert [c.label for c in clauses if c.kind == "article"] == ["第九条", "第十条", "第十一条"]
    cited = clauses[4]
    assert (cited.kind, cited.text) == ("paragraph", "第三条规定的期限届满的，依照前款处理。")
    assert cited.parent_id == clauses[1].clause_id  # a 款 of 第十条, after its list


def test_an_article_whose_text_opens_like_a_citation():
    clauses = tree(
        "第十五条 鼓励科学技术人员申请资助。",
        "第十六条项目申请人应当按照项目指南提交申请材料。",
        "第十七条第三方机构出具虚假报告的，依法处理。",
        "第十八条 本办法自发布之日起施行。",
    )
    assert [c.label for c in clauses] == ["第十五条", "第十六条", "第十七条", "第十八条"]
    assert clauses[2].text == "第三方机构出具虚假报告的，依法处理。"


def test_an_article_lost_upstream_does_not_stop_the_rest():
    clauses = tree("第一条 甲。", "第二条 乙。", "第四条 丁。", "第五条 戊。")
    assert [c.label for c in clauses] == ["第一条", "第二条", "第四条", "第五条"]


def test_each_attachment_numbers_its_articles_anew():
    clauses = tree("第一条 甲。", "第二条 乙。", "附件2", "实施细则", "第一条 丙。", "第二条 丁。")
    assert [(c.depth, c.label) for c in clauses] == [
        (0, "第一条"),
        (0, "第二条"),
        (0, "附件2"),
        (1, "第一条"),
        (1, "第二条"),
    ]


def test_parenthesised_ideographs_inside_articles():
    clauses = tree(
        "第二十八条 有下列行为之一的，依法给予处分：",
        "㈠对设计方案不符合要求出具合格意见的；",
        "㈡不依法履行监督管理职责的其他行为。",
        "第二十九条 本办法自2012年2月1日起施行。",
    )
    assert [(c.depth, c.label) for c in clauses] == [
        (0, "第二十八条"),
        (1, "㈠"),
        (1, "㈡"),
        (0, "第二十九条"),
    ]


# --- list numbering ----------------------------------------------------------------------------


def test_paragraphs_opening_a_run_are_items():
    clauses = tree(
        "一、工作目标",
        "一是推动建立房屋定期体检制度。",
        "二是建立房屋养老金制度。",
        "二、基本原则",
        "一是坚持政府主导。",
        "二是坚持系统谋划。",
        "三是坚持分类管理。",
    )
    assert [(c.depth, c.label) for c in clauses] == [
        (0, "一、"),
        (1, "一是"),
        (1, "二是"),
        (0, "二、"),
        (1, "一是"),
        (1, "二是"),
        (1, "三是"),
    ]


def test_a_lone_paragraph_opening_with_yi_shi_is_text():
    clauses = tree("一、工作目标", "一是要统一思想，二是要落实责任。", "二、保障措施")
    assert [(c.depth, c.label) for c in clauses] == [(0, "一、"), (0, "二、")]
    assert clauses[0].text == "工作目标\n一是要统一思想，二是要落实责任。"


def test_a_list_introduced_by_a_colon_ends_with_its_sentence():
    clauses = tree(
        "第三条 本办法所称地名包括：",
        "（一）自然地理实体名称；",
        "（二）行政区划名称。",
        "法律另有规定的，从其规定。",
    )
    assert clauses[0].text == "本办法所称地名包括："
    assert clauses[2].text == "行政区划名称。"
    after = clauses[3]
    assert (after.depth, after.kind, after.text) == (1, "paragraph", "法律另有规定的，从其规定。")
    assert after.parent_id == clauses[0].clause_id


def test_a_list_of_names_under_a_colon_ends_before_the_next_paragraph():
    clauses = tree(
        "第三条 本办法所称地名包括：",
        "（一）自然地理实体名称",
        "（二）行政区划名称",
        "其他名称除外。",
    )
    assert [(c.depth, c.label, c.text) for c in clauses[2:]] == [
        (1, "（二）", "行政区划名称"),
        (1, "", "其他名称除外。"),
    ]
    assert clauses[3].parent_id == clauses[0].clause_id


def test_an_item_cut_short_takes_the_rest_of_its_line():
    clauses = tree(
        "第三十九条 有下列情形之一的，暂停拨付经费：",
        "（一）未对申请人提交的材料或",
        "者报告进行审查的；",
        "（二）不履行保障职责的。",
        "（一）擅自变更研究方向的；",
        "（二）未按规定提交报告或",
        "验收材料的；",
    )
    assert [c.text for c in clauses[1:]] == [
        "未对申请人提交的材料或\n者报告进行审查的；",
        "不履行保障职责的。",
        "擅自变更研究方向的；",
        "未按规定提交报告或\n验收材料的；",
    ]


def test_items_with_a_caption_keep_their_text_under_a_colon():
    clauses = tree(
        "三、实施要求：",
        "（一）好规划。",
        "土地供应坚持市场需求导向。",
        "（二）好设计。",
        "构建全龄友好与无障碍环境。",
    )
    assert shape(clauses)[1:] == [
        (1, "（一）", "好规划。\n土地供应坚持市场需求导向。"),
        (1, "（二）", "好设计。\n构建全龄友好与无障碍环境。"),
    ]


def test_a_heading_item_keeps_its_text_under_a_colon():
    clauses = tree(
        "本市对互联网租赁自行车实行备案管理，具体要求如下：",
        "一、备案程序",
        "初次投放的经营者，按以下程序办理。",
        "二、备案材料",
        "初次投放的经营者应当提交以下材料：",
        "（一）备案申请表；",
        "（二）营业执照扫描件。",
    )
    assert [(c.depth, c.label) for c in clauses] == [
        (0, ""),
        (0, "一、"),
        (0, "二、"),
        (1, "（一）"),
        (1, "（二）"),
    ]
    assert clauses[2].text == "备案材料\n初次投放的经营者应当提交以下材料："


def test_item_labels_alone_on_their_line():
    clauses = tree("一、土地供应：", "1.", "合理确定供应总量。", "2.", "科学确定供应节奏。")
    assert shape(clauses)[1:] == [(1, "1.", "合理确定供应总量。"), (1, "2.", "科学确定供应节奏。")]


def test_items_numbered_on_across_sections():
    clauses = tree(
        "（一）货物贸易", "1.扩大出口。", "2.扩大进口。", "（二）服务贸易", "3.深化合作。"
    )
    assert [(c.depth, c.label) for c in clauses] == [
        (0, "（一）"),
        (1, "1."),
        (1, "2."),
        (0, "（二）"),
        (1, "3."),
    ]


# --- attachment lists --------------------------------------------------------------------------


def test_a_list_of_attachments_stays_text():
    clauses = tree(
        "（三）区局将适时组织宣传采访。",
        "附件：1.信息宣传联络员登记表",
        "2.申请宣传申报单",
        "3.协助宣传报道通知单",
        "附件1：",
        "信息宣传联络员登记表",
        "一、填报说明",
    )
    assert shape(clauses) == [
        (0, "（三）", "区局将适时组织宣传采访。"),
        (0, "", "附件：1.信息宣传联络员登记表\n2.申请宣传申报单\n3.协助宣传报道通知单"),
        (0, "附件1", "信息宣传联络员登记表"),
        (1, "一、", "填报说明"),
    ]


def test_a_list_of_attachments_on_the_lines_after_its_heading():
    clauses = tree("四、加强宣教。", "附件：", "1.学校注册流程", "2.筛查流程图")
    assert shape(clauses) == [
        (0, "四、", "加强宣教。"),
        (0, "", "附件：\n1.学校注册流程\n2.筛查流程图"),
    ]


def test_a_list_of_forms_stays_text():
    clauses = tree("七、其他事项", "1.如实申报。", "附表:1.资格申请表", "2.承诺和", "授权书")
    assert shape(clauses)[1:] == [
        (1, "1.", "如实申报。"),
        (0, "", "附表:1.资格申请表\n2.承诺和\n授权书"),
    ]


def test_an_attachment_named_twice_is_one_attachment():
    clauses = tree("四、考评结果应用", "附件：", "考评指标", "附件", "考评指标", "一、政务服务")
    assert [(c.depth, c.label, c.text) for c in clauses] == [
        (0, "四、", "考评结果应用"),
        (0, "", "附件：\n考评指标"),
        (0, "附件", "考评指标"),
        (1, "一、", "政务服务"),
    ]
