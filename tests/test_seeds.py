"""Golden clause trees, tags and metadata of the five seed documents."""

from __future__ import annotations

from ingest.models import Clause, Level, ParsedDocument, Role
from tests.conftest import top_labels


def items(parsed: ParsedDocument, labels: list[str], kind: str = "item") -> list[Clause]:
    found = {c.label: c for c in parsed.clauses if c.kind == kind and c.label in labels}
    assert sorted(found, key=labels.index) == labels
    return [found[label] for label in labels]


def units(clause: Clause, role: Role | None = None) -> set[str]:
    return {u.canonical for u in clause.units if role is None or u.role is role}


def targets(clause: Clause) -> list[tuple]:
    return [(t.value, t.unit, t.qualifier, t.year) for t in clause.targets]


CN = "一二三四五六七八九十"
CN_ITEMS = [f"（{n}）" for n in [*CN, *(f"十{d}" for d in CN[:8])]]  # （一）…（十八）


# --- 000: the national action plan -----------------------------------------------------------


def test_000_metadata(seeds):
    doc = seeds["000"].document
    assert doc.title == "职业教育产教融合赋能提升行动实施方案（2023—2025年）"
    assert (doc.level, doc.region, doc.status, doc.doc_number) == (
        Level.NATIONAL,
        None,
        "issued",
        None,
    )


def test_000_nineteen_tasks_under_their_sections(seeds):
    tasks = items(seeds["000"], [f"{n}." for n in range(1, 20)])
    sections = {
        "（一）推动形成产教融合头雁效应": range(1, 4),
        "（二）夯实职业院校发展基础": range(4, 7),
        "（三）建设产教融合实训基地": range(7, 10),
        "（四）深化产教融合校企合作": range(10, 14),
        "（五）健全激励扶持组合举措": range(14, 20),
    }
    for section, numbers in sections.items():
        for n in numbers:
            assert tasks[n - 1].path == ["二、重点任务", section]
            assert tasks[n - 1].depth == 2


def test_000_heading_sentence_stays_with_its_body(seeds):
    task = items(seeds["000"], ["15."])[0]
    assert task.text.startswith("加大金融政策扶持力度。国家发展改革委加大向金融机构推荐")
    assert "国家发展和改革委员会" in units(task)


def test_000_goal_targets(seeds):
    goal = next(c for c in seeds["000"].clauses if c.label == "一、")
    assert targets(goal) == [(50, "个", "左右", 2025), (1, "万家", "以上", 2025)]
    assert targets(items(seeds["000"], ["5."])[0]) == [(200, "所", "左右", None)]
    assert targets(items(seeds["000"], ["16."])[0]) == [
        (8000, "万元", "不超过", None),
        (3000, "万元", "不超过", None),
    ]


def test_000_leads_named_in_a_sentence(seeds):
    clause = next(
        c for c in seeds["000"].clauses if c.path == ["三、保障措施"] and c.label == "（一）"
    )
    assert units(clause, Role.LEAD) == {"国家发展和改革委员会", "教育部", "人力资源和社会保障部"}


def test_000_citations(seeds):
    preamble = seeds["000"].clauses[0]
    titles = [c.title for c in preamble.citations]
    assert titles == ["关于深化现代职业教育体系建设改革的意见", "国家职业教育改革实施方案"]


# --- 001: the national pilot plan (an attachment) --------------------------------------------


def test_001_metadata_and_targets(seeds):
    parsed = seeds["001"]
    assert parsed.document.title == "国家产教融合建设试点实施方案"
    assert parsed.document.level is Level.NATIONAL
    goals = next(c for c in parsed.clauses if c.label == "二、")
    assert targets(goals) == [(50, "个", "左右", None), (1, "万家", "以上", None)]
    assert top_labels(parsed) == [
        "一、",
        "二、",
        "三、",
        "四、",
        "五、",
        "六、",
    ]


def test_001_units_responsible_for_the_pilot(seeds):
    clause = next(
        c for c in seeds["001"].clauses if c.path == ["六、试点组织实施"] and c.label == "（一）"
    )
    assert units(clause, Role.RESPONSIBLE) >= {
        "国家发展和改革委员会",
        "教育部",
        "人力资源和社会保障部",
        "财政部",
        "工业和信息化部",
        "国务院国有资产监督管理委员会",
    }


# --- 002: a ministry notice ------------------------------------------------------------------


def test_002_metadata(seeds):
    doc = seeds["002"].document
    assert doc.title == "教育部办公厅关于加强市域产教联合体建设的通知"
    assert doc.issuers == ["教育部办公厅"]
    assert (doc.level, doc.region) == (Level.NATIONAL, None)


def test_002_numbering_restarts_under_each_section(seeds):
    clauses = seeds["002"].clauses
    under_first = [c.label for c in clauses if c.path == ["二、建设内容", "（一）深化四个合作"]]
    under_second = [c.label for c in clauses if c.path == ["二、建设内容", "（二）推进“五金”建设"]]
    assert under_first == ["1.", "2.", "3.", "4."]
    assert under_second == ["1.", "2.", "3.", "4.", "5."]


# --- 003: Shaoxing's draft with a task table -------------------------------------------------


def test_003_metadata(seeds):
    doc = seeds["003"].document
    assert doc.title == "关于深化产教融合五年行动计划（征求意见稿）"  # as the document gives it
    assert (doc.level, doc.region, doc.status) == (Level.MUNICIPAL, "绍兴市", "draft")


def test_003_eighteen_items(seeds):
    clauses = items(seeds["003"], CN_ITEMS)
    assert units(clauses[0]) == {
        "绍兴市发展和改革委员会",
        "绍兴市经济和信息化局",
        "绍兴市教育局",
        "绍兴市自然资源和规划局",
        "绍兴市各区、县（市）政府",
    }
    assert "国家税务总局绍兴市税务局" in units(clauses[8])  # （九）: Shaoxing's tax bureau
    assert not any("重庆" in u for c in seeds["003"].clauses for u in units(c))


def test_003_class_of_units(seeds):
    clause = items(seeds["003"], ["（一）"])[0]
    kinds = {u.canonical: u.kind for u in clause.units}
    assert kinds["绍兴市各区、县（市）政府"] == "class"


def test_003_twenty_table_rows_with_lead_and_responsible_units(seeds):
    parsed = seeds["003"]
    rows = [c for c in parsed.clauses if c.kind == "table_row" and c.path[0].startswith("附件2")]
    assert [r.label for r in rows] == [str(n) for n in range(1, 21)]
    assert units(rows[0], Role.LEAD) == {"绍兴市发展和改革委员会"}
    assert units(rows[0], Role.RESPONSIBLE) == {
        "绍兴市教育局",
        "绍兴市经济和信息化局",
        "绍兴市财政局",
        "绍兴市人力资源和社会保障局",
        "绍兴市科学技术局",
        "绍兴市自然资源和规划局",
        "绍兴市各区、县（市）政府",
    }
    assert units(rows[3]) == {"绍兴市教育局"}  # 4: no responsible units
    assert units(rows[18], Role.LEAD) == {"绍兴市财政局"}
    assert units(rows[18], Role.RESPONSIBLE) == {"绍兴市人民政府金融工作办公室"}
    assert targets(rows[1]) == [
        (1, "个", None, 2025),
        (2, "个", None, 2025),
        (30, "个", None, 2025),
    ]


def test_003_targets(seeds):
    parsed = seeds["003"]
    goal = next(c for c in parsed.clauses if c.label == "一、")
    assert targets(goal) == [(n, "个", None, 2025) for n in (1, 2, 30, 10, 50)]
    assert targets(items(parsed, ["（十三）"])[0]) == [(90, "%", "以上", 2025)]
    assert targets(items(parsed, ["（十一）"])[0]) == [(10, "个", "以上", None)]


def test_003_citations_with_doc_numbers(seeds):
    preamble = seeds["003"].clauses[0]
    assert [(c.title, c.doc_number) for c in preamble.citations] == [
        ("国务院关于印发国家职业教育改革实施方案的通知", "国发〔2019〕4号"),
        ("浙江省人民政府办公厅关于深化产教融合的实施意见", "浙政办发〔2018〕106号"),
    ]


def test_003_weights_of_the_indicator_table_are_not_targets(seeds):
    rows = [
        c for c in seeds["003"].clauses if c.kind == "table_row" and c.path[0].startswith("附件1")
    ]
    assert len(rows) == 44
    assert not any(r.targets for r in rows)


# --- 004: Chongqing's 13 measures ------------------------------------------------------------

CHONGQING_UNITS = {
    1: {"重庆市发展和改革委员会", "重庆市教育委员会"},
    2: {
        "重庆市发展和改革委员会",
        "重庆市经济和信息化委员会",
        "重庆市民政局",
        "重庆市人力资源和社会保障局",
        "重庆市卫生健康委员会",
    },
    3: {
        "重庆市发展和改革委员会",
        "重庆市教育委员会",
        "重庆市经济和信息化委员会",
        "重庆市财政局",
        "重庆市人力资源和社会保障局",
        "重庆市国有资产监督管理委员会",
        "国家税务总局重庆市税务局",
    },
    5: {"重庆市教育委员会", "重庆市人力资源和社会保障局", "重庆市经济和信息化委员会"},
    10: {
        "重庆市发展和改革委员会",
        "重庆市教育委员会",
        "重庆市经济和信息化委员会",
        "重庆市财政局",
        "国家税务总局重庆市税务局",
        "重庆市规划和自然资源局",
    },
    11: {
        "重庆市发展和改革委员会",
        "重庆市教育委员会",  # not in the tag, but the text's subject: 市发展改革委、市教委等…加大
        "重庆市经济和信息化委员会",
        "重庆市地方金融监督管理局",
        "中国人民银行重庆市分行",
        "国家金融监督管理总局重庆监管局",
    },
    12: {"国家税务总局重庆市税务局"},
    13: {"重庆市规划和自然资源局"},
}


def test_004_metadata(seeds):
    doc = seeds["004"].document
    assert doc.doc_number == "渝发改社会〔2023〕1271号"
    assert doc.title == (
        "关于印发重庆市落实《职业教育产教融合赋能提升行动实施方案（2023—2025年）》若干措施的通知"
    )
    assert len(doc.issuers) == 13
    assert (
        doc.issuers[0] == "重庆市发展和改革委员会"
        and doc.issuers[-1] == "国家金融监督管理总局重庆监管局"
    )
    assert (doc.date, doc.level, doc.region, doc.status) == (
        "2023-11-01",
        Level.PROVINCIAL,
        "重庆市",
        "issued",
    )


def test_004_thirteen_measures_with_canonical_units(seeds):
    measures = items(seeds["004"], [f"{n}．" for n in range(1, 14)])
    for number, expected in CHONGQING_UNITS.items():
        assert units(measures[number - 1], Role.RESPONSIBLE) == expected, number
    names = {u.name: u.canonical for u in measures[10].units}
    assert names["人行重庆市分行"] == "中国人民银行重庆市分行"
    assert names["市金融监管局"] == "重庆市地方金融监督管理局"


def test_004_measure_texts_are_whole(seeds):
    measures = items(seeds["004"], ["1．", "2．", "12．"])
    assert "第二批国家产教融合试点城市" in measures[0].text
    assert "机器人、工业互联网" in measures[1].text
    assert targets(measures[2]) == [(30, "%", None, None)]


def test_004_signature_and_colophon_are_not_clauses(seeds):
    texts = [c.text for c in seeds["004"].clauses]
    assert not any(t.startswith(("重庆市发展和改革委员会 ", "抄送", "2023年")) for t in texts)


def test_clause_ids_are_stable_and_unique(seeds):
    from ingest.pipeline import parse_file
    from tests.conftest import SEEDS

    for key, parsed in seeds.items():
        ids = [c.clause_id for c in parsed.clauses]
        assert len(ids) == len(set(ids))
        assert ids == [c.clause_id for c in parse_file(SEEDS[key]).clauses]
