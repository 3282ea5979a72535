"""Canonical unit names scoped to a region, and unit lists."""

from ingest.models import Role
from ingest.units import UnitResolver, split_unit_list, tag_units

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
        "绍兴市教育局": Role.RESPONSIBLE,
        "绍兴市财政局": Role.RESPONSIBLE,
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
