"""Responsible units: found in a clause, given a role, and named canonically within a region.

Where units come from: （责任单位：…） and （牵头单位：…；配合单位：…） tags, the unit columns
of task tables (rendered as the same tags by ingest.tables), and sentences that name an actor
("国家发展改革委、教育部…牵头推进"). Canonical names come from the document's own list of
issuers first (an abbreviation is a subsequence of the full name: 市教委 → 重庆市教育委员会),
then from the alias table in data/units.json, scoped to the document's region.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from ingest.models import Level, Role, UnitTag
from ingest.regions import find_places, resolve, short_name
from ingest.text import normalize_brackets, tidy

_TAG_OPEN = re.compile(
    r"[（(]\s*(?=(?:牵头|责任|配合|参与|协办|主办|主责|实施)(?:单位|部门)\s*[：:])"
)
_ROLE_HEADER = re.compile(r"^\s*(牵头|责任|配合|参与|协办|主办|主责|实施)(?:单位|部门)\s*[：:]\s*")
_ROLE_OF_HEADER = {"牵头": Role.LEAD, "主办": Role.LEAD, "主责": Role.LEAD}
_CLASS_UNIT = re.compile(
    r"各(?:[区县市乡镇州盟旗]|地|街道)[^，,；;。]*?(?:人民政府|政府|管委会|党委|街道办事处|部门|单位)"
)
_FIRST_IS_LEAD = re.compile(r"(?:排在?|列)(?:第一位|首位)的?(?:为|是)牵头单位|第一个为牵头单位")
_LEVEL_PREFIX = re.compile(r"^(自治区|省|市|州|盟|区|县|旗)")
_GENERIC = re.compile(r"^(?:有关|相关|各有关|其他|市级有关|省级有关)(?:部门|单位)$")
_SUFFIX_GROUP = {"委": "委员会", "办": "办公室"}


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


@cache
def _local_with_place() -> list[tuple[re.Pattern[str], str]]:
    """Aliases that carry the place inside (人行重庆市分行), as patterns capturing the place."""
    patterns = []
    for entry in alias_table()["local"]:
        for name in [entry["canonical"], *entry["aliases"]]:
            if "{" in name:
                regex = (
                    re.escape(name)
                    .replace(r"\{region\}", "(?P<place>.+?)")
                    .replace(r"\{short\}", "(?P<place>.+?)")
                )
                patterns.append((re.compile(f"^{regex}$"), entry["canonical"]))
    return patterns


def _fill(template: str, region: str) -> str:
    return template.replace("{region}", region).replace("{short}", short_name(region))


class UnitResolver:
    """Canonical names for what a document calls its units, within its region."""

    def __init__(self, region: str | None, issuers: list[str]):
        self.scope = Scope.of(region)
        self.issuers = [normalize_brackets(i) for i in issuers]

    def canonical(self, name: str) -> tuple[str, str]:
        """(canonical name, kind) where kind is "unit" or "class"."""
        name = tidy(name).replace("〔", "（").replace("〕", "）")
        key = normalize_brackets(name)
        if key.startswith("各"):
            return (self.scope.own or "") + name, "class"
        return self._from_issuers(key) or self._from_table(key) or self._scoped(key), "unit"

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

    def _split_place(self, key: str) -> tuple[str | None, str]:
        """(leading place, rest): 绍兴市教育局 → (绍兴市, 教育局); 市教委 → (city, 教委)."""
        mentions = find_places(key)
        if mentions and mentions[0].start == 0:
            region = resolve(mentions[0], mentions)
            rest = key[len(mentions[0].text) :]
            if rest.startswith(("市", "省")) and not mentions[0].is_full_name:
                rest = rest[1:]
            return region.name, rest
        prefix = _LEVEL_PREFIX.match(key)
        if prefix and key[len(prefix.group(1)) :] in _local():
            return self.scope.for_prefix(prefix.group(1)), key[len(prefix.group(1)) :]
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


def _subsequence(short: str, full: str) -> bool:
    it = iter(full)
    return all(ch in it for ch in short)


def _same_kind(short: str, full: str) -> bool:
    """市教委 may abbreviate 教育委员会, not 教育局: the last character says what kind of body."""
    return full.endswith(short[-1]) or full.endswith(_SUFFIX_GROUP.get(short[-1], "\0"))


# --- finding units in text -------------------------------------------------------------------


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
    return [n.rstrip("等") for n in restored if n and not _GENERIC.match(normalize_brackets(n))]


def tagged_units(text: str) -> tuple[list[tuple[str, Role, int]], list[tuple[int, int]]]:
    """Units in （责任单位：…） tags as (name, role, order), and the spans the tags take."""
    found, spans = [], []
    for match in _TAG_OPEN.finditer(text):
        end = _closing(text, match.end())
        body = text[match.end() : end]
        spans.append((match.start(), end + 1))
        role = Role.RESPONSIBLE
        for segment in re.split(r"[；;]", body):
            header = _ROLE_HEADER.match(segment)
            if header:
                role = _ROLE_OF_HEADER.get(header.group(1), Role.RESPONSIBLE)
                segment = segment[header.end() :]
            for order, name in enumerate(split_unit_list(segment)):
                found.append((name, role, order))
    return found, spans


def _closing(text: str, start: int) -> int:
    depth = 1
    for i in range(start, len(text)):
        if text[i] in "（(":
            depth += 1
        elif text[i] in "）)":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


@lru_cache(maxsize=64)  # one entry per issuer list; a large corpus has hundreds
def _mention_pattern(issuers: tuple[str, ...]) -> re.Pattern[str]:
    """National names, issuers, and local names behind a place or a 市/省/区/县 prefix."""
    local = sorted(
        (n for n in _local() if len(n) >= 2 and n not in ("政府",)), key=len, reverse=True
    )
    national = sorted(_national(), key=len, reverse=True)
    places = r"(?:[\u4e00-\u9fff]{2,8}?(?:省|市|自治区|自治州|区|县)|市|省|区|县)"
    alternatives = [
        *map(re.escape, sorted(issuers, key=len, reverse=True)),
        *(
            p.pattern.strip("^$").replace("(?P<place>.+?)", "[\u4e00-\u9fff]{2,6}?")
            for p, _ in _local_with_place()
        ),
        rf"{places}(?:{'|'.join(map(re.escape, local))})",
        *map(re.escape, national),
    ]
    return re.compile(rf"(?:{'|'.join(alternatives)})(?!门|部门|系统)")


def mentioned_units(text: str, issuers: list[str]) -> list[tuple[str, Role]]:
    """Units a sentence names as actors. A run of names (甲、乙和丙) shares the verb after its
    last name: 牵头 makes them lead; 负责, or a run that is the subject of an action (教育部将…,
    由甲、乙按程序报批), responsible; anything else, mentioned."""
    found = []
    pattern = _mention_pattern(tuple(issuers))
    text = re.sub(
        r"《[^》]*》", lambda m: "＿" * len(m.group(0)), text
    )  # titles cited are not actors
    for sentence in re.split(r"[。；;！？\n]", text):
        run: list[str] = []
        run_start = last_end = 0
        for match in pattern.finditer(sentence):
            if run and not _LIST_GAP.fullmatch(sentence[last_end : match.start()]):
                found += _with_role(run, sentence[:run_start], sentence[last_end:])
                run = []
            name = _trim_to_place(match.group(0))
            if name is None:
                continue
            if not run:
                run_start = match.start()
            run.append(name)
            last_end = match.end()
        if run:
            found += _with_role(run, sentence[:run_start], sentence[last_end:])
    return found


def _trim_to_place(name: str) -> str | None:
    """Cut a generic match back to its region: 我代表南京市人民政府 → 南京市人民政府.

    Names the table knows, and names behind a bare 市/省/区/县, are taken as they are."""
    if name in _national() or _LEVEL_PREFIX.match(name) or name.startswith(("国家", "中国")):
        return name
    places = find_places(name)
    for place in places:
        rest = name[place.start + len(place.text) :]
        if rest in _local() or rest.lstrip("市省") in _local():
            return name[place.start :]
    return name if any(name.startswith(p) for p in ("人行", "人民银行", "金融监管总局")) else None


_LIST_GAP = re.compile(r"[、，,和及与]*|以及|会同")


_BY = re.compile(r"(?:^|[，,])(?:由|请|要求)$")
_GROUP_TAIL = re.compile(r"^(?:等(?:[^，,]{0,4}(?:部门|单位))?)?(?:会同有关(?:部门|单位))?")
_ACTION = re.compile(
    r"^(?:将|要|应|须|要求|加大|加强|组织|推动|推进|指导|统筹|做好|开展|建立|完善|支持|按照?|"
    r"负责|落实|实施|会同|联合|研究出台|出台)"
)


def _with_role(names: list[str], before: str, after: str) -> list[tuple[str, Role]]:
    clause = re.split(r"[，,]", after, maxsplit=1)[0][:24]
    if "牵头" in clause:
        role = Role.LEAD
    elif "负责" in clause or _BY.search(before) or _ACTION.match(_GROUP_TAIL.sub("", clause)):
        role = Role.RESPONSIBLE
    else:
        role = Role.MENTIONED
    return [(name, role) for name in names]


def first_listed_leads(document_text: str) -> bool:
    """Whether the document says the first unit in a tag leads (排在第一位的为牵头单位)."""
    return bool(_FIRST_IS_LEAD.search(document_text))


@lru_cache(maxsize=4096)
def unit_region(canonical: str) -> str | None:
    """The region a unit serves: the most specific place its canonical name names, else national."""
    mentions = find_places(canonical)
    if not mentions:
        return None
    return resolve(mentions[-1], mentions).display


def tag_units(text: str, resolver: UnitResolver, first_leads: bool) -> list[UnitTag]:
    """All units of one clause, each once, with its strongest role."""
    tagged, spans = tagged_units(text)
    untagged = "".join(
        ch if not any(a <= i < b for a, b in spans) else "。" for i, ch in enumerate(text)
    )
    named = [
        (n, Role.LEAD if first_leads and order == 0 and role is Role.RESPONSIBLE else role)
        for n, role, order in tagged
    ]
    named += mentioned_units(untagged, resolver.issuers)
    best: dict[str, UnitTag] = {}
    for name, role in named:
        canonical, kind = resolver.canonical(name)
        current = best.get(canonical)
        if current is None or role.strength > current.role.strength:
            best[canonical] = UnitTag(
                name=tidy(name), canonical=canonical, role=role, kind=kind,
                region=unit_region(canonical),
            )  # fmt: skip
    return list(best.values())
