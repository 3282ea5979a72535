"""Quantitative targets: 到2025年，国家产教融合试点城市达到50个左右.

Matching runs on the normalised text. A number counts only with a unit of things counted
(个, 所, 家, 万元, % …): dates, 文号, ordinals (第二批) and list numbers never carry one.
Each target names its metric, what is counted: the noun after the quantity (培育1万家以上
产教融合型企业), else the noun before it (试点城市达到50个左右), stripped of the verbs and
dates around it; ``metric_key`` drops level words so national and local targets line up.
"""

from __future__ import annotations

import re

from ingest.layout import DOC_NUMBER
from ingest.models import Target
from ingest.text import normalize

_UNITS = (
    "万人次|人次|万家|万人|万元|亿元|万亩|万吨|万平方米|万千瓦|个百分点|百分点|平方公里|平方米|公顷|公里|千米|"
    "%|‰|个|所|家|人|名|项|条|座|批|户|门|种|处|套|台|亩|吨|元|件|份|场|支|床|张|辆|栋|篇|块|位|万|亿"
)
_QUANTITY = re.compile(
    r"(?P<pre>不少于|不低于|不超过|不高于|不多于|达到|超过|至少|突破|高于|低于|达)?"
    r"(?<![\d.第])(?P<value>\d+(?:\.\d+)?)"
    rf"(?P<unit>{_UNITS})"
    r"(?P<post>及以上|以上|以下|以内|左右)?"
)
_NOT_AFTER = re.compile(r"^(?:年|月|日|号|届|次会议|周岁|岁|时|分)")
_DEADLINE = re.compile(
    r"(?:到|至|截至|截止到?|力争到?)(20\d{2}|19\d{2})年|(20\d{2})年(?:底|末)?(?:前|以前)"
)
_WEIGHT = re.compile(r"权重|分值|系数|赋分|得分")
_PIECES = re.compile(r"[^,，;；。:：]+")
_RATIO_UNITS = {"%", "‰", "个百分点", "百分点"}
_VERBS = (
    "建设培育|培育建设|试点布局建设|试点建设|配套新建|谋划布局|启动遴选|建设|培育|创建|打造|新增|新建|"
    "建成|认定|遴选|启动|完成|支持|扶持|推动|组建|发展|形成|布局|评选|设立|引进|培训|培养|吸引|"
    "覆盖|实现|开展|举办|达到|达|超过|突破|保持|稳定在|提高到|提升到|提高|提升|增加|增长|减少|降低|控制在"
)
_LEADING = re.compile(
    r"^(?:(?:力争|争取|确保|其中|累计|每年|年均|再|共|新|全面|重点|积极|按时|高质量|可按|可|按规定|按照|按|"
    r"用于|在全国|在全省|在全市|全国|到|至|截至|20\d{2}年(?:底|末)?(?:前|以前)?)"
    rf"|(?:{_VERBS}))+"
)
_TRAILING = re.compile(rf"(?:{_VERBS}|为|约|共|总数|总量)+$")
_AFTER_END = re.compile(r"[”\"’'》（(等]|的(?=[^的]{0,4}$)")
_LEVEL_WORDS = re.compile(
    r"^(?:国家级|国家|全国|省级|全省|市级|全市|县级|首批|第[一二三四五六七八九十\d]+批|一批|新一批)+"
)


def find_targets(text: str) -> list[Target]:
    """Every quantitative target in the text, with its deadline year when the sentence gives one."""
    normal = DOC_NUMBER.sub(lambda m: " " * len(m.group(0)), normalize(text))
    targets = []
    for sentence in re.split(r"[。;；!?！？\n]", normal):
        year = _deadline(sentence)
        previous = ""
        for piece in _PIECES.finditer(sentence):
            if not _WEIGHT.search(previous + piece.group(0)):  # 权重系数(%):2% is a weight
                targets.extend(_in_piece(piece.group(0), year))
            previous = piece.group(0)
    return targets


def _deadline(sentence: str) -> int | None:
    match = _DEADLINE.search(sentence)
    return int(match.group(1) or match.group(2)) if match else None


def _in_piece(piece: str, year: int | None) -> list[Target]:
    found = []
    for match in _QUANTITY.finditer(piece):
        end = match.end()
        if _NOT_AFTER.match(piece[match.end("value") :]) or _in_parentheses(
            piece, match.start("value"), end
        ):
            continue
        value = float(match.group("value"))
        qualifier = match.group("post") or match.group("pre")
        found.append(
            Target(
                value=int(value) if value.is_integer() else value,
                unit=match.group("unit"),
                qualifier="达到" if qualifier == "达" else qualifier,
                year=year,
                text=piece.strip(),
                metric=_metric(piece[: match.start()], piece[end:], match.group("unit")),
            )
        )
    return found


def _metric(before: str, after: str, unit: str) -> str | None:
    """What is counted: the noun after the quantity, else the one before it."""
    after = re.sub(r"^\s*的", "", after) if unit not in _RATIO_UNITS else ""
    after = _AFTER_END.split(after, maxsplit=1)[0].strip()
    metric = after if len(after) >= 2 else _noun_before(before)
    if metric and unit in _RATIO_UNITS and not re.search(r"(?:率|比例|比重|占比|比)$", metric):
        metric += "比例"
    return metric or None


def _noun_before(before: str) -> str:
    """The noun phrase that ends just before the quantity, without its verbs and dates."""
    before = re.split(r"不超过|不低于|不少于|不高于|超过|低于|高于", before)[-1]
    before = _TRAILING.sub("", _LEADING.sub("", before.strip()))
    before = re.sub(r"^的", "", before)
    return before if len(before) >= 2 else ""


def metric_key(metric: str | None) -> str | None:
    """The metric without level words or spaces, to line up national and local targets."""
    if not metric:
        return None
    key = _LEVEL_WORDS.sub("", normalize(metric).replace(" ", "").replace("的", ""))
    return key or normalize(metric)


def _in_parentheses(piece: str, start: int, end: int) -> bool:
    """(8%) after a heading is an annotation, not a target."""
    return piece[start - 1 : start] == "(" and piece[end : end + 1] == ")"
