"""Quantitative targets: 到2025年，国家产教融合试点城市达到50个左右.

Matching runs on the normalised text. A number counts only with a unit of things counted
(个, 所, 家, 万元, % …): dates, 文号, ordinals (第二批) and list numbers never carry one.
"""

from __future__ import annotations

import re

from ingest.metadata import DOC_NUMBER
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
            )
        )
    return found


def _in_parentheses(piece: str, start: int, end: int) -> bool:
    """(8%) after a heading is an annotation, not a target."""
    return piece[start - 1 : start] == "(" and piece[end : end + 1] == ")"
