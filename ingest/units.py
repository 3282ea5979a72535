"""Responsible units: found in a clause, given a role, and named canonically within a region.

Where units come from:

- tags after a task, in brackets of either width: （责任单位：…）, （牵头单位：…；配合单位：…）,
  （6月底完成，牵头考核单位：…）, and tags that end in a verb: （合肥海关负责）, （…指导）,
  （省商务厅牵头，合肥海关、省贸促会按职责分工配合）; several tags in one clause each count;
- the same headers as a paragraph of their own (责任单位：…), task-table columns (rendered as
  tags by ingest.tables), and 职责分工 lists whose lines start with a unit (市房产局：负责牵头…);
- sentences that name an actor ("由市发改委牵头", "国家发展改革委、教育部…牵头推进",
  "公安机关负责…", "会同教育、科技等部门组织开展…").

Roles: lead (牵头), responsible (责任/负责/指导), supporting (配合/协助/协办/参与) and mentioned.
A document that says "列第一位者为牵头单位" makes the first unit of each tag its lead.

Canonical names come from the names the document defines (…（以下简称“基金委”）), its own list
of issuers (an abbreviation is a subsequence of the full name: 市教委 → 重庆市教育委员会), then
from the alias table in data/units.json, scoped to the document's region; "公安部门" is read as
the region's 公安局.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources

from ingest.models import Level, Role, UnitTag
from ingest.regions import find_places, resolve, short_name, trie_regex
from ingest.text import normalize_brackets, tidy

_LEVEL_PREFIX = re.compile(
    r"^(自治区|省|市(?!场|民(?!政|族|宗)|级)|州|盟|区(?!域|级)|县(?!域|级)|旗)"
)
_COUNTY_PREFIXES = ("区", "县", "旗")
_GENERIC = re.compile(
    r"^(?:各|其他|市级|省级|县级|区级|市直|省直|各级)*(?:有关|相关|其他)?(?:部门|单位)"
    r"(?:和|及|、)?(?:有关|相关)?(?:部门|单位)?$"
)
_SUFFIX_GROUP = {"委": "委员会", "办": "办公室"}
_DEPARTMENT = re.compile(r"(?:行政主管部门|主管部门|行政管理部门|管理部门|行政部门|部门|机关)$")
_BUREAU = re.compile(r"(?:委员会|办公室|局|厅|委|办)$")


@dataclass(frozen=True)
class Scope:
    """The places a document's bare 市/省/区 refer to."""

    province: str | None = None
    city: str | None = None
    county: str | None = None

    @classmethod
    def of(cls, region_display: str | None) -> Scope:
        if not region_display:
            return cls()
        mentions = find_places(region_display)
        regions = [resolve(m, mentions) for m in mentions]
        if not regions:
            return cls()
        last = regions[-1]
        if last.level is Level.PROVINCIAL:
            # a province-level municipality is its own 市
            city = last.name if last.name.endswith("市") else None
            return cls(province=last.name, city=city)
        if last.level is Level.MUNICIPAL:
            return cls(province=last.province, city=last.name)
        return cls(province=last.province, city=last.city, county=last.name)

    @property
    def own(self) -> str | None:
        return self.county or self.city or self.province

    def for_prefix(self, prefix: str) -> str | None:
        if prefix in ("省", "自治区"):
            return self.province
        if prefix in ("市", "州", "盟"):
            return self.city or self.province
        return self.county or self.own

    @property
    def bureau_order(self) -> tuple[str, ...]:
        """Which kind of body a domain's department is here: 厅 in a province, 委 or 局 in a
        province-level city, 局 in a city or county."""
        if self.county or (self.city and self.city != self.province):
            return ("局", "委员会", "厅")
        if self.province and not self.city:
            return ("厅", "委员会", "局")
        return ("委员会", "局", "厅")


@dataclass(frozen=True)
class _Entry:
    canonical: str
    national: str | None = None


@cache
def alias_table() -> dict[str, dict]:
    """The department alias table shipped as data."""
    return json.loads(resources.files("ingest").joinpath("data/units.json").read_text("utf-8"))


@cache
def _national() -> dict[str, str]:
    table = {}
    for entry in alias_table()["national"]:
        for name in [entry["canonical"], *entry["aliases"]]:
            table[name] = entry["canonical"]
    return table


@cache
def _local() -> dict[str, _Entry]:
    table = {}
    for entry in alias_table()["local"]:
        for name in [entry["canonical"], *entry["aliases"]]:
            if "{" not in name:
                table[name] = _Entry(entry["canonical"], entry.get("national"))
    return table


def _place_templates() -> list[tuple[str, str]]:
    """Aliases that carry the place inside (人行{short}分行), with their canonical names."""
    return [
        (name, entry["canonical"])
        for entry in alias_table()["local"]
        for name in [entry["canonical"], *entry["aliases"]]
        if "{" in name and not name.startswith("{")
    ]


@cache
def _local_with_place() -> list[tuple[re.Pattern[str], str]]:
    """Aliases that carry the place inside (人行重庆市分行), as patterns capturing the place."""
    patterns = []
    for name, canonical in _place_templates():
        regex = (
            re.escape(name)
            .replace(r"\{region\}", "(?P<place>.+?)")
            .replace(r"\{short\}", "(?P<place>.+?)")
        )
        patterns.append((re.compile(f"^{regex}$"), canonical))
    return patterns


@cache
def _stems() -> dict[str, list[str]]:
    """Domain → local canonical names: 公安 → 公安局, 公安厅; what "公安部门" can mean."""
    table: dict[str, list[str]] = {}
    for name, entry in _local().items():
        stem = _BUREAU.sub("", name)
        if stem != name and len(stem) >= 2 and entry.canonical not in table.get(stem, []):
            table.setdefault(stem, []).append(entry.canonical)
    return table


@cache
def _national_stems() -> dict[str, str]:
    """Domain → national body: 公安 → 公安部, 税务 → 国家税务总局."""
    table: dict[str, str] = {}
    for name, canonical in _national().items():
        stem = re.sub(r"^(?:国家|国务院)|(?:总局|委员会|部|署|局)$", "", name)
        if stem != name and len(stem) >= 2:
            table.setdefault(stem, canonical)
    return table


def _fill(template: str, region: str) -> str:
    return template.replace("{region}", region).replace("{short}", short_name(region))


class UnitResolver:
    """Canonical names for what a document calls its units, within its region."""

    def __init__(
        self, region: str | None, issuers: list[str], defined: dict[str, str] | None = None
    ):
        self.scope = Scope.of(region)
        self.issuers = [normalize_brackets(i) for i in issuers]
        self.defined = {normalize_brackets(k): v for k, v in (defined or {}).items()}
        named = [*issuers, *(defined or {}), *(defined or {}).values()]
        self.known_names = tuple(dict.fromkeys([*named, *map(normalize_brackets, named)]))
        self._resolved: dict[str, tuple[str, str]] = {}

    def canonical(self, name: str) -> tuple[str, str]:
        """(canonical name, kind) where kind is "unit" or "class"; remembered, as a document
        names the same units again and again."""
        if name not in self._resolved:
            if len(self._resolved) >= 4096:  # a long-lived resolver is asked for any name
                self._resolved.clear()
            self._resolved[name] = self._canonical(name)
        return self._resolved[name]

    def _canonical(self, name: str) -> tuple[str, str]:
        name = tidy(name).replace("〔", "（").replace("〕", "）")
        key = normalize_brackets(name)
        if key in self.defined and self.defined[key] != key:
            return self.canonical(self.defined[key])
        if key.startswith("各"):
            return (self.scope.own or "") + name, "class"
        if self._every_county(key):
            return (self.scope.own or "") + "各" + name, "class"
        found = self._from_issuers(key) or self._from_table(key) or self._from_department(key)
        return found or self._scoped(key), "unit"

    def _every_county(self, key: str) -> bool:
        """区教育局 in a city's document means the bureau of each district, not the city's."""
        prefix = _LEVEL_PREFIX.match(key)
        return bool(
            prefix
            and prefix.group(1) in _COUNTY_PREFIXES
            and self.scope.county is None
            and self.scope.own
            and not find_places(key[:3])
        )

    def _expand(self, key: str) -> str:
        prefix = _LEVEL_PREFIX.match(key)
        if prefix and not find_places(key[:3]):
            place = self.scope.for_prefix(prefix.group(1))
            if place:
                return place + key[len(prefix.group(1)) :]
        return key

    def _from_issuers(self, key: str) -> str | None:
        expanded = self._expand(key)
        best, best_ratio = None, 0.0
        for issuer in self.issuers:
            if expanded == issuer:
                return issuer
            ratio = len(expanded) / len(issuer)
            if (
                ratio > best_ratio
                and ratio >= 0.4
                and len(expanded) >= 3
                and _same_kind(expanded, issuer)
                and _subsequence(expanded, issuer)
            ):
                best, best_ratio = issuer, ratio
        return best

    def _from_table(self, key: str) -> str | None:
        if key in _national():
            return _national()[key]
        for pattern, template in _local_with_place():
            match = pattern.match(key)
            if match:
                mentions = find_places(match.group("place"))
                place = resolve(mentions[0], mentions).name if mentions else match.group("place")
                return _fill(template, place)
        place, core = self._split_place(key)
        entry = _local().get(core)
        if entry is None:
            return None
        if place is None and entry.national and self.scope.own is None:
            return entry.national
        place = place or self.scope.own
        if place is None:
            return core if "{" not in entry.canonical else None
        return _fill(entry.canonical, place) if "{" in entry.canonical else place + entry.canonical

    def _from_department(self, key: str) -> str | None:
        """公安部门, 市公安机关 → the region's 公安局 (an issuer of the document first)."""
        place, core = self._split_place(key)
        stems = _department_stems(core)
        if not stems:
            return None
        for issuer in self.issuers:
            rest = _place_and_rest(issuer)[1]
            if rest.startswith(stems) and _BUREAU.search(rest):
                return issuer
        if place is None and self.scope.own is None and not _LEVEL_PREFIX.match(key):
            return next(filter(None, map(_national_stems().get, stems)), None)
        place = place or self.scope.own
        choices = [c for stem in stems for c in _stems().get(stem, [])]
        for kind in self.scope.bureau_order:
            for canonical in choices:
                if canonical.endswith(kind) and place and "{" not in canonical:
                    return place + canonical
        return None

    def _split_place(self, key: str) -> tuple[str | None, str]:
        """(leading place, rest): 绍兴市教育局 → (绍兴市, 教育局); 市教委 → (city, 教委)."""
        place, rest = _place_and_rest(key)
        if place:
            return place, rest
        prefix = _LEVEL_PREFIX.match(key)
        if prefix:
            rest = key[len(prefix.group(1)) :]
            if rest in _local() or _DEPARTMENT.search(rest):
                return self.scope.for_prefix(prefix.group(1)), rest
        return None, key

    def _scoped(self, key: str) -> str:
        """A name the table does not know: put it in the region unless it names a place itself."""
        expanded = self._expand(key)
        if (
            expanded != key
            or find_places(key[:4])
            or key.startswith(("国家", "中国", "中华", "国务院"))
        ):
            return expanded
        return (self.scope.own or "") + key


def _place_and_rest(key: str) -> tuple[str | None, str]:
    """The region a name starts with, and the rest: 北京市教育委员会 → (北京市, 教育委员会)."""
    mentions = find_places(key)
    if mentions and mentions[0].start == 0:
        region = resolve(mentions[0], mentions)
        rest = key[len(mentions[0].text) :]
        if rest.startswith(("市", "省")) and not mentions[0].is_full_name:
            rest = rest[1:]
        return region.name, rest
    return None, key


def _subsequence(short: str, full: str) -> bool:
    it = iter(full)
    return all(ch in it for ch in short)


def _same_kind(short: str, full: str) -> bool:
    """市教委 may abbreviate 教育委员会, not 教育局: the last character says what kind of body."""
    return full.endswith(short[-1]) or full.endswith(_SUFFIX_GROUP.get(short[-1], "\0"))


# --- what a unit's name looks like ------------------------------------------------------------

# Words a unit's name does not contain: verbs and function words around names in a sentence.
_NOT_IN_NAME = (
    r"负责|牵头|配合|会同|协同|推进|推动|开展|加强|做好|落实|实施|指导|协调|统筹|按照|根据|依照|"
    r"依法|应当|应该|应(?!急)|要|须|可|将|把|对|在|的|由|或|等|以及|及|和各|与|是|为|作为|副|并|"
    r"从|向|于|给|设立|成立|建立|完善|支持|鼓励|引导|提高|提升|强化|深化|优化|发挥|加快|加大|扩大|"
    r"其|各|本|该|上述|共同|联合|分别|按|具体|主要|相关|有关|同级|通过|利用|用于|确定|制定|负"
)
_BODY = rf"(?:(?!{_NOT_IN_NAME})[\u4e00-\u9fff])"
# Characters that make a word with a following 市/省/区/县 (城市, 全省, 社区): no unit starts there.
_WORDY = (
    "城都全本该各我超门股上下夜菜集楼车债开闭花灯郊社园小景辖片新验范税能库山林牧矿"
    "灾老街校展分专特地误盲港节反外兄省市区县州乡镇村两"
)
_NOT_AFTER_PREFIX = (
    r"场|民(?!政|族|宗)|级|区|县|内|外|直|属|域|容|值|长|里|中心|政设|政工程|政道路|政府各|"
    r"委市|管|和"
)
_SUFFIX = (
    r"(?:委员会|办公室|办公厅|人民政府|行政主管部门|主管部门|行政管理部门|管理部门|行政部门|部门|"
    r"机关|中心|海关|总局|分局|(?<![布格大结当开破棋变时])局(?!面|势|部|限)|"
    r"(?<![大餐展客舞门前])厅|委(?!员|托|派)|"
    r"(?<![举开创承主督协代包兴查筹操合])办(?!好|理|事|学|法|成)|署(?!名)|宣传部|组织部|统战部)"
    r"(?![长员])"
)
_LOCAL_NAME = (
    rf"(?<![{_WORDY}])(?:自治区|省|市|州|盟|区|县|旗)(?!{_NOT_AFTER_PREFIX})(?:委)?{_BODY}{{1,12}}"
    rf"{_SUFFIX}"
)
_AFTER_PLACE = re.compile(rf"(?:市|省)?{_BODY}{{1,14}}{_SUFFIX}")
_PLACE_TAIL = re.compile(rf"(?:省|市|自治区|自治州|区|县|州|盟|旗){_BODY}{{1,14}}{_SUFFIX}")
_BOUNDARY = r"(?:^|(?<=[\n，,。；;：:由与和及])|(?<=会同))"
_NOT_A_DOMAIN = (
    r"(?!各|有关|相关|其他|上述|该|本|同级|职能|政府|行业|主管|业务|执法|监管|部分|一些|经|受|被|向|"
    r"对|和|与|及|或|请|报|将|把|在|凡|如|若|当事人|委托)"
)
# What departments are about: 公安部门, 教育、科技等部门. A name read from its shape alone (no
# table entry, no issuer) must be about one of these, or about a domain the alias table knows.
_DOMAINS = re.compile(
    r"发展改革|发展和改革|发改|计划|价格|教育|科技|科学技术|"
    r"工业和信息化|工业信息化|经济和信息化|经信|公安|民政|司法|财政|"
    r"人力资源|人社|人力社保|自然资源|规划|国土|生态环境|环保|环境保护|"
    r"住房|城乡建设|建设|房产|房管|交通|水利|水务|农业|农村|林业|"
    r"园林|绿化|商务|文化|旅游|广电|新闻出版|卫生|健康|疾控|退役军人|"
    r"应急|安全生产|审计|国资|市场监管|市场监督|质量技术监督|质监|"
    r"知识产权|统计|医保|医疗保障|药品|税务|海关|金融|网信|数据|"
    r"大数据|政务服务|政务数据|城市管理|城管|执法|消防|人防|国防动员|"
    r"体育|地名|档案|保密|无线电|外事|侨务|民族|宗教|残疾人|人才|"
    r"编制|机构编制|信访|气象|地震|粮食|能源|通信|邮政|铁路|民航|"
    r"港口|航道|口岸|民用航空|航空|质量|人民银行|银行|证券|保险|"
    r"银保监|公积金|社会组织|流动人口|妇女|儿童|共青团|工会|宣传|组织|"
    r"统战|政法|网络安全|信息化|营商环境|投资促进|审批|行政审批"
)
_ORG_PREFIX = re.compile(r"^(?:国务院|国家|上级|(?:自治区|省|市|县|区)?人民政府)+")
_DOMAIN_WORDS = re.compile(rf"(?:{_DOMAINS.pattern}|和|与|及|机关|行政|管理|主管|综合|服务)+")
_DEPT_SUFFIX = r"(?:行政主管部门|主管部门|行政管理部门|管理部门|行政部门|部门|机关)"
_ITEM = rf"{_NOT_A_DOMAIN}{_BODY}{{2,10}}(?:[（(]{_BODY}{{1,6}}[)）])?"
_DOMAIN_LIST = re.compile(
    rf"{_BOUNDARY}(?P<prefix>市|省|区|县)?(?P<items>{_ITEM}(?:(?:、|以及){_ITEM})+)"
    rf"(?P<tail>等(?:有关|相关)?(?:行政)?(?:主管)?部门(?:[（(]单位[)）])?|{_DEPT_SUFFIX})(?![长员])"
)
_ONE_DOMAIN = re.compile(
    rf"{_BOUNDARY}{_NOT_A_DOMAIN}"
    rf"(?:县级以上(?:地方)?(?:各级)?人民政府|{_BODY}{{2,12}}{_DEPT_SUFFIX})(?![长员])"
)
_LOCAL_SHAPE = re.compile(_LOCAL_NAME)
_UNIT_END = re.compile(
    r"(?:委员会|办公室|办公厅|政府|部门|机关|机构|中心|局|厅|委|办|署|部|海关|银行|分行|支行|公司|"
    r"集团|总社|社|协会|商会|联合会|工会|总会|贸促会|管委会|院|馆|站|组|队|专班|小组|处|室|所)$"
)
_NOT_IN_LISTED_NAME = re.compile(
    r"负责|牵头|完成|推进|持续|取得|成效|如|包括|下同|列第|为|是|的|等|以及"
)


def unit_like(name: str, known: tuple[str, ...] = ()) -> bool:
    """Whether a listed name reads as a unit (市审批服务局, 合肥海关), not as words (6月底完成)."""
    key = normalize_brackets(name)
    if key in known or key in _national() or _from_known_table(key):
        return True
    return (
        2 <= len(key) <= 40 and bool(_UNIT_END.search(key)) and not _NOT_IN_LISTED_NAME.search(key)
    )


def _from_known_table(key: str) -> bool:
    core = _LEVEL_PREFIX.sub("", _place_and_rest(key)[1])
    return core in _local() or any(p.match(key) for p, _ in _local_with_place())


# --- tags: （责任单位：…）, （…牵头，…配合）, 责任单位：… ---------------------------------

_HEADER = re.compile(
    r"(?P<h>[\u4e00-\u9fff]{0,4}?(?:牵头|责任|配合|参与|协办|主办|主责|实施|协助|支持|考核|承办)"
    r"[\u4e00-\u9fff]{0,4}?(?:单位|部门|处室))\s*[：:]"
)
_BARE_HEADER = re.compile(
    r"(?:^|(?<=[\n。；;]))[ \t]*"
    r"(?P<h>(?:牵头|责任|配合|参与|协办|协助|主责|实施)[\u4e00-\u9fff]{0,4}?(?:单位|部门))"
    r"[ \t]*[：:](?P<body>[^\n]+)"
)
_VERB_GROUP = re.compile(
    r"^(?P<names>.+?)(?:等(?:有关|相关)?(?:部门|单位)?(?:和单位)?)?"
    r"(?:按照?职责分工|按照?各自职责|按照?职责|依职责|分别|共同)?"
    r"(?P<verb>牵头负责|负责牵头|牵头|负责落实|负责|配合|参与|协助|协办|指导|督导)$"
)
_MARKER = re.compile(r"[（(](牵头|配合|协办|参与)[)）]$")
# A caption in brackets, after a label (第一条【总体目标】) or opening a sentence: never a unit.
CAPTION = re.compile(r"[【（(\[][^】）)\]]{1,20}[】）)\]]")
# A text that closes with a task's tag, （责任单位：…） or （…牵头负责）: a cheap cue for the clause
# tree, which needs to know where a task ends, not what its tag says (tagged_units reads that).
CLOSING_TAG = re.compile(
    r"[（(][^（）()]*(?:单位|部门|牵头|负责|配合|指导|协办|参与)[^（）()]*[）)][。；;]?$"
)
_FIRST_IS_LEAD = re.compile(
    r"(?:排在?|列|排名|位列)(?:在)?(?:第一位|首位|第一个|第一)(?:的|者)?(?:单位|部门)?(?:为|是)牵头"
    r"|第一个(?:单位)?为牵头单位"
)


def _role_of_words(words: str) -> Role:
    """牵头单位, 牵头考核单位 → lead; 配合单位, 参与 → supporting; 责任单位, 负责 → responsible."""
    if re.search(r"牵头|主办|主责", words):
        return Role.LEAD
    if re.search(r"配合|参与|协办|协助|支持", words):
        return Role.SUPPORTING
    return Role.RESPONSIBLE


@dataclass(frozen=True)
class _Named:
    """A unit as named: the words, the role, whether it is listed first in its tag, and what
    to read it as when the words alone are not its name (消防救援部门 after 各区… is 各区's)."""

    name: str
    role: Role
    first: bool = False
    reads_as: str | None = None


def split_unit_list(text: str) -> list[str]:
    """Split 市发改委、市教委，各区、县（市）政府 into names, keeping classes of units whole."""
    protected: list[str] = []

    def protect(match: re.Match[str]) -> str:
        protected.append(match.group(0))
        return f"\0{len(protected) - 1}\0"

    text = _CLASS_UNIT.sub(protect, text)
    names, depth, current = [], 0, ""
    for ch in text:
        if ch in "（(〔[":
            depth += 1
        elif ch in "）)〕]":
            depth -= 1
        if depth == 0 and ch in "、，,；;\n \t":
            names.append(current)
            current = ""
        else:
            current += ch
    names.append(current)
    restored = [
        re.sub(r"\0(\d+)\0", lambda m: protected[int(m.group(1))], n).strip() for n in names
    ]
    stripped = [re.sub(r"等(?:有关|相关)?(?:部门|单位)?$", "", n).rstrip("等。") for n in restored]
    return [n for n in stripped if n and not _GENERIC.match(normalize_brackets(n))]


_CLASS_UNIT = re.compile(
    r"各(?:[区县市乡镇州盟旗]|地|街道)[^，,；;。]*?(?:人民政府|政府|管委会|党委|街道办事处|部门|单位)"
)


def tagged_units(
    text: str, known: tuple[str, ...] = ()
) -> tuple[list[_Named], list[tuple[int, int]]]:
    """Units in tags — bracketed, or a paragraph of their own — and the spans the tags take."""
    found: list[_Named] = []
    spans: list[tuple[int, int]] = []
    for start, end, body in _bracketed(text):
        if any(a <= start < b for a, b in spans):
            continue
        named = _header_tag(body) if _HEADER.search(body) else _verb_tag(body, known)
        if named:
            found += named
            spans.append((start, end))
    for match in _BARE_HEADER.finditer(text):
        if not any(a <= match.start("h") < b for a, b in spans):
            found += _header_tag(match.group(0).strip())
            spans.append((match.start("h"), match.end()))
    return found, spans


def _bracketed(text: str) -> list[tuple[int, int, str]]:
    """(start, end, body) of every bracketed span, outer ones first."""
    spans = []
    for match in _OPENING.finditer(text):
        i = match.start()
        end = _closing(text, i + 1)
        spans.append((i, end + 1, text[i + 1 : end]))
    return spans


_OPENING = re.compile(r"[（(]")
_BRACKET = re.compile(r"[（()）]")


def _closing(text: str, start: int) -> int:
    """Where the bracket opened just before ``start`` closes (the end of the text if never)."""
    depth = 1
    for match in _BRACKET.finditer(text, start):
        depth += 1 if match.group() in "（(" else -1
        if depth == 0:
            return match.start()
    return len(text)


def _header_tag(body: str) -> list[_Named]:
    """牵头单位：甲；责任单位：乙、丙 — what comes before the first header (a deadline) is not a
    unit; a tag with no lead may have its first unit made lead by the document's rule."""
    headers = list(_HEADER.finditer(body))
    named: list[_Named] = []
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(body)
        segment = re.split(r"[。]", body[header.end() : end])[0]
        role = _role_of_words(header.group("h"))
        for group in re.split(r"[，,；;]", segment):
            named += _classed([_marked(n, role) for n in split_unit_list(group)])
    return [replace(named[0], first=True), *named[1:]] if named else named


def _classed(named: list[_Named]) -> list[_Named]:
    """各区市场监管部门、消防救援部门: the names after a class of units belong to that class."""
    if not named:
        return named
    head = re.match(r"各(?:区县|县区|区|县|市|乡镇|地)(?=.*(?:部门|机关)$)", named[0].name)
    if head is None:
        return named
    return [named[0]] + [
        replace(n, reads_as=head.group(0) + n.name)
        if _DEPARTMENT.search(n.name)
        and not (_LEVEL_PREFIX.match(n.name) or find_places(n.name[:3]))
        else n
        for n in named[1:]
    ]


def _verb_tag(body: str, known: tuple[str, ...]) -> list[_Named]:
    """（甲牵头，乙、丙按职责分工配合）: groups of units, each before its verb; a group with no
    verb of its own shares the next group's (甲、乙，各省级人民政府按职责分工负责)."""
    named: list[_Named] = []
    for sentence in body.split("。"):
        groups = _verb_groups(sentence, known)
        if groups and groups[0] and not named:
            groups[0][0] = replace(groups[0][0], first=True)
        named += [n for group in groups for n in group]
    return named


def _verb_groups(sentence: str, known: tuple[str, ...]) -> list[list[_Named]]:
    """The units of each comma-separated group of a tag, read right to left to share verbs."""
    verb: str | None = None
    groups: list[list[_Named]] = []
    for group in reversed(re.split(r"[，,；;]", sentence)):
        match = _VERB_GROUP.match(group.strip())
        names = split_unit_list(match.group("names") if match else group)
        if not names or not all(unit_like(_MARKER.sub("", n), known) for n in names):
            verb = None  # words, not units, break the sharing
            groups.append([])
            continue
        verb = match.group("verb") if match else verb
        groups.append([_marked(n, _role_of_words(verb)) for n in names] if verb else [])
    return groups[::-1]


def _marked(name: str, role: Role, first: bool = False) -> _Named:
    """A name with its role; a marker after the name (市发改委（牵头）) overrides the role."""
    marker = _MARKER.search(name)
    if marker:
        return _Named(name[: marker.start()], _role_of_words(marker.group(1)), first)
    return _Named(name, role, first)


# --- 职责分工 lists: 市房产局：负责牵头… ----------------------------------------------------------

_DUTY_LINE = re.compile(
    r"(?m)^[ \t]*(?P<name>[^\s：:，,。；;、（()）]{2,30}?)[ \t]*[：:](?P<rest>\S[^\n]*)"
)


def duty_lines(text: str, known: tuple[str, ...]) -> tuple[list[_Named], list]:
    """Units that start a line of a duty list, with the role the line gives them."""
    found, spans = [], []
    for match in _DUTY_LINE.finditer(text):
        name = match.group("name")
        if _HEADER.match(name + "：") or _GENERIC.match(name) or not unit_like(name, known):
            continue
        if not (_LEVEL_PREFIX.match(name) or find_places(name[:3]) or name in known):
            continue
        rest = match.group("rest")
        if re.match(r"(?:负责)?(?:统筹|组织)?牵头", rest):
            role = Role.LEAD
        elif re.match(r"(?:负责)?(?:配合|协助|协同|参与)", rest):
            role = Role.SUPPORTING
        else:
            role = Role.RESPONSIBLE
        found.append(_Named(name, role))
        spans.append((match.start("name"), match.end("name")))
    return found, spans


# --- actors named in sentences ------------------------------------------------------------------


def _table_matches(sentence: str) -> list[re.Match[str]]:
    """Matches of the table pattern; most sentences hold none of its words, and are skipped."""
    if not _table_words().search(sentence):
        return []
    return list(_table_pattern().finditer(sentence))


@cache
def _table_local_names() -> tuple[str, ...]:
    """Local names the table pattern finds behind a place (not 政府 alone)."""
    return tuple(n for n in _local() if len(n) >= 2 and n not in ("政府",))


@cache
def _table_pattern() -> re.Pattern[str]:
    """National names, and local names behind a place or a 市/省/区/县 prefix; each list of
    names is a prefix tree (longest name first, as a sorted alternation would try them)."""
    places = r"(?:[\u4e00-\u9fff]{2,8}?(?:省|市|自治区|自治州|区|县)|市|省|区|县)"
    alternatives = [
        *(
            p.pattern.strip("^$").replace("(?P<place>.+?)", "[\u4e00-\u9fff]{2,6}?")
            for p, _ in _local_with_place()
        ),
        rf"{places}{trie_regex(_table_local_names())}",
        trie_regex(_national()),
    ]
    return re.compile(rf"(?:{'|'.join(alternatives)})(?!门|部门|系统)")


@cache
def _table_words() -> re.Pattern[str]:
    """What every match of the table pattern holds: a name of the table, or the words before
    the place of a name that carries one (人行 of 人行{short}分行)."""
    heads = [name.split("{")[0] for name, _ in _place_templates()]
    return re.compile(trie_regex([*_table_local_names(), *_national(), *heads]))


@lru_cache(maxsize=256)  # one entry per document's names; a large corpus has hundreds
def _known_pattern(known: tuple[str, ...]) -> re.Pattern[str] | None:
    """The names a document gives its units (issuers, defined short names), longest first."""
    names = [k for k in known if len(k) >= 2]
    return re.compile(trie_regex(names)) if names else None


@dataclass(frozen=True)
class _Mention:
    """Names found at one place in a sentence; several for a list of domains (教育、科技等部门)."""

    start: int
    end: int
    names: tuple[str, ...]
    domains: bool = False


def _mentions(sentence: str, known: tuple[str, ...]) -> list[_Mention]:
    """Known names and names read from their shape, left to right, without overlaps."""
    own = _known_pattern(known)
    matches = [*(own.finditer(sentence) if own else ()), *_table_matches(sentence)]
    table = [
        _Mention(m.end() - len(name), m.end(), (name,))
        for m in matches
        if (name := _trim_to_place(m.group(0), known))
    ]
    shaped = _shaped(sentence) if _SUFFIX_HINT.search(sentence) else []
    chosen: list[_Mention] = []
    for mention in sorted(table + shaped, key=lambda m: (m.start, m.start - m.end)):
        if chosen and mention.start < chosen[-1].end:
            continue
        same_start = [t for t in table if t.start == mention.start and t.end < mention.end]
        if same_start and not _extends(sentence[same_start[0].end : mention.end]):
            mention = same_start[0]
        chosen.append(mention)
    return chosen


_SUFFIX_HINT = re.compile(r"局|委|办|厅|中心|部门|机关|政府|署|海关")


def _extends(extra: str) -> bool:
    """市公安局 + 交通管理局 is one unit; 市财政局 + 拨付资金给市教育局 is not."""
    return len(extra) <= 8 and not re.search(r"[市省区县]", extra)


def _shaped(sentence: str) -> list[_Mention]:
    """Names read from their shape: a place or a level prefix and a suffix (市数据管理部门,
    北京市住房资金管理中心), a domain before 部门 or 机关 (公安机关), a list of domains
    (教育、科技等部门)."""
    found = _behind_places(sentence) + _domain_lists(sentence)
    domains = _ONE_DOMAIN.finditer(sentence) if _may_name_departments(sentence) else ()
    for match in [*_LOCAL_SHAPE.finditer(sentence), *domains]:
        name = _shape_name(match.group(0))
        if name:
            found.append(_Mention(match.start(), match.start() + len(name), (name,)))
    return found


def _behind_places(sentence: str) -> list[_Mention]:
    """北京市住房资金管理中心, 大连市…局: a place and a suffix, the place found just before it."""
    found = []
    for tail in _PLACE_TAIL.finditer(sentence):
        start = max(0, tail.start() - 8)  # places are short: look just before the tail
        for place in find_places(sentence[start : tail.start() + 1]):
            place_start = start + place.start
            if place_start + len(place.text) < tail.start():
                continue
            after = _AFTER_PLACE.match(sentence, place_start + len(place.text))
            name = _shape_name(sentence[place_start : after.end()]) if after else None
            if name:
                found.append(_Mention(place_start, place_start + len(name), (name,)))
                break
    return found


def _domain_lists(sentence: str) -> list[_Mention]:
    """公安、交通、商务等部门: one mention naming each domain; the last keeps 主管部门 if it
    has it."""
    found = []
    if not (_may_name_departments(sentence) and ("、" in sentence or "以及" in sentence)):
        return found  # a list is joined by 、 or 以及
    for match in _DOMAIN_LIST.finditer(sentence):
        items = re.split(r"、|以及", match.group("items"))
        if not all(_about_a_domain(item + "部门") for item in items):
            continue
        if not match.group("tail").startswith("等"):
            items[-1] += match.group("tail")
        found.append(_Mention(match.start("items"), match.end(), tuple(items), domains=True))
    return found


def _may_name_departments(sentence: str) -> bool:
    """Whether _ONE_DOMAIN or _DOMAIN_LIST can match: each ends in 部门, 机关 or 人民政府."""
    return "部门" in sentence or "机关" in sentence or "人民政府" in sentence


@lru_cache(maxsize=4096)  # the same shapes (县级以上地方人民政府) come back in every law
def _shape_name(text: str) -> str | None:
    """The unit a shaped match names, or None for 有关部门 and departments of no known domain."""
    name = _first_unit(text)
    core = _LEVEL_PREFIX.sub("", _place_and_rest(name)[1])
    if _GENERIC.match(core) or (_DEPARTMENT.search(core) and not _about_a_domain(name)):
        return None
    return name


def _first_unit(name: str) -> str:
    """市科学技术行政部门报市人民政府 → 市科学技术行政部门: a name ends at its first suffix that
    a joining word (和, 报, 自…) and another name follow."""
    cut = re.search(
        r"(?:部门|机关|局|委员会|委|办公室|厅|政府|中心)(?=(?:和|及|与|或|报|自|向|同|会同)"
        r"(?:[市省区县]|[\u4e00-\u9fff]{1,8}(?:部门|机关|局|中心)))",
        name,
    )
    return name[: cut.end()] if cut else name


def _about_a_domain(name: str) -> bool:
    """公安机关, 规划自然资源主管部门: a department of a known domain, not 满足部门."""
    if name.endswith("人民政府"):
        return True
    stems = _department_stems(_LEVEL_PREFIX.sub("", name)) or (name,)
    return any(stem in _stems() or stem in _national_stems() or _domain(stem) for stem in stems)


def _domain(stem: str) -> bool:
    """规划自然资源, 国务院税务, 公安机关交通管理: domain words, not 城市管理疑难杂症发起."""
    stem = _ORG_PREFIX.sub("", stem)
    if not _DOMAINS.search(stem):
        return False
    return len(stem) <= 8 or bool(_DOMAIN_WORDS.fullmatch(stem))


def _trim_to_place(name: str, known: tuple[str, ...] = ()) -> str | None:
    """Cut a generic match back to its region: 我代表南京市人民政府 → 南京市人民政府.

    Names the table knows, and names behind a bare 市/省/区/县, are taken as they are."""
    if name in _national() or name in known or name.startswith(("国家", "中国")):
        return name
    prefix = _LEVEL_PREFIX.match(name)
    if prefix and name[len(prefix.group(1)) :].lstrip("市省") in _local():
        return name
    places = find_places(name)
    for place in places:
        rest = name[place.start + len(place.text) :]
        if rest in _local() or rest.lstrip("市省") in _local():
            return name[place.start :]
    if name.startswith(("人行", "人民银行", "金融监管总局")):
        return name
    bare = re.search(r"(?<![" + _WORDY + r"])[市省区县](?=[^市省区县]+$)", name)
    return name[bare.start() :] if bare and name[bare.end() :] in _local() else None


_WRAPPED = re.compile(r"(?<=[\u4e00-\u9fff，、（()）])\n(?=[\u4e00-\u9fff，、（()）])")
_DEFINITION = re.compile(r"[（(](?:以下简称|以下称|下称|简称)[^）)]{1,20}[）)]")
_TITLE = re.compile(r"《[^》]*》")


def mentioned_units(text: str, known: tuple[str, ...]) -> list[_Named]:
    """Units a sentence names as actors. A run of names (甲、乙和丙) shares the verb after its
    last name: 牵头 makes them lead; 配合/协助 supporting; 负责, or a run that is the subject of
    an action (教育部将…, 由甲、乙按程序报批), responsible; anything else, mentioned."""
    found = []
    text = _TITLE.sub(lambda m: "＿" * len(m.group(0)), text)  # titles cited are not actors
    text = _WRAPPED.sub("", _DEFINITION.sub("", text))
    if not _may_name_units(text, known):
        return found  # most clauses: no sentence to read
    for sentence in re.split(r"[。；;！？\n]", text):
        run: list[_Mention] = []
        for mention in _mentions(sentence, known):
            if run and not _LIST_GAP.fullmatch(sentence[run[-1].end : mention.start]):
                found += _with_role(run, sentence)
                run = []
            run.append(mention)
        if run:
            found += _with_role(run, sentence)
    return found


def _may_name_units(text: str, known: tuple[str, ...]) -> bool:
    """Whether any sentence of the text can hold a mention: a known name, a word of the table
    or a suffix that shaped names end in (what ``_mentions`` looks for in each sentence)."""
    own = _known_pattern(known)
    return bool(
        _SUFFIX_HINT.search(text) or _table_words().search(text) or (own and own.search(text))
    )


_LIST_GAP = re.compile(r"[、，,和及与]*|以及|会同")
_BY = re.compile(r"(?:^|[，,])(?:由|请|要求|具体由)$")
_GROUP_TAIL = re.compile(
    r"^(?:等(?:[^，,]{0,4}(?:部门|单位))?)?(?:[（(]单位[)）])?(?:会同有关(?:部门|单位))?"
)
_ACTION = re.compile(
    r"^(?:将|要|应|须|要求|加大|加强|组织|推动|推进|指导|统筹|做好|开展|建立|完善|支持|按照?|"
    r"负责|落实|实施|会同|联合|研究出台|出台)"
)
_SUPPORT = re.compile(r"^(?:负责|要|应当?)?(?:配合|协助|协办|协同|参与)")
_OWN_DUTIES = re.compile(
    r"^[，,]?(?:应当?|要|须)?(?:按照|依照|根据|依据|按|在|负责本部门)?(?:各自|职责分工|其职责|职责范围)"
    r"|^[，,]?(?:应当?|要)?各司其职"
)
_LEADS = re.compile(r"牵头(?!学校|企业|单位|部门|院校|高校|机构|城市)")
_CAPTION = re.compile(rf"^\s*{CAPTION.pattern}")  # a sentence's caption is not its subject
_FOLLOWS = re.compile(r"(?:配合|协助)$|办公室设在$")


def _with_role(run: list[_Mention], sentence: str) -> list[_Named]:
    """The role a run of mentions gets from the words around it."""
    before, after = sentence[: run[0].start], sentence[run[-1].end :]
    domains = any(m.domains for m in run)
    role = (
        (Role.LEAD if _FOLLOWS.search(before) else None)
        or _role_after(after, domains)
        or _role_before(before)
        or _predicate(before, after, domains)
    )
    return [
        _Named(n, role or Role.MENTIONED, reads_as=_as_department(n, m))
        for m in run
        for n in m.names
    ]


def _as_department(name: str, mention: _Mention) -> str | None:
    """A listed domain (教育, 园林绿化) reads as that domain's department."""
    return name + "部门" if mention.domains and not unit_like(name) else None


def _role_after(after: str, domains: bool) -> Role | None:
    clause = re.split(r"[，,]", after, maxsplit=1)[0][:24]
    rest = _GROUP_TAIL.sub("", clause)
    if domains and _OWN_DUTIES.match(rest):
        return Role.MENTIONED  # "公安、交通等部门按照各自职责…": every department, no task
    if _LEADS.search(clause):
        return Role.LEAD
    if _SUPPORT.match(rest):
        return Role.SUPPORTING
    if re.search(r"负责(?!人)", clause) or _ACTION.match(rest):
        return Role.RESPONSIBLE
    return None


def _role_before(before: str) -> Role | None:
    """由甲…: the units after 由 act."""
    if _BY.search(before):
        return Role.RESPONSIBLE
    return None


def _predicate(before: str, after: str, domains: bool) -> Role | None:
    """A sentence's subject keeps its role across commas: 甲是主管部门，负责…."""
    if _CAPTION.sub("", before).strip(" ＿“”\"'：:") or (domains and _OWN_DUTIES.search(after)):
        return None
    for piece in re.split(r"[，,]", after)[1:]:
        if re.match(r"(?:具体)?(?:负责|统筹|主管)", piece):
            return Role.RESPONSIBLE
        if piece.startswith("牵头"):
            return Role.LEAD
    return None


# --- a clause's units ---------------------------------------------------------------------------


def first_listed_leads(document_text: str) -> bool:
    """Whether the document says the first unit in a tag leads (列第一位者为牵头单位)."""
    return bool(_FIRST_IS_LEAD.search(document_text))


_NAME_BEFORE = re.compile(r"(?:设立|成立|组建|授权|委托|指定|确定|适用于|由|经|是|为|的)")


def defined_names(document_text: str) -> dict[str, str]:
    """Short names a document defines for units: 北京市自然科学基金委员会（以下简称“基金委”）."""
    found: dict[str, str] = {}
    for match in re.finditer(
        r"[（(](?:以下简称|以下称|下称|简称)[“\"「『]?(?P<short>[^”\"」』）)]{2,15})[”\"」』]?[）)]",
        document_text,
    ):
        full = _name_before(document_text, match.start())
        short = match.group("short").strip()
        if unit_like(short):  # a full name that is a description still defines a unit
            found[short] = full if full and unit_like(full) else short
    return found


def _name_before(text: str, end: int) -> str | None:
    """The unit name that ends where a definition starts, brackets inside it kept whole."""
    depth, start = 0, end
    while start > 0 and end - start < 40:
        ch = text[start - 1]
        depth += ch in "）)"
        depth -= ch in "（("
        if depth < 0 or (depth == 0 and ch in '，,。；;：:\n“”"、 \t】]'):
            break
        start -= 1
    name = text[start:end].strip()
    for verb in reversed(list(_NAME_BEFORE.finditer(name))):
        if _starts_a_name(name[verb.end() :]):
            return name[verb.end() :]
    if not _starts_a_name(name):  # 本办法适用于广州住房公积金管理中心: it starts at its place
        place = next((p for p in find_places(name) if name[p.start - 1 : p.start] != "（"), None)
        name = name[place.start :] if place else name
    return name if len(name) >= 3 else None


def _starts_a_name(text: str) -> bool:
    return bool(_LEVEL_PREFIX.match(text) or find_places(text[:3]) or text.startswith("中国"))


@lru_cache(maxsize=4096)
def unit_region(canonical: str) -> str | None:
    """The region a unit serves: the most specific place its canonical name names, else national."""
    mentions = find_places(canonical)
    if not mentions:
        return None
    return resolve(mentions[-1], mentions).display


def tag_units(text: str, resolver: UnitResolver, first_leads: bool) -> list[UnitTag]:
    """All units of one clause, each once, with its strongest role."""
    known = resolver.known_names
    tagged, spans = tagged_units(text, known)
    duties, duty_spans = duty_lines(text, known)
    spans += duty_spans
    rule = first_leads and not any(n.role is Role.LEAD for n in tagged)
    named = [_first_leads(n, rule) for n in tagged] + duties
    named += mentioned_units(_tags_as_sentence_ends(text, spans), known)
    best: dict[str, UnitTag] = {}
    for n in named:
        canonical, kind = resolver.canonical(n.reads_as or n.name)
        current = best.get(canonical)
        if current is None or n.role.strength > current.role.strength:
            best[canonical] = UnitTag(
                name=current.name if current else tidy(n.name), canonical=canonical,
                role=n.role, kind=kind, region=unit_region(canonical),
            )  # fmt: skip
    return _merge_departments(list(best.values()))


def _tags_as_sentence_ends(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with its tags turned into sentence ends: a tag's units are not actors in it."""
    if not spans:
        return text
    chars = list(text)
    for a, b in spans:
        chars[a:b] = "。" * (b - a)
    return "".join(chars)


def _first_leads(named: _Named, rule: bool) -> _Named:
    """The first unit of a tag leads when the document's rule says so and no tag names a lead."""
    if rule and named.first and named.role is Role.RESPONSIBLE:
        return replace(named, role=Role.LEAD)
    return named


def _merge_departments(tags: list[UnitTag]) -> list[UnitTag]:
    """政务服务数据管理部门 next to 市政务服务数据管理局 is that bureau: one tag, stronger role."""
    kept = list(tags)
    for tag in tags:
        stems = _department_stems(_LEVEL_PREFIX.sub("", tag.name))
        if tag.kind == "class" or not stems:
            continue
        same = [
            t for t in kept
            if t is not tag and t.kind != "class" and not _DEPARTMENT.search(t.name)
            and _BUREAU.sub("", _place_and_rest(t.canonical)[1]).startswith(stems)
        ]  # fmt: skip
        if same:
            target = same[0]
            if tag.role.strength > target.role.strength:
                kept[kept.index(target)] = UnitTag(
                    target.name, target.canonical, tag.role, target.kind, target.region
                )
            kept.remove(tag)
    return kept


def _department_stems(core: str) -> tuple[str, ...]:
    """城市管理部门 → (城市, 城市管理): the domain a department name is about, as stems to try."""
    match = _DEPARTMENT.search(core)
    if match is None:
        return ()
    stem = core[: match.start()]
    stems = (stem + "管理", stem) if "管理" in match.group(0) else (stem,)
    return tuple(s for s in stems if len(s) >= 2)
