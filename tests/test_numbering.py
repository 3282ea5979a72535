import pytest

from ingest.numbering import heading_of, match_attachment, match_label


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
    ],
)
def test_labels(paragraph, kind, label):
    found = match_label(paragraph)
    assert found is not None and (found.kind, found.text) == (kind, label)


@pytest.mark.parametrize(
    "paragraph", ["30%的比例抵免", "2023年11月1日", "1.5亿元", "十四五规划", "第一条款"]
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
