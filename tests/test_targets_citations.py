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


# --- targets as real documents write them -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("到2025年，数字经济核心产业增加值占GDP比重达到10%", [(10, "%", "达到", 2025)]),
        ("力争一季度新开工重大项目超74个，完成投资300亿元以上", [
            (74, "个", "超过", None), (300, "亿元", "以上", None),
        ]),
        ("2027年前，推动5款以上脑机接口产品完成型式检验", [(5, "款", "以上", 2027)]),
        ("到2024年，货物贸易、对外投资和利用外资分别占比达30%、20%和10%", [
            (30, "%", "达到", 2024), (20, "%", None, 2024), (10, "%", None, 2024),
        ]),
        ("确定新建商品住房销售价格涨幅控制目标为7%", [(7, "%", None, None)]),
        ("商品住房去化周期控制目标为26个月", [(26, "个月", None, None)]),
        ("新培育独角兽企业5-10家", [(5, "家", "不少于", None)]),
        ("到2025年，建成三十个示范基地", [(30, "个", None, 2025)]),
        ("力争到2025年，覆盖率达到百分之八十", [(80, "%", "达到", 2025)]),
        ("力争到2025年，能耗强度降低两成", [(20, "%", None, 2025)]),
        ("2025年创建6个国家级运动营地", [(6, "个", None, 2025)]),
    ],
)  # fmt: skip
def test_targets_of_real_documents(text, expected):
    assert _t(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "对D类人才给予10万元购房补贴",  # a subsidy
        "分档给予企业最高50万元的奖励",  # a reward
        "连续缴存住房公积金满6个月的职工",  # a threshold
        "首套住房最低首付款比例不低于20%",  # a loan ratio
        "按20%的税率缴纳企业所得税",  # a tax rate
        "工程投资额在100万元以上的餐饮门店",  # a condition
        "建筑面积300平方米以上的餐饮场所可不办理检查",  # an area in a rule
        "自受理之日起5个工作日内告知办理结果",  # a time limit
        "对企业处2万元以上5万元以下的罚款",  # a fine
        "预售资金不得超过重点监管资金的70%",  # a prohibition
        "复印件1份",  # a document to hand in
        "全面推行“三项制度”",  # a name, not a count
        "关于支持房地产业健康发展的十条政策措施",  # the title of a package
        "由两名以上执法人员签字",  # a rule of procedure
    ],
)
def test_numbers_that_are_not_targets(text):
    assert _t(text) == []


def test_chinese_numbers():
    from ingest.targets import chinese_number

    assert [chinese_number(t) for t in ("三十", "一百二十", "两万", "三点五", "十")] == [
        30, 120, 20000, 3.5, 10,
    ]  # fmt: skip
    assert chinese_number("十四五个") is None
