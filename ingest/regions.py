"""China's administrative divisions, for telling where a document comes from.

The table is cpca's adcodes.csv (GB/T 2260 codes with names), read as data: cpca's own
matcher is not imported. Province-level municipalities (北京, 天津, 上海, 重庆) are provinces.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from ingest.models import Level

_PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
_ETHNIC_GROUPS = (
    "壮|回|维吾尔|土家|苗|藏|彝|哈尼|傣|白|景颇|傈僳|蒙古|哈萨克|朝鲜|布依|侗|羌|柯尔克孜|黎|满|畲|瑶|土|"
    "撒拉|东乡|保安|裕固|纳西|普米|怒|独龙|仫佬|毛南|仡佬|水|拉祜|佤|布朗|阿昌|德昂|基诺|达斡尔|鄂温克|"
    "鄂伦春|赫哲|锡伯|塔吉克|乌孜别克|俄罗斯|塔塔尔|京|门巴|珞巴"
)
_ETHNIC_SUFFIX = re.compile(rf"(?:(?:{_ETHNIC_GROUPS})族?)*自治(?:区|州|县|旗)$")
_ADMIN_SUFFIX = re.compile(r"(?:特别行政区|省|市|地区|盟)$")

# One-character abbreviations that open provincial 文号 (渝发改社会〔2023〕1271号).
PROVINCE_ABBREVIATIONS = {
    "京": "北京市",
    "津": "天津市",
    "沪": "上海市",
    "渝": "重庆市",
    "冀": "河北省",
    "晋": "山西省",
    "蒙": "内蒙古自治区",
    "辽": "辽宁省",
    "吉": "吉林省",
    "黑": "黑龙江省",
    "苏": "江苏省",
    "浙": "浙江省",
    "皖": "安徽省",
    "闽": "福建省",
    "赣": "江西省",
    "鲁": "山东省",
    "豫": "河南省",
    "鄂": "湖北省",
    "湘": "湖南省",
    "粤": "广东省",
    "桂": "广西壮族自治区",
    "琼": "海南省",
    "川": "四川省",
    "黔": "贵州省",
    "滇": "云南省",
    "云": "云南省",
    "藏": "西藏自治区",
    "陕": "陕西省",
    "甘": "甘肃省",
    "青": "青海省",
    "宁": "宁夏回族自治区",
    "新": "新疆维吾尔自治区",
}


@dataclass(frozen=True)
class Region:
    """A province, prefecture-level city or county, with its parents."""

    name: str  # full name: 绍兴市
    level: Level
    province: str
    city: str | None = None

    @property
    def display(self) -> str:
        """How PolicyKB names the region: 重庆市, 绍兴市, 淮安市洪泽区."""
        if self.level is Level.COUNTY and self.city:
            return self.city + self.name
        return self.name


def short_name(name: str) -> str:
    """绍兴市 → 绍兴, 广西壮族自治区 → 广西; names that would shrink below two characters stay."""
    for short in (_ETHNIC_SUFFIX.sub("", name), re.sub(r"自治(?:区|州|县|旗)$", "", name)):
        if short != name and len(short) >= 2:
            return short
    short = _ADMIN_SUFFIX.sub("", name)
    return short if len(short) >= 2 else name


def _adcodes_path() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cpca package is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


@cache
def all_regions() -> tuple[Region, ...]:
    rows = list(csv.DictReader(_adcodes_path().open(encoding="utf-8")))
    names = {row["adcode"][:6]: row["name"] for row in rows}
    regions = []
    for row in rows:
        code, name = row["adcode"][:6], row["name"]
        if name in _PLACEHOLDERS:
            continue
        province = names.get(code[:2] + "0000", "")
        if code[2:] == "0000":
            regions.append(Region(name, Level.PROVINCIAL, name))
        elif code[4:] == "00":
            regions.append(Region(name, Level.MUNICIPAL, province, name))
        else:
            city = names.get(code[:4] + "00")
            city = None if city in _PLACEHOLDERS else city
            regions.append(Region(name, Level.COUNTY, province, city))
    return tuple(regions + _renamed_districts(regions))


def _renamed_districts(regions: list[Region]) -> list[Region]:
    """Counties and county-level cities since made districts (长乐市 → 长乐区, 沙县 → 沙县区):
    the table predates many such renames, and documents use the new name."""
    taken = {r.name for r in regions}
    renamed = []
    for region in regions:
        if region.level is not Level.COUNTY or not region.name.endswith(("县", "市")):
            continue
        stem = region.name[:-1] if region.name.endswith("市") else region.name
        if len(stem) >= 2 and stem + "区" not in taken:
            renamed.append(Region(stem + "区", Level.COUNTY, region.province, region.city))
    return renamed


@cache
def _by_name() -> dict[str, list[Region]]:
    """Full names of every region, and short names of provinces and cities."""
    table: dict[str, list[Region]] = {}
    for region in all_regions():
        table.setdefault(region.name, []).append(region)
        if region.level is not Level.COUNTY:
            short = short_name(region.name)
            if short != region.name:
                table.setdefault(short, []).append(region)
    return table


@cache
def _name_finder() -> LongestWords:
    """Every name of a region: thousands of names tried one by one at every character would
    dominate parsing time."""
    return LongestWords(_by_name())


def prefix_tree(words) -> dict:
    """``words`` as nested dicts of their characters; the key "" marks where a word ends."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True
    return trie


class LongestWords:
    """The longest word at each position of a text, left to right, without overlaps: what
    ``trie_regex(words)`` finds, without a regex engine trying each first character in turn.
    The tree is walked only where a word's first two characters stand."""

    def __init__(self, words):
        self.tree = prefix_tree(words)
        firsts = {char for char in self.tree if char}
        seconds = {char for first in firsts for char in self.tree[first] if char}
        whole = {char for char in firsts if "" in self.tree[char]}  # one-character words
        starts = [f"{_one_of(firsts)}(?={_one_of(seconds)})"] if seconds else []
        starts += [_one_of(whole)] if whole else []
        self.starts = re.compile("|".join(starts) or "(?!)")

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) of each word found."""
        found = self.starts.search(text)
        while found:
            node, end = self.tree, 0
            for i in range(found.start(), len(text)):
                node = node.get(text[i])
                if node is None:
                    break
                if "" in node:
                    end = i + 1
            if end:
                yield found.start(), end
            found = self.starts.search(text, end or found.start() + 1)


def _one_of(chars: set[str]) -> str:
    return "[" + "".join(re.escape(char) for char in sorted(chars)) + "]"


def trie_regex(words) -> str:
    """A regex matching any of ``words``, the longest at each position, built from their
    prefix tree so that matching costs the depth of the tree, not the number of words."""
    return _node_regex(prefix_tree(words))


def _node_regex(node: dict) -> str:
    branches = [re.escape(char) + _node_regex(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


@dataclass(frozen=True)
class PlaceMention:
    text: str
    start: int
    regions: tuple[Region, ...]

    @property
    def is_full_name(self) -> bool:
        return any(r.name == self.text for r in self.regions)


def find_places(text: str) -> list[PlaceMention]:
    """Every mention of a region in the text, longest name first at each position."""
    return list(_places(text))


@lru_cache(maxsize=1 << 16)
def _places(text: str) -> tuple[PlaceMention, ...]:
    """Cached: unit names and short sentences are looked up again and again."""
    table = _by_name()
    return tuple(
        PlaceMention(text[start:end], start, tuple(table[text[start:end]]))
        for start, end in _name_finder().spans(text)
    )


def lookup(name: str) -> list[Region]:
    return list(_by_name().get(name, []))


def resolve(mention: PlaceMention, context: list[PlaceMention]) -> Region:
    """Pick one region for an ambiguous name, preferring one whose parent is also mentioned."""
    if len(mention.regions) == 1:
        return mention.regions[0]
    parents = {m.text for m in context} | {r.name for m in context for r in m.regions}
    for region in mention.regions:
        if region.city in parents or region.province in parents:
            return region
    rank = {Level.PROVINCIAL: 0, Level.MUNICIPAL: 1, Level.COUNTY: 2}
    return min(mention.regions, key=lambda r: rank[r.level])
