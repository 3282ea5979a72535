import pytest

from ingest.citations import find_citations
from ingest.dates import parse_date
from ingest.models import Citation
from ingest.targets import find_targets


def _t(text):
    return [(t.value, t.unit, t.qualifier, t.year) for t in find_targets(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("到 2025 年，试点城市达到 50 个左右", [(50, "个", "左右", 2025)]),
        ("力争到2025年，培育1万家以上产教融合型企业", [(1, "万家", "以上", 2025)]),
        ("每所支持额度不超过8000 万元", [(8000, "万元", "不超过", None)]),
        ("经费比例不低于７０％", [(70, "%", "不低于", None)]),
        ("双师型比率达90%以上", [(90, "%", "以上", None)]),
        ("2025年前建成示范基地3.5万平方米", [(3.5, "万平方米", None, 2025)]),
    ],
)
def test_targets(text, expected):
    assert _t(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2023年11月1日印发",
        "渝发改社会〔2023〕1271号",
        "第二批试点",
        "通过5年左右的努力",
        "1+X证书",
        "组织保障（8%）",
        "权重系数（%）：2%",
    ],
)
def test_not_targets(text):
    assert _t(text) == []


def test_citation_title_with_number_and_bare_number():
    text = "按照《国家职业教育改革实施方案》（国发〔2019〕4号）和浙政办发〔2018〕106号要求"
    assert find_citations(text) == [
        Citation("国家职业教育改革实施方案", "国发〔2019〕4号"),
        Citation(None, "浙政办发〔2018〕106号"),
    ]


def test_own_number_is_not_a_citation():
    assert find_citations("渝发改社会〔2023〕1271号", own_number="渝发改社会〔2023〕1271号") == []


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2023年 11月 1日", "2023-11-01"),
        ("二〇二三年十一月一日", "2023-11-01"),
        ("2024年2月30日", None),
    ],
)
def test_dates(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("到2025年，国家产教融合试点城市达到50个左右", "国家产教融合试点城市"),  # noun before
        ("在全国建设培育1万家以上的产教融合型企业", "产教融合型企业"),  # noun after
        ("创建省级产教融合联盟1个", "省级产教融合联盟"),  # verb stripped
        ("到2025年职业学校双师型比率达90%以上", "职业学校双师型比率"),
        ("其中用于一线职工教育培训的经费比例不低于70%", "一线职工教育培训的经费比例"),
        ("可按投资额30%的比例抵免", "投资额比例"),  # a share names what it is a share of
        ("建设“100个高水平、专业化、开放型实训基地”", "高水平、专业化、开放型实训基地"),
    ],
)
def test_target_metric(text, metric):
    assert [t.metric for t in find_targets(text)] == [metric]


def test_metric_key_drops_level_words():
    from ingest.targets import metric_key

    assert metric_key("省级产教融合试点企业") == metric_key("国家产教融合试点企业")
    assert metric_key(None) is None
