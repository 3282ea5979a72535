"""When a document is in force, as its sidecar, its catalogue or its own text says.

Evidence, strongest first: the sidecar (``valid_from``, ``valid_to``, ``expired``); a catalogue
the reader found beside the file (LawRefBook's db.sqlite3: 施行 date, expired); the text itself
(本办法自2024年1月1日起施行, 有效期5年, 有效期至…, the period of a plan in its title such as
（2023—2025年）, and 《X》同时废止 about other documents). Each date keeps its reason. What
other documents of the KB say (repeals, newer versions) is resolved by index.versions.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from ingest.dates import CN_DATE, DATE, all_dates, checked_date, parse_date
from ingest.models import Repeal, Validity

SIDECAR_FIELDS = {"valid_from", "valid_to", "expired"}
CATALOGUE = "db.sqlite3"  # LawRefBook's catalogue at the root of its folders
READ_CATALOGUES = True  # False: the text alone (evals.versions --text-only)
_ANY_DATE = rf"(?:{DATE.pattern}|{CN_DATE.pattern})"
_SELF = (
    r"本(?:法|条例|规定|办法|细则|实施细则|方案|实施方案|意见|实施意见|通知|措施|若干措施|决定"
    r"|规则|计划|行动计划|准则|政策|制度|指引|标准|规划|纲要|解释|规程)"
)
# 本办法自2024年1月1日起施行 / 自印发之日起实施 / 本法自公布之日起施行
_EFFECTIVE = re.compile(
    rf"(?:{_SELF}[^。；]{{0,12}}?)?自(?P<when>{_ANY_DATE}|(?:公布|印发|发布|颁布|发文)之日)"
    r"起(?:施行|实施|执行|生效)"
)
_CN_NUMBER = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}  # fmt: skip
_TERM_YEARS = re.compile(r"有效期(?:为|限为|限)?\s*(?P<n>\d{1,2}|[一二两三四五六七八九十])\s*年")
_TERM_UNTIL = re.compile(rf"(?:有效期|执行期|实施期|试行期)[^。；]{{0,16}}?至(?P<when>{_ANY_DATE})")
_PERIOD = re.compile(
    r"[（(]\s*(?P<start>(?:19|20)\d{2})\s*(?:年)?\s*[—–\-－~～至到]+\s*"
    r"(?P<end>(?:19|20)\d{2})\s*年?\s*[）)]"
)
_QUOTED = re.compile(r"《([^《》]{2,80})》")
_REPEAL = re.compile(r"(?:同时)?(?:废止|停止执行|不再执行|同时失效)")
_ENACTING = re.compile(r"(?:施行|实施|执行|生效)[，,。]?")


def read_validity(
    title: str, body: list[str], issued: str | None, hints: dict, sidecar: dict, sidecar_at: Path
) -> Validity:
    """A document's validity: sidecar fields first, then its catalogue record, then its text."""
    found = Validity()
    for layer in (_from_sidecar(sidecar, sidecar_at), _from_catalogue(hints),
                  from_text(title, body, issued)):  # fmt: skip
        _fill(found, layer)
    return found


def _fill(found: Validity, layer: Validity) -> None:
    """Take each field from ``layer`` where a stronger layer left it unset."""
    if found.valid_from is None and layer.valid_from:
        found.valid_from, found.from_reason = layer.valid_from, layer.from_reason
    if found.valid_to is None and layer.valid_to:
        found.valid_to, found.to_reason = layer.valid_to, layer.to_reason
    if not found.expired and layer.expired:
        found.expired, found.expired_reason = True, layer.expired_reason
    if not found.repeals:
        found.repeals = layer.repeals


# --- the text ---------------------------------------------------------------------------------


def from_text(title: str, body: list[str], issued: str | None) -> Validity:
    """What the title and body say: the 施行 date, a term (有效期N年, 有效期至…, a plan's
    2023—2025年 in its title) and the documents it repeals."""
    found = Validity(repeals=repeals_in(body))
    effective = _effective(body, issued)
    if effective:
        found.valid_from, found.from_reason = effective
    period = _PERIOD.search(_QUOTED.sub("", title))
    if period:
        if found.valid_from is None:
            start = max(issued or "", f"{period['start']}-01-01")
            found.valid_from, found.from_reason = start, f"标题：{period.group(0)}"
        found.valid_to, found.to_reason = f"{period['end']}-12-31", f"标题：{period.group(0)}"
    term = _term(body, found.valid_from or issued)
    if term:
        found.valid_to, found.to_reason = term
    return found


def _effective(body: list[str], issued: str | None) -> tuple[str, str] | None:
    """The last 施行 statement of the body: a date, or the day it was issued (公布之日)."""
    for text in reversed(body):
        for match in reversed(list(_EFFECTIVE.finditer(text))):
            when = match["when"]
            day = _date_of(when) if "之日" not in when else issued
            if day and issued and day < issued:
                return None  # the first version's date, kept by a later revision's text
            if day:
                return day, f"本文：{_sentence(text, match.start())}"
    return None


def _term(body: list[str], start: str | None) -> tuple[str, str] | None:
    """有效期至2025年12月31日, or 有效期N年 counted from ``start``."""
    for text in reversed(body):
        until = _TERM_UNTIL.search(text)
        if until and _date_of(until["when"]):
            return _date_of(until["when"]), f"本文：{_sentence(text, until.start())}"
        years = _TERM_YEARS.search(text)
        if years and start:
            n = int(years["n"]) if years["n"].isdigit() else _CN_NUMBER[years["n"]]
            return _after_years(start, n), f"本文：{_sentence(text, years.start())}"
    return None


def repeals_in(body: list[str]) -> list[Repeal]:
    """Documents the text repeals: the titles before 同时废止 (or 停止执行) in its sentence,
    after the sentence's own 施行 statement (本法自…起施行，《X》同时废止)."""
    found: dict[str, Repeal] = {}
    for text in body:
        for sentence in re.split(r"(?<=[。；;])", text):
            stop = _REPEAL.search(sentence)
            if not stop or "《" not in sentence[: stop.start()]:
                continue
            head = sentence[: stop.start()]
            enacted = list(_ENACTING.finditer(head))
            scope = head[enacted[-1].end() :] if enacted else head
            for match in _QUOTED.finditer(scope):
                dates = tuple(_dates(scope[: match.start()]))
                found.setdefault(match[1], Repeal(match[1], sentence.strip(), dates))
    return list(found.values())


def _dates(text: str) -> list[str]:
    return all_dates(text)


def _date_of(text: str) -> str | None:
    return parse_date(text)


def _sentence(text: str, at: int) -> str:
    """The sentence of ``text`` around offset ``at``, for a reason."""
    start = max(text.rfind(mark, 0, at) for mark in "。；") + 1
    ends = [i for i in (text.find(mark, at) for mark in "。；") if i >= 0]
    return text[start : (min(ends) + 1 if ends else len(text))].strip()[:200]


def _after_years(start: str, years: int) -> str:
    """The last day of a term of ``years`` years from ``start``."""
    first = date.fromisoformat(start)
    try:
        end = first.replace(year=first.year + years)
    except ValueError:  # 29 February
        end = first.replace(year=first.year + years, day=28)
    return (end - timedelta(days=1)).isoformat()


# --- the sidecar ------------------------------------------------------------------------------


def _from_sidecar(sidecar: dict, path: Path) -> Validity:
    """``valid_from``/``valid_to`` (dates) and ``expired`` (true/false) of a sidecar."""
    from ingest.readers.base import IngestError  # readers use this module: import when needed

    found = Validity()
    try:
        for key in ("valid_from", "valid_to"):
            if sidecar.get(key) is not None:
                if not isinstance(sidecar[key], str):
                    raise ValueError(f"field {key!r}: must be a date such as 2023-06-08")
                setattr(found, key, checked_date(sidecar[key]))
                setattr(found, f"{key[6:]}_reason", f"sidecar：{key} {sidecar[key]}")
        if "expired" in sidecar:
            if not isinstance(sidecar["expired"], bool):
                raise ValueError("field 'expired': must be true or false")
            found.expired = sidecar["expired"]
            found.expired_reason = "sidecar：expired" if found.expired else None
    except ValueError as error:
        message = str(error) if str(error).startswith("field") else f"field: {error}"
        raise IngestError(path, message) from None
    if found.valid_from and found.valid_to and found.valid_to < found.valid_from:
        raise IngestError(path, f"field 'valid_to': {found.valid_to} is before valid_from")
    return found


# --- a catalogue beside the files (LawRefBook) ------------------------------------------------


def _from_catalogue(hints: dict) -> Validity:
    """A catalogue record the reader attached (``hints["catalogue"]``): 施行 date, expired."""
    record = hints.get("catalogue")
    if not isinstance(record, dict):
        return Validity()
    found = Validity()
    name = record.get("catalogue", "catalogue")
    if record.get("valid_from"):
        found.valid_from = str(record["valid_from"])
        found.from_reason = f"{name}：施行日期 {record['valid_from']}"
    if record.get("expired"):
        found.expired, found.expired_reason = True, f"{name}：标注已失效"
    return found


def lawrefbook_record(path: Path, version: str | None) -> dict | None:
    """The row of LawRefBook's catalogue (db.sqlite3 in a folder above the file) for this file:
    its name (the file name less the version) and, when the name dates it, its publish date."""
    catalogue = _find_catalogue(path) if READ_CATALOGUES else None
    if catalogue is None:
        return None
    name = re.sub(r"\((?:\d{4}-\d{2}-\d{2})\)$|[_\s-](?:19|20)\d{2}$", "", path.stem)
    rows = _catalogue_rows(str(catalogue)).get(name, [])
    if version and len(version) == 10:
        rows = [r for r in rows if r["publish"] == version] or rows
    folder = path.resolve().parent.relative_to(catalogue.parent).as_posix()
    rows = [r for r in rows if folder.startswith(r["folder"])] or rows
    if len(rows) != 1:
        return None
    return {**rows[0], "catalogue": "LawRefBook 目录"}


def _find_catalogue(path: Path) -> Path | None:
    for folder in list(path.resolve().parents)[:6]:
        candidate = folder / CATALOGUE
        if candidate.is_file():
            return candidate
    return None


@cache
def _catalogue_rows(catalogue: str) -> dict[str, list[dict]]:
    """name → rows (level, publish, valid_from, expired, folder) of a LawRefBook catalogue."""
    try:
        db = sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True)
        rows = db.execute(
            "SELECT l.name, l.level, l.publish, l.valid_from, l.expired, c.folder FROM law l"
            " JOIN category c ON c.id = l.category_id"
        ).fetchall()
        db.close()
    except sqlite3.Error:
        return {}
    by_name: dict[str, list[dict]] = {}
    for name, level, publish, valid_from, expired, folder in rows:
        by_name.setdefault(name, []).append({
            "level": level, "publish": publish, "valid_from": valid_from,
            "expired": bool(expired), "folder": folder,
        })  # fmt: skip
    return by_name
