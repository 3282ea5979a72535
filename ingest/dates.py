"""Dates as documents write them: 2023年11月1日, 二〇二三年十一月一日, 二○一二年一月九日."""

from __future__ import annotations

import re
from datetime import date

# 〇 is the proper zero; documents also use ○ (white circle), ◯, Ｏ/O and 零.
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {
    "零": 0,
    "○": 0,
    "◯": 0,
    "Ｏ": 0,
    "O": 0,
    "0": 0,
    "两": 2,
}
_CN_ZERO = "〇零○◯ＯO0"
DATE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
CN_DATE = re.compile(
    rf"([{_CN_ZERO}一二三四五六七八九]{{4}})\s*年\s*([一二三四五六七八九十]{{1,2}})\s*月"
    r"\s*([一二三四五六七八九十]{1,3})\s*日"
)


def parse_date(text: str) -> str | None:
    """ISO date of the first date in the text, Arabic or Chinese numerals."""
    found = [(m.start(), _from_match(m)) for m in (DATE.search(text), CN_DATE.search(text)) if m]
    found = [(start, iso) for start, iso in found if iso]
    return min(found)[1] if found else None


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def checked_date(text: str) -> str:
    """The ISO form of a date written 2023-06-08 or 2023年6月8日; ValueError if it is none."""
    text = text.strip()
    iso = _ISO.fullmatch(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        try:
            return date(year, month, day).isoformat()
        except ValueError as error:
            raise ValueError(f"{text!r} is not a real date: {error}") from None
    written = parse_date(text) if is_date_line(text) else None
    if written is None:
        raise ValueError(f"{text!r} is not a date such as 2023-06-08 or 2023年6月8日")
    return written


def all_dates(text: str) -> list[str]:
    """Every date in the text written in Arabic numerals, in ISO form."""
    return [d for d in (_iso(*(int(g) for g in m.groups())) for m in DATE.finditer(text)) if d]


def is_date_line(text: str) -> bool:
    """A paragraph that is only a date: how a signature's 成文日期 stands."""
    stripped = re.sub(r"\s", "", text)
    return bool(DATE.fullmatch(stripped) or CN_DATE.fullmatch(stripped))


def _from_match(match: re.Match[str]) -> str | None:
    year, month, day = match.groups()
    if year.isdigit() and year.isascii():
        return _iso(int(year), int(month), int(day))
    year_number = int("".join(str(_CN_DIGITS[c]) for c in year))
    return _iso(year_number, _cn_small(month), _cn_small(day))


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _cn_small(text: str) -> int:
    """一 … 三十一."""
    if "十" not in text:
        return _CN_DIGITS[text]
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
