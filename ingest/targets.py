"""Quantitative targets: 到2025年，国家产教融合试点城市达到50个左右.

Matching runs on the normalised text. A number counts only with a unit of things counted
(个, 所, 家, 万元, % …): dates, 文号, ordinals (第二批) and list numbers never carry one.
Chinese numerals count too (三十个, 百分之八十, 两成), and a range (5-10家) is one target.

Policy text is full of numbers that are not goals: subsidies and rewards (补贴3万元, 最高50万元
的奖励), fines, loan and tax parameters (首付款比例不低于20%, 按20%的税率), thresholds and
conditions (满6个月, 投资额在100万元以上的), time limits (5个工作日内) and counts in rules
(复印件1份). A number is a target only when something says it is a goal — a deadline or 力争/
目标 in the sentence, a verb of achieving before it (新增, 建成, 达到), a bound (不少于, 以上,
左右), or a rate it sets (复工率达90%) — and nothing says it is one of those.

Each target names its metric, what is counted: the noun after the quantity (培育1万家以上
产教融合型企业), else the noun before it (试点城市达到50个左右), stripped of the verbs and
dates around it; ``metric_key`` drops level words so national and local targets line up.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.metadata import DOC_NUMBER
from ingest.models import Target
from ingest.text import normalize

_UNITS = (
    "万人次|人次|万家|万户|万人|万名|万亿元|亿元|亿美元|万美元|万元|万亩|万吨|万平方米|万千瓦|万辆|万台|"
    "万套|万个|万张|万件|万公里|个百分点|百分点|平方公里|平方米|公顷|公里|千米|千瓦|兆瓦|标准箱|"
    "%|‰|个月|个|所|家|人|名|项|条|座|批|户|门|种|处|套|台|亩|吨|元|件|份|场|支|床|张|辆|栋|篇|块|位|"
    "款|部|只|间|倍|万|亿"
)
_PRE = r"不少于|不低于|不超过|不高于|不多于|不小于|不大于|达到|超过|至少|突破|高于|低于|达|超"
_POST = r"及以上|以上|以下|以内|左右|多"
_QUANTITY = re.compile(
    rf"(?P<pre>{_PRE})?"
    r"(?<![\d.第])(?P<value>\d+(?:\.\d+)?)(?P<upper>[-~～—至到]\d+(?:\.\d+)?)?"
    rf"(?P<unit>{_UNITS})"
    rf"(?P<post>{_POST})?"
)
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_CN_QUANTITY = re.compile(
    rf"(?P<pre>{_PRE})?"
    rf"(?:百分之(?P<percent>[{_CN_DIGITS}点]+)|(?<![第{_CN_DIGITS}])(?P<value>[一二两三四五六七八九十]"
    rf"[{_CN_DIGITS}]*)(?P<unit>成|个百分点|{_UNITS.replace('|万|亿', '')}))"
    rf"(?P<post>{_POST})?"
)
_NOT_AFTER = re.compile(
    r"^(?:年|月|日|号|届|次会议|周岁|岁|时|分|工作日|自然日|天|小时|个工作日|门)"
)
_DATE_LIKE = re.compile(r"^(?:19|20)\d{2}\.\d{1,2}$")
_DEADLINE = re.compile(
    r"(?:到|至|截至|截止到?|力争到?)(20\d{2}|19\d{2})年|(20\d{2})年(?:底|末)?(?:前|以前)"
    r"|(20\d{2})年(?:底|末)?[，,]?(?=力争|争取|确保|实现|推动|创建|建成|完成|新增|达到|培育|打造|基本)"
)
_GOAL = re.compile(
    r"力争|争取|确保|目标|预期|到20\d{2}年|20\d{2}年(?:底|末)?(?:前|以前)|[一二三四]季度|上半年|下半年|"
    r"年底前|今年|明年|末期"
)
_ACHIEVE = re.compile(
    r"新增|新建|新开工|建成|建设|培育|引育|引进|创建|打造|推动|形成|完成|实现|提高|"
    r"提升|增长|增加|降低|下降|减少|压减|控制|保持|稳定在|覆盖|举办|组织|开展|发展|布局|遴选|认定|扶持|"
    r"吸引|培训|培养|签约|招引|推广|孵化"
)
_PRE_BOUNDS = {"不少于", "不低于", "不超过", "不高于", "不多于", "不小于", "不大于"}
_BOUND = _PRE_BOUNDS | {"以上", "及以上", "左右"}
_RATE = re.compile(
    r"(?:率|比例|比重|占比|增速|增幅|涨幅)(?:达到|达|为|提高到|提升到|保持在|控制在)?$"
)
# What makes a number a rule, a benefit or a condition rather than a goal.
_NOT_GOAL_PIECE = re.compile(
    r"复印件|原件|首付|利率|税率|征收率|费率|缴存比例|基点|保证金|手续费|收费标准|贷款.{0,6}额度|"
    r"保底额度|最高额度|贷款期限|应纳税所得额|综合所得|纳税人|计税|支付(?:总价|价款|款项|比例|金额|费用)|缴纳|提取"
)
_NOT_GOAL_SENTENCE = re.compile(r"罚款|罚金|没收|处罚|违法")
_RULE = re.compile(r"不得|不能|不应|不宜|不可|一般|原则上|拥有|持有|已有|已达到|已$")
_BENEFIT = re.compile(
    r"补贴|补助|奖励|资助|贴息|奖补|给予|发放|一次性|最高|减免|返还|退还|报销|津贴|补偿|安排|资金"
)
_MONEY_OR_SHARE = re.compile(r"元$|%|‰|百分点")
_CONDITION_BEFORE = re.compile(r"(?:满|在|按|处|年满|连续)$")
_CONDITION_AFTER = re.compile(r"^(?:[（(][^）)]*[）)])?(?:的|后|时|之前|之后|期间)")
_CONDITION_START = re.compile(r"^(?:对|凡|符合|属于|申请|其中对)")
_NAMED = re.compile(  # 三项制度, “十大工程”, 十条政策措施: a name, not a count
    r"^[\u4e00-\u9fff]{0,6}[”\"’]|^(?:制度|机制|改革|行动|工程|原则|要求|政策|措施|意见|举措|规定|清单)"
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


@dataclass(frozen=True)
class _Found:
    """A quantity in a piece of a sentence, before deciding whether it is a target."""

    value: float
    unit: str
    qualifier: str | None
    start: int
    end: int
    chinese: bool = False


def find_targets(text: str) -> list[Target]:
    """Every quantitative target in the text, with its deadline year when the sentence gives one."""
    targets: list[Target] = []
    if _holds_no_number(text):
        return targets  # most clauses: nothing to normalise and read
    normal = _without_doc_numbers(normalize(text))
    for sentence in re.split(r"[。;；!?！？\n]", normal):
        if not _has_quantity(sentence):
            continue  # most sentences hold no number with a unit: skip reading their pieces
        year, goal = _deadline(sentence), _goal_sentence(sentence)
        if goal is None:
            continue
        inside = _bracketed(sentence) if "(" in sentence else set()
        previous = ""
        for match in _PIECES.finditer(sentence):
            piece = match.group(0)
            if not _WEIGHT.search(previous + piece):  # 权重系数(%):2% is a weight
                found = _in_piece(piece, match.start(), inside)
                targets += [
                    _target(piece, f, year) for f in found if _is_goal(piece, f, goal, year)
                ]
            previous = piece
    return targets


def _holds_no_number(text: str) -> bool:
    """Whether the normalised text surely holds no digit and no Chinese numeral, told without
    normalising: none as written, and nothing NFKC changes but full-width punctuation (which
    becomes ASCII punctuation, never a numeral)."""
    return not _NUMERAL_AS_WRITTEN.search(text) and unicodedata.is_normalized(
        "NFKC", text.translate(_FULL_WIDTH_PUNCTUATION)
    )


_NUMERAL_AS_WRITTEN = re.compile(r"[\d一二两三四五六七八九十百]")
_FULL_WIDTH_PUNCTUATION = dict.fromkeys(  # ！（），：；？ … and the ideographic space
    [*range(0xFF01, 0xFF10), *range(0xFF1A, 0xFF21), *range(0xFF3B, 0xFF41),
     *range(0xFF5B, 0xFF5F), 0x3000, 0x00A0, 0x2026]
)  # fmt: skip


def _without_doc_numbers(normal: str) -> str:
    """The text with its 文号 blanked out; every 文号 ends in 号, so text without one is kept."""
    if "号" not in normal:
        return normal
    return DOC_NUMBER.sub(lambda m: " " * len(m.group(0)), normal)


def _has_quantity(sentence: str) -> bool:
    """Whether any quantity with a unit is in the sentence (pieces hold none if it has none);
    the cheap test for a numeral goes first."""
    return bool(
        (_DIGIT.search(sentence) and _QUANTITY.search(sentence))
        or (_CN_NUMERAL.search(sentence) and _CN_QUANTITY.search(sentence))
    )


_DIGIT = re.compile(r"\d")
_CN_NUMERAL = re.compile(r"[一二两三四五六七八九十百]")  # how every Chinese quantity starts


def _deadline(sentence: str) -> int | None:
    match = _DEADLINE.search(sentence)
    return int(next(g for g in match.groups() if g)) if match else None


def _bracketed(sentence: str) -> set[int]:
    """Positions inside brackets: (工程投资额在100万元以上) states a condition, (8%) annotates."""
    inside, depth = set(), 0
    for i, ch in enumerate(sentence):
        depth += ch == "("
        depth -= ch == ")" and depth > 0
        if depth:
            inside.add(i)
    return inside


def _in_piece(piece: str, offset: int, inside: set[int]) -> list[_Found]:
    """Quantities with a unit in a piece, Arabic and Chinese, outside brackets."""
    found = [f for f in _arabic(piece) + _chinese(piece) if offset + f.start not in inside]
    return [f for f in found if not _NOT_AFTER.match(piece[f.end :])]


def _goal_sentence(sentence: str) -> bool | None:
    """True when the sentence states goals, None when it sets fines (no target in it at all)."""
    if _NOT_GOAL_SENTENCE.search(sentence):
        return None
    return bool(_GOAL.search(sentence))


def _arabic(piece: str) -> list[_Found]:
    found = []
    for match in _QUANTITY.finditer(piece):
        if _DATE_LIKE.match(match.group("value")):
            continue  # 2023.01—2023.06: months, not a quantity
        value = float(match.group("value"))
        qualifier = match.group("post") or match.group("pre")
        if match.group("upper"):
            qualifier = "不少于"  # a range: at least its lower end
        unit, start = match.group("unit"), match.start("value")
        found.append(_Found(value, unit, _qualifier(qualifier), start, match.end()))
    return found


def _chinese(piece: str) -> list[_Found]:
    """三十个, 百分之八十 (80%), 两成 (20%)."""
    found = []
    for match in _CN_QUANTITY.finditer(piece):
        if match.group("percent"):
            value, unit = chinese_number(match.group("percent")), "%"
        else:
            value, unit = chinese_number(match.group("value")), match.group("unit")
            if unit == "成":
                value, unit = value * 10, "%"
        if value is None or (value < 2 and unit != "%"):
            continue  # 一个, 一项: a figure of speech more often than a count
        qualifier = _qualifier(match.group("post") or match.group("pre"))
        start = match.start("percent") - 3 if match.group("percent") else match.start("value")
        found.append(_Found(value, unit, qualifier, start, match.end(), chinese=True))
    return found


def _qualifier(word: str | None) -> str | None:
    return {"达": "达到", "超": "超过", "多": "以上"}.get(word or "", word)


_CN_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_number(text: str) -> float | None:
    """一百二十 → 120, 三点五 → 3.5, 两万 → 20000; None for what is not a number."""
    whole, _, fraction = text.partition("点")
    value = _chinese_integer(whole)
    if value is None or not all(ch in _CN_VALUES for ch in fraction):
        return None
    digits = "".join(str(_CN_VALUES[ch]) for ch in fraction)
    return value + (float("0." + digits) if digits else 0)


def _chinese_integer(text: str) -> int | None:
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _CN_VALUES:
            digit = _CN_VALUES[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch in "万亿":
            total += (section + (digit or 0)) * (10_000 if ch == "万" else 100_000_000)
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0) if text else None


def _is_goal(piece: str, found: _Found, goal_sentence: bool, year: int | None) -> bool:
    """Whether a quantity is a goal: some evidence that it is, none that it is a rule."""
    before, after = piece[: found.start], piece[found.end :]
    if _not_a_goal(piece, before, after, found):
        return False
    achieve_pre = found.qualifier in ("达到", "超过", "突破")
    achieve = bool(_ACHIEVE.search(before)) or achieve_pre
    if found.chinese:  # 三项制度, 十条措施, 两名以上: numerals in words need a goal's own words
        near = bool(_ACHIEVE.search(before[-4:])) or found.qualifier in _BOUND or achieve_pre
        return (year is not None or goal_sentence) and near and not _NAMED.match(after)
    if found.unit == "个月":  # durations are limits and conditions unless the goal says so
        return goal_sentence
    rate = bool(_RATE.search(before) or after.startswith("的比例"))
    bounded = found.qualifier in _BOUND or _bounded_share(found, before, after)
    return goal_sentence or bounded or achieve or rate


def _not_a_goal(piece: str, before: str, after: str, found: _Found) -> bool:
    """Fees and loan terms; subsidies; rules (不得超过); conditions (满6个月, 在100万元以上的)."""
    if _NOT_GOAL_PIECE.search(piece) or _CONDITION_BEFORE.search(before) or _RULE.search(before):
        return True
    if _MONEY_OR_SHARE.search(found.unit) and _BENEFIT.search(piece):
        return True
    if found.qualifier in ("以下", "以内") and _CONDITION_AFTER.match(after):
        return not re.search(r"控制|降", before)
    if _CONDITION_AFTER.match(after) and not _bounded_share(found, before, after):
        return bool(_CONDITION_START.search(before)) or not _ACHIEVE.search(before)
    return False


def _bounded_share(found: _Found, before: str, after: str) -> bool:
    """不超过工资薪金总额8%的部分, 30%的比例: a bounded share, not a condition on a thing."""
    bounded = any(word in before for word in _PRE_BOUNDS)
    return found.unit in _RATIO_UNITS and (after.startswith("的比例") or bounded)


def _target(piece: str, found: _Found, year: int | None) -> Target:
    value = found.value
    return Target(
        value=int(value) if float(value).is_integer() else value,
        unit=found.unit,
        qualifier=found.qualifier,
        year=year,
        text=piece.strip(),
        metric=_metric(piece[: found.start], piece[found.end :], found.unit),
    )


def _metric(before: str, after: str, unit: str) -> str | None:
    """What is counted: the noun after the quantity, else the one before it."""
    before = re.sub(rf"(?:{_PRE}|百分之)$", "", before)
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
