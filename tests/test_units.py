"""Canonical unit names scoped to a region, and unit lists."""

from ingest.models import Role
from ingest.units import (
    UnitResolver,
    defined_names,
    first_listed_leads,
    split_unit_list,
    tag_units,
)

CHONGQING_ISSUERS = ["重庆市发展和改革委员会", "重庆市教育委员会", "国家税务总局重庆市税务局"]


def test_same_abbreviation_in_two_cities():
    chongqing = UnitResolver("重庆市", CHONGQING_ISSUERS)
    shaoxing = UnitResolver("绍兴市", [])
    assert chongqing.canonical("市税务局")[0] == "国家税务总局重庆市税务局"
    assert shaoxing.canonical("市税务局")[0] == "国家税务总局绍兴市税务局"
    assert shaoxing.canonical("市发改委")[0] == "绍兴市发展和改革委员会"
    assert chongqing.canonical("市发展改革委")[0] == "重庆市发展和改革委员会"


def test_abbreviation_resolved_against_the_documents_issuers():
    resolver = UnitResolver("重庆市", CHONGQING_ISSUERS)
    assert resolver.canonical("市教委")[0] == "重庆市教育委员会"
    assert resolver.canonical("重庆市税务局")[0] == "国家税务总局重庆市税务局"


def test_national_names_in_a_national_document():
    resolver = UnitResolver(None, [])
    assert resolver.canonical("国家发展改革委")[0] == "国家发展和改革委员会"
    assert resolver.canonical("发展改革委")[0] == "国家发展和改革委员会"
    assert resolver.canonical("人力资源社会保障部")[0] == "人力资源和社会保障部"


def test_county_and_province_prefixes():
    county = UnitResolver("淮安市洪泽区", [])
    assert county.canonical("区教育局")[0] == "洪泽区教育局"
    assert county.canonical("市教育局")[0] == "淮安市教育局"
    assert county.canonical("省教育厅")[0] == "江苏省教育厅"


def test_class_of_units():
    name, kind = UnitResolver("绍兴市", []).canonical("各区、县〔市〕政府")
    assert (name, kind) == ("绍兴市各区、县（市）政府", "class")


def test_split_keeps_classes_and_brackets_whole():
    assert split_unit_list("市发改委、市教育局，各区、县（市）政府、职教集团（联盟）") == [
        "市发改委",
        "市教育局",
        "各区、县（市）政府",
        "职教集团（联盟）",
    ]
    assert split_unit_list("有关部门、市财政局等") == ["市财政局"]


def test_lead_and_supporting_tag():
    tags = tag_units(
        "（牵头单位：市发改委；配合单位：市教育局、市财政局）",
        UnitResolver("绍兴市", []),
        False,
    )
    roles = {t.canonical: t.role for t in tags}
    assert roles == {
        "绍兴市发展和改革委员会": Role.LEAD,
        "绍兴市教育局": Role.SUPPORTING,
        "绍兴市财政局": Role.SUPPORTING,
    }


def test_first_listed_is_lead_when_the_document_says_so():
    tags = tag_units("（责任单位：市发改委、市教育局）", UnitResolver("绍兴市", []), True)
    assert [t.role for t in tags] == [Role.LEAD, Role.RESPONSIBLE]


def test_cited_titles_are_not_actors():
    tags = tag_units(
        "贯彻《浙江省人民政府办公厅关于深化产教融合的实施意见》",
        UnitResolver("绍兴市", []),
        False,
    )
    assert tags == []


def test_generic_words_are_not_units():
    tags = tag_units("各地发展改革、教育等部门要健全协调机制", UnitResolver(None, []), False)
    assert tags == []


def _roles(text: str, region: str | None = None) -> dict[str, str]:
    tags = tag_units(text, UnitResolver(region, []), first_leads=False)
    return {t.canonical: t.role.value for t in tags}


def test_a_subject_that_acts_is_responsible():
    assert _roles("教育部将按照建设标准规范在建联合体。") == {"教育部": "responsible"}
    assert _roles("由国家发展改革委、教育部等按程序报批。") == {
        "国家发展和改革委员会": "responsible",
        "教育部": "responsible",
    }
    assert _roles("市发展改革委、市教委等市级部门加大推荐力度。", "重庆市") == {
        "重庆市发展和改革委员会": "responsible",
        "重庆市教育委员会": "responsible",
    }


def test_a_name_that_only_appears_is_mentioned():
    assert _roles("为落实国家发展改革委等部门印发的方案，制定本措施。") == {
        "国家发展和改革委员会": "mentioned"
    }
    assert _roles("市发展改革委会同有关部门研究制定了本措施。", "重庆市") == {
        "重庆市发展和改革委员会": "mentioned"
    }


def test_units_carry_the_region_they_serve():
    tags = tag_units("（责任单位：市税务局、教育部）", UnitResolver("绍兴市", []), False)
    assert {t.canonical: t.region for t in tags} == {
        "国家税务总局绍兴市税务局": "绍兴市",
        "教育部": None,
    }


# --- tag shapes of real documents ---------------------------------------------------------------


def _tags(text: str, region: str | None = "沈阳市", first_leads: bool = False, issuers=()):
    tags = tag_units(text, UnitResolver(region, list(issuers)), first_leads)
    return {t.name: t.role.value for t in tags if t.role is not Role.MENTIONED}


def test_lead_and_responsible_headers_in_one_tag():
    text = "推进房屋体检。（牵头责任单位：市房产局；责任单位：市财政局、市自然资源局）"
    assert _tags(text) == {
        "市房产局": "lead",
        "市财政局": "responsible",
        "市自然资源局": "responsible",
    }


def test_half_width_tag_and_department_header():
    assert _tags("优化服务。(责任单位:市发改委、市教育局)") == {
        "市发改委": "responsible",
        "市教育局": "responsible",
    }
    assert _tags("研发产品。（责任部门：市科委、市经济信息化委）", "上海市") == {
        "市科委": "responsible",
        "市经济信息化委": "responsible",
    }


def test_a_paragraph_of_its_own_after_the_item():
    assert _tags("加强监管，规范市场秩序。\n责任单位：市市场监管局、市公安局") == {
        "市市场监管局": "responsible",
        "市公安局": "responsible",
    }


def test_tags_that_end_in_a_verb():
    text = "扩大出口。（合肥海关负责）扩大进口。（省商务厅牵头，合肥海关、省贸促会按职责分工配合）"
    assert _tags(text, "安徽省") == {
        "合肥海关": "responsible",
        "省商务厅": "lead",
        "省贸促会": "supporting",
    }
    assert _tags("推行绿色开采。（自然资源部、工业和信息化部指导）", None) == {
        "自然资源部": "responsible",
        "工业和信息化部": "responsible",
    }


def test_first_listed_leads_when_the_document_says_so_once():
    rule = "返还失业保险费。（人力资源社会保障部、财政部负责。列第一位者为牵头单位，下同）"
    assert first_listed_leads(rule)
    later = "支持小微企业。（财政部、工业和信息化部、人民银行、银保监会等负责）"
    assert _tags(later, None, first_leads=True) == {
        "财政部": "lead",
        "工业和信息化部": "responsible",
        "人民银行": "responsible",
        "银保监会": "responsible",
    }


def test_deadline_before_the_header_is_not_a_unit():
    text = "建设统一资源库。（7月底完成，牵头考核单位：市政府办公室、市审批服务局）"
    assert _tags(text, "包头市") == {"市政府办公室": "lead", "市审批服务局": "lead"}


def test_city_and_district_groups_and_a_trailing_deng():
    text = "开展柔性执法。（责任单位：市市场监管局、市应急局，各区市场监管部门、应急部门等）"
    tags = tag_units(text, UnitResolver("北京市", []), False)
    canonical = {t.name: t.canonical for t in tags}
    assert canonical["市应急局"] == "北京市应急管理局"
    assert canonical["应急部门"] == "北京市各区应急部门"  # the districts', not the city's
    assert set(canonical) == {"市市场监管局", "市应急局", "各区市场监管部门", "应急部门"}


def test_duty_list_lines_start_with_their_unit():
    text = (
        "六、职责分工\n市房产局：负责牵头城镇房屋体检工作。\n"
        "市委宣传部：负责宣传引导。\n市财政局：负责配合市房产局制定资金管理制度。"
    )
    tags = tag_units(text, UnitResolver("沈阳市", []), False)
    assert {t.name: (t.role.value, t.canonical) for t in tags} == {
        "市房产局": ("lead", "沈阳市房产局"),
        "市委宣传部": ("responsible", "中共沈阳市委宣传部"),
        "市财政局": ("supporting", "沈阳市财政局"),
    }


def test_leads_and_supporters_in_running_text():
    assert _tags("建立由市发改委牵头、有关部门参与的工作机制。") == {"市发改委": "lead"}
    assert _tags("具体由市公安局、市人力资源和社会保障局负责牵头组织。") == {
        "市公安局": "lead",
        "市人力资源和社会保障局": "lead",
    }
    assert _tags("市发展改革委负责安排资金，配合市交通委统筹开展相关工作。", "北京市") == {
        "市发展改革委": "responsible",
        "市交通委": "lead",
    }
    assert _tags("市财政局配合做好资金保障。") == {"市财政局": "supporting"}


def test_departments_named_by_their_shape():
    assert _tags("第七条 市数据管理部门负责综合协调本市公共数据工作。", "北京市") == {
        "市数据管理部门": "responsible"
    }
    assert _tags("公安机关负责户籍准入登记工作。", "常州市") == {"公安机关": "responsible"}
    assert _tags("进一步拓展部门联合监管。") == {}
    assert _tags("满足部门需求，推行部门联合检查。", None) == {}


def test_lists_of_domains():
    text = "市无线电管理部门会同教育、科技、广电等部门组织开展科普活动。"
    assert _tags(text, "北京市") == {
        "市无线电管理部门": "responsible",
        "教育": "responsible",
        "科技": "responsible",
        "广电": "responsible",
    }
    assert _tags("公安、交通、商务等部门按照各自职责做好相关工作。", "北京市") == {}


def test_a_subject_keeps_its_role_across_commas_and_defined_short_names():
    text = "市交通行政管理部门（以下简称“市管理部门”）是本市的行业主管部门，负责统筹协调工作。"
    resolver = UnitResolver("北京市", [], defined_names(text))
    assert {t.name: t.role for t in tag_units(text, resolver, False)} == {
        "市交通行政管理部门": Role.RESPONSIBLE
    }
    later = tag_units("市管理部门牵头召开专家评审会。", resolver, False)
    assert [(t.name, t.role) for t in later] == [("市管理部门", Role.LEAD)]
    assert later[0].canonical == resolver.canonical("市交通行政管理部门")[0]


def test_short_names_read_in_the_documents_region():
    resolver = UnitResolver("沈阳市", ["沈阳市房产局"])
    assert resolver.canonical("市房产局")[0] == "沈阳市房产局"
    assert resolver.canonical("市城乡建设局")[0] == "沈阳市城乡建设局"
    assert resolver.canonical("公安部门")[0] == "沈阳市公安局"
    assert resolver.canonical("区住建局") == ("沈阳市各区住建局", "class")
    assert UnitResolver(None, []).canonical("公安机关")[0] == "公安部"
    assert UnitResolver("北京市", []).canonical("市场监管部门")[0] == "北京市市场监督管理局"


def test_one_bureau_by_two_names_is_one_tag():
    text = "市政务服务数据管理局等部门要做好统筹。政务服务数据管理部门负责信息共享。"
    tags = tag_units(text, UnitResolver("东莞市", []), False)
    assert [(t.name, t.role.value) for t in tags] == [("市政务服务数据管理局", "responsible")]


def test_a_name_ends_where_another_begins():
    text = "市科学技术行政部门报市人民政府批准后公布。市公安局交通管理局负责注销登记。"
    names = {t.name for t in tag_units(text, UnitResolver("北京市", []), False)}
    assert names == {"市科学技术行政部门", "市人民政府", "市公安局交通管理局"}


def test_supporting_sits_between_responsible_and_mentioned():
    strengths = [r.strength for r in (Role.LEAD, Role.RESPONSIBLE, Role.SUPPORTING, Role.MENTIONED)]
    assert strengths == sorted(strengths, reverse=True)


def test_task_table_columns_give_lead_and_supporting_units():
    from ingest.tables import table_rows

    rows = table_rows(
        [["序号", "重点任务", "牵头单位", "配合单位"], ["1", "建设平台", "市数据局", "市财政局"]]
    )
    tags = tag_units(rows[0].text, UnitResolver("沈阳市", []), False)
    assert {t.canonical: t.role for t in tags} == {
        "沈阳市数据局": Role.LEAD,
        "沈阳市财政局": Role.SUPPORTING,
    }


# --- fast paths, each checked against the plain way ----------------------------------------------


def test_the_place_finder_finds_what_the_regex_of_its_names_finds():
    import random
    import re

    from ingest.regions import LongestWords, _by_name, trie_regex

    rng = random.Random(12)
    for _ in range(500):
        words = {"".join(rng.choices("甲乙丙丁", k=rng.randint(1, 4))) for _ in range(6)}
        text = "".join(rng.choices("甲乙丙丁戊", k=rng.randint(0, 30)))
        plain = [m.span() for m in re.finditer(trie_regex(words), text)]
        assert list(LongestWords(words).spans(text)) == plain, (words, text)
    text = "三明市沙县区人民政府会同福建省、广西壮族自治区和重庆市渝中区，北京经济技术开发区配合"
    plain = [m.span() for m in re.finditer(trie_regex(_by_name()), text)]
    assert list(LongestWords(_by_name()).spans(text)) == plain


def test_table_names_are_found_as_the_plain_alternation_finds_them():
    import re

    from ingest.units import (
        _local_with_place,
        _national,
        _place_templates,
        _table_local_names,
        _table_matches,
    )

    local = sorted(_table_local_names(), key=len, reverse=True)
    national = sorted(_national(), key=len, reverse=True)
    places = r"(?:[\u4e00-\u9fff]{2,8}?(?:省|市|自治区|自治州|区|县)|市|省|区|县)"
    with_place = [
        p.pattern.strip("^$").replace("(?P<place>.+?)", "[\u4e00-\u9fff]{2,6}?")
        for p, _ in _local_with_place()
    ]
    local_names = "(?:" + "|".join(map(re.escape, local)) + ")"
    alternatives = [*with_place, places + local_names, *map(re.escape, national)]
    plain = re.compile("(?:" + "|".join(alternatives) + ")(?!门|部门|系统)")
    templates = [template for template, _ in _place_templates()]
    filled = [t.replace("{region}", "重庆市").replace("{short}", "重庆") for t in templates]
    names = [*national, *(f"绍兴市{n}" for n in local), *(f"市{n}" for n in local), *filled]
    for sentence in [f"由{name}负责，会同有关部门" for name in names] + ["本条例自公布之日起施行"]:
        found = [m.group(0) for m in _table_matches(sentence)]
        assert found == [m.group(0) for m in plain.finditer(sentence)], sentence


def test_text_told_numberless_holds_no_numeral_once_normalised():
    import re

    from ingest.targets import _holds_no_number
    from ingest.text import normalize

    texts = ["为了规范口岸开放，提高效率（试行）：", "达到５０％", "①加强", "⼀批", "〸项"]
    for text in [*texts, "㈠总则", "x²", "百分之", "第三条", "　全文　…", "٣个"]:
        if _holds_no_number(text):
            assert not re.search(r"[\d一二两三四五六七八九十百]", normalize(text)), text
    assert _holds_no_number("为了规范口岸开放，提高效率（试行）：")
    assert not _holds_no_number("⼀批")  # a Kangxi radical, which NFKC makes 一
