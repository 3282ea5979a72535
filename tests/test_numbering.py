import pytest

from ingest.numbering import cn_to_int, heading_of, label_number, match_attachment, match_label


@pytest.mark.parametrize(
    ("paragraph", "kind", "label"),
    [
        ("第一编 总则", "part", "第一编"),
        ("第二章 消防安全责任", "chapter", "第二章"),
        ("第三节 监督", "section", "第三节"),
        ("第十二条 县级以上人民政府", "article", "第十二条"),
        ("一、行动目标", "cn", "一、"),
        ("（十一）推进1+X证书制度试点。", "cn_paren", "（十一）"),
        ("15. 加大金融政策扶持力度。", "arabic", "15."),
        ("1．组织符合条件的区县", "arabic", "1．"),
        ("2、合作育人", "arabic", "2、"),
        ("（1）工作要求", "arabic_paren", "（1）"),
        ("③其他", "circled", "③"),
        ("第一千二百五十八条 本编自2021年1月1日起施行。", "article", "第一千二百五十八条"),
        ("第一万条 末条", "article", "第一万条"),
        ("第1258条 本编", "article", "第1258条"),
        ("第 12 条 数字与条之间有空格", "article", "第 12 条"),
        ("第一条【总体目标】落实城市总体规划", "article", "第一条"),
        ("第一条　（目的和依据）", "article", "第一条"),
        ("第十六条项目申请人应当", "article", "第十六条"),  # 项 opens the text, not 第X条第Y项
        ("第一百二十条之一 新增的条文", "article", "第一百二十条之一"),
        ("第一章　总　则", "chapter", "第一章"),
        ("第一百零一章 附则", "chapter", "第一百零一章"),
        ("㈠对设计方案不符合的", "cn_paren", "㈠"),
        ("(一)有按照国家标准检测的设备", "cn_paren", "(一)"),
        ("⑵其他情形", "arabic_paren", "⑵"),
        ("1)工作要求", "arabic_half", "1)"),
        ("1、2023年起实施", "arabic", "1、"),
        ("（一）、2023年起实施", "cn_paren", "（一）"),
    ],
)
def test_labels(paragraph, kind, label):
    found = match_label(paragraph)
    assert found is not None and (found.kind, found.text) == (kind, label)


@pytest.mark.parametrize(
    "paragraph",
    [
        "30%的比例抵免",
        "2023年11月1日",
        "1.5亿元",
        "十四五规划",
        "第一条款",
        "第十条之规定",
        "第三条、第四条规定的",
        "（5）、（6）、（7）的材料即可",  # references to items, wrapped to the start of a line
        "（1）-（6）的材料",
        "2、3、4、5、6型保障对象",
        "一、二、三级医院",
    ],
)
def test_not_labels(paragraph):
    assert match_label(paragraph) is None


def test_attachment_headings():
    assert match_attachment("附件2：").text == "附件2"
    assert match_attachment("附件 1").text == "附件1"
    assert (
        match_attachment("附件2：绍兴市深化产教融合重点任务分解表").rest
        == "绍兴市深化产教融合重点任务分解表"
    )
    assert match_attachment("附件：1.市域产教联合体建设标准（试行）") is None


def test_heading_is_label_and_first_sentence():
    assert (
        heading_of("（一）", "推动形成产教融合头雁效应。其后正文")
        == "（一）推动形成产教融合头雁效应"
    )
    assert heading_of("第一章", "总则") == "第一章 总则"


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("一百零五", 105),
        ("一百一十", 110),
        ("九百九十九", 999),
        ("一千", 1000),
        ("一千零一", 1001),
        ("两千零一", 2001),
        ("一千二百五十八", 1258),
        ("九千九百九十九", 9999),
        ("一万", 10000),
        ("一万零一百", 10100),
        ("一亿二千万", 120_000_000),
        ("二〇二三", 2023),
        ("二○一二", 2012),
        ("零", 0),
        ("1258", 1258),
        ("１２", 12),
    ],
)
def test_cn_to_int(numeral, value):
    assert cn_to_int(numeral) == value


@pytest.mark.parametrize("numeral", ["", "一二十", "十a", "第一"])
def test_cn_to_int_rejects_what_is_no_numeral(numeral):
    assert cn_to_int(numeral) is None


@pytest.mark.parametrize(
    ("label", "value"),
    [
        ("第一千二百五十八条", 1258),
        ("第 12 条", 12),
        ("第十条之一", 10),
        ("第三章", 3),
        ("（十一）", 11),
        ("(3)", 3),
        ("15.", 15),
        ("2、", 2),
        ("⑤", 5),
        ("⑵", 2),
        ("㈢", 3),
        ("四是", 4),
    ],
)
def test_label_number(label, value):
    assert label_number(label) == value


def test_runs_are_labels_only_when_asked():
    assert match_label("一是推动建立城镇房屋定期体检制度") is None
    found = match_label("一是推动建立城镇房屋定期体检制度", runs=True)
    assert (found.kind, found.text, found.rest) == ("run", "一是", "推动建立城镇房屋定期体检制度")
    assert match_label("一是的", runs=True) is None
