"""Document metadata inferred from the text: title, 文号, issuers, date, level, region, status.

The front matter (文号 line, title lines, addressee) and the signature block (issuers over a
date) are found here and handed back as consumed, so the clause tree holds only the body.
A sidecar NAME.meta.json beside the file may override or complete any field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ingest.cleaning import Item, Paragraph
from ingest.models import Document, Level
from ingest.numbering import match_attachment, match_label
from ingest.readers.base import IngestError, RawDocument
from ingest.regions import PROVINCE_ABBREVIATIONS, Region, find_places, lookup, resolve
from ingest.text import normalize, normalize_brackets, tidy

DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,12}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,5}\s*号"
)
_DOC_TYPES = (
    "通知|通报|方案|意见|办法|规定|计划|措施|决定|条例|细则|纲要|规划|规则|报告|公告|通告|批复|"
    "函|决议|指南|清单|目录|标准|要点|法|守则|章程|制度|解释|答复|复函|行动"
)
_TITLE_END = re.compile(rf"(?:{_DOC_TYPES})(?:[（(][^）)]{{1,20}}[）)])?$")
_PARENTHETICAL = re.compile(r"^[（(][^（）()]{1,30}[）)]$")
_DRAFT = re.compile(r"征求意见稿|草案|讨论稿|送审稿|意见征求稿")
_DRAFT_MARK = re.compile(r"[（(]\s*(?:征求意见稿|讨论稿|送审稿|意见征求稿)\s*[）)]")
_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_DATE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_CN_DATE = re.compile(
    r"([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,2})月([一二三四五六七八九十]{1,3})日"
)
_ORG_SUFFIX = re.compile(
    r"(?:委员会|委|局|厅|部|办公室|办|政府|分行|支行|银行|中心|总局|院|会|署|行|公司|集团|大学|管委会|处|所)$"
)
_COLOPHON = re.compile(
    r"^(?:抄送|抄报|主送|分送|发送|联系人|联系电话|[（(]此件|[（(]联系|[（(]信息公开)"
)
_NATIONAL_ISSUER = re.compile(
    r"^(?:国务院|中共中央|全国人民代表大会|国家|中华人民共和国|最高人民|中央)"
)
_SELF_MUNICIPAL = re.compile(r"全市|本市|我市|市政府|市委|市级有关部门")
_SELF_PROVINCIAL = re.compile(r"全省|本省|我省|省政府|省委|省级有关部门")
_SELF_COUNTY = re.compile(r"全区|本区|我区|区政府|全县|本县|我县|县政府")
_CONGRESS = re.compile(r"((?:[\u4e00-\u9fff]{2,12}?)?(?:全国)?人民代表大会常务委员会)")


@dataclass
class Metadata:
    """What the text says about the document, and which paragraphs said it."""

    title: str | None = None
    doc_number: str | None = None
    issuers: list[str] = field(default_factory=list)
    date: str | None = None
    status: str = "issued"
    consumed: set[int] = field(default_factory=set)


def infer(raw: RawDocument, items: list[Item]) -> tuple[Document, set[int]]:
    """The document's metadata, and the indices of items that are front matter or signature."""
    meta = Metadata()
    _read_front_matter(items, meta, raw.hints)
    _read_signature(items, meta)
    _read_hints(raw.hints, meta)
    sidecar = _read_sidecar(raw.path)
    title = tidy(sidecar.get("title") or meta.title or raw.path.stem)
    body = [
        it.text
        for i, it in enumerate(items)
        if isinstance(it, Paragraph) and i not in meta.consumed
    ]
    level, region = locate(title, meta.issuers, meta.doc_number, body, str(raw.path))
    document = Document(
        doc_id="",
        title=title,
        doc_number=meta.doc_number,
        issuers=meta.issuers,
        date=meta.date,
        level=level,
        region=region.display if region else None,
        status=meta.status,
        source=str(raw.path),
        content_hash=hashlib.sha256(raw.raw_bytes).hexdigest(),
    )
    _apply_sidecar(document, sidecar, raw.path)
    document.doc_id = sidecar.get("doc_id") or document_id(document)
    return document, meta.consumed


def document_id(document: Document) -> str:
    """Stable across re-ingestion: from the 文号, else title, region and date (not file content)."""
    key = document.doc_number or f"{document.title}|{document.region or ''}|{document.date or ''}"
    return hashlib.sha1(normalize_brackets(key).encode()).hexdigest()[:12]


def parse_date(text: str) -> str | None:
    """ISO date from 2023年 11月 1日 or 二〇二三年十一月一日."""
    match = _DATE.search(text)
    if match:
        return _iso(*(int(g) for g in match.groups()))
    match = _CN_DATE.search(text)
    if match:
        year = int("".join(str(_CN_DIGITS[c]) for c in match.group(1)))
        return _iso(year, _cn_small(match.group(2)), _cn_small(match.group(3)))
    return None


def all_dates(text: str) -> list[str]:
    """Every date in the text, in ISO form."""
    return [d for d in (_iso(*(int(g) for g in m.groups())) for m in _DATE.finditer(text)) if d]


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


def _is_date_line(text: str) -> bool:
    stripped = re.sub(r"\s", "", text)
    return bool(_DATE.fullmatch(stripped) or _CN_DATE.fullmatch(stripped))


def _paragraphs(items: list[Item]) -> list[tuple[int, str]]:
    return [(i, it.text) for i, it in enumerate(items) if isinstance(it, Paragraph)]


def _read_front_matter(items: list[Item], meta: Metadata, hints: dict) -> None:
    """文号 line, title lines and addressee at the top of the document."""
    paragraphs = _paragraphs(items)[:12]
    position = 0
    while position < len(paragraphs):
        index, text = paragraphs[position]
        if _is_marker(text):
            meta.consumed.add(index)
        elif _is_doc_number_line(text):
            meta.doc_number = meta.doc_number or _doc_number(text)
            meta.consumed.add(index)
        else:
            break
        position += 1
    if "title" not in hints:
        position = _read_title(paragraphs, position, meta)
    if position < len(paragraphs):
        index, text = paragraphs[position]
        if _is_doc_number_line(text.strip("（）()")):
            meta.doc_number = meta.doc_number or _doc_number(text)
            meta.consumed.add(index)
            position += 1
    if position < len(paragraphs):
        index, text = paragraphs[position]
        if _is_addressee(text):
            meta.consumed.add(index)


def _is_marker(text: str) -> bool:
    """附件1 above the title of a document that is itself an attachment; 密级 and 缓急 marks."""
    label = match_attachment(text)
    return bool(label and not label.rest) or text.strip() in {
        "特急",
        "加急",
        "平急",
        "公开",
        "内部",
    }


def _is_doc_number_line(text: str) -> bool:
    match = DOC_NUMBER.search(text)
    return bool(match) and len(text) - len(match.group(0)) <= 12 and "。" not in text


def _doc_number(text: str) -> str:
    return re.sub(r"\s", "", DOC_NUMBER.search(text).group(0))


def _read_title(paragraphs: list[tuple[int, str]], position: int, meta: Metadata) -> int:
    """Title lines: short, unpunctuated, ending on a document type such as 通知 or 方案."""
    parts: list[int] = []
    while position < len(paragraphs) and len(parts) < 4:
        text = paragraphs[position][1]
        if not _is_title_like(text):
            break
        parts.append(position)
        position += 1
        if _TITLE_END.search(normalize(text).rstrip()) and not _unbalanced(
            "".join(paragraphs[p][1] for p in parts)
        ):
            break
    else:
        if parts and not _TITLE_END.search(normalize(paragraphs[parts[-1]][1])):
            return parts[0] if parts else position  # no document type: not a title after all
    while position < len(paragraphs) and _PARENTHETICAL.match(normalize(paragraphs[position][1])):
        parts.append(position)
        position += 1
    if not parts:
        return position
    title = "".join(tidy(paragraphs[p][1]) for p in parts)
    if _DRAFT.search(title):
        meta.status = "draft"
    meta.title = _DRAFT_MARK.sub("", title).strip()
    meta.consumed.update(paragraphs[p][0] for p in parts)
    return position


def _is_title_like(text: str) -> bool:
    stripped = text.strip()
    return (
        0 < len(stripped) <= 60
        and not stripped.endswith(("。", "；", "：", ":", ";", "，", ","))
        and not match_label(stripped)
        and not _is_date_line(stripped)
        and "，" not in stripped
    )


def _unbalanced(text: str) -> bool:
    return text.count("《") != text.count("》") or text.count("（") != text.count("）")


def _is_addressee(text: str) -> bool:
    stripped = text.strip()
    return (
        stripped.endswith(("：", ":"))
        and len(stripped) <= 150
        and not match_label(stripped)
        and ("各" in stripped or _ORG_SUFFIX.search(stripped.rstrip("：:")) is not None)
    )


def _read_signature(items: list[Item], meta: Metadata) -> None:
    """Issuers set in columns above a date line, and the colophon (抄送, 印发) below."""
    paragraphs = _paragraphs(items)
    for position, (index, text) in enumerate(paragraphs):
        if _COLOPHON.match(text.strip()) or _is_print_line(text):
            meta.consumed.add(index)
            meta.date = meta.date or parse_date(text)
            continue
        if not _is_date_line(text) or meta.issuers:
            continue
        names: list[str] = []
        back = position - 1
        while back >= 0 and _org_names(paragraphs[back][1]):
            names = _org_names(paragraphs[back][1]) + names
            back -= 1
        if names or position >= len(paragraphs) - 3:
            meta.consumed.update(paragraphs[p][0] for p in range(back + 1, position + 1))
            meta.issuers = names
            meta.date = parse_date(text)


def _is_print_line(text: str) -> bool:
    """重庆市发展和改革委员会办公室 2023年 11月 1日印发."""
    return bool(re.search(r"日\s*印发$", text.strip())) and len(text) <= 60


def _org_names(text: str) -> list[str]:
    """The names on a signature line, or [] when the line is not just names."""
    words = text.split()
    if not words or any(
        len(w) > 30 or not _ORG_SUFFIX.search(w) or re.search(r"[，。；：,;:]", w) for w in words
    ):
        return []
    return words


def _read_hints(hints: dict, meta: Metadata) -> None:
    """LawRefBook event lines and titles given by the file format."""
    if "title" in hints:
        title = str(hints["title"])
        meta.status = "draft" if _DRAFT.search(title) else meta.status
        meta.title = _DRAFT_MARK.sub("", title).strip()
    events = [str(e) for e in hints.get("events", [])]
    dated = [(d, e) for e in events for d in all_dates(e)]
    adopted = [
        (d, e) for d, e in dated if "施行" not in e
    ]  # the date it took effect is not its date
    if dated and not meta.date:
        meta.date = max(adopted or dated)[0]
    if events and not meta.issuers:
        for _, event in sorted(dated, reverse=True) or [(None, e) for e in events]:
            congress = _CONGRESS.search(re.sub(r"第[一二三四五六七八九十]+届", "", event))
            if congress:
                meta.issuers = [congress.group(1)]
                break
            if "国务院令" in event or "国务院" in event:
                meta.issuers = ["国务院"]
                break
    if meta.title and not meta.issuers:
        prefix = re.match(r"^(.{2,30}?)关于", meta.title)
        if prefix and _ORG_SUFFIX.search(prefix.group(1)):
            meta.issuers = re.split(r"[、，,]", prefix.group(1))


def locate(
    title: str, issuers: list[str], doc_number: str | None, body: list[str], source: str = ""
) -> tuple[Level, Region | None]:
    """Level and region: from the title, the issuers, the 文号, then the body's own words."""
    for text in [_outside_citations(title), *issuers]:
        region = _first_region(text)
        if region:
            return region.level, region
    if issuers and all(_NATIONAL_ISSUER.match(i) or not find_places(i) for i in issuers):
        return Level.NATIONAL, None
    if doc_number and doc_number[0] in PROVINCE_ABBREVIATIONS:
        region = lookup(PROVINCE_ABBREVIATIONS[doc_number[0]])[0]
        return region.level, region
    return _locate_by_body(body)


def _outside_citations(text: str) -> str:
    return re.sub(r"《[^》]*》", "", text)


def _first_region(text: str) -> Region | None:
    mentions = find_places(text)
    for mention in mentions:
        if mention.is_full_name or mention.start == 0:
            return resolve(mention, mentions)
    return None


def _locate_by_body(body: list[str]) -> tuple[Level, Region | None]:
    """The most-named region of the level the text speaks of itself as (我市, 全省)."""
    text = _outside_citations("\n".join(body))
    mentions = [m for m in find_places(text) if m.is_full_name or len(m.text) >= 2]
    for pattern, level in (
        (_SELF_COUNTY, Level.COUNTY),
        (_SELF_MUNICIPAL, Level.MUNICIPAL),
        (_SELF_PROVINCIAL, Level.PROVINCIAL),
    ):
        if not pattern.search(text):
            continue
        counts: dict[Region, int] = {}
        for mention in mentions:
            region = resolve(mention, mentions)
            if region.level is level:
                counts[region] = counts.get(region, 0) + 1
        if counts:
            region = max(counts, key=counts.get)
            return region.level, region
    return Level.NATIONAL, None


def _read_sidecar(path: Path) -> dict:
    sidecar = path.with_name(path.stem + ".meta.json")
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IngestError(sidecar, f"invalid sidecar JSON: {error}") from error
    if not isinstance(data, dict):
        raise IngestError(sidecar, "sidecar must hold a JSON object")
    return data


SIDECAR_FIELDS = {"title", "doc_number", "issuers", "date", "level", "region", "status"}


def _apply_sidecar(document: Document, sidecar: dict, path: Path) -> None:
    unknown = set(sidecar) - SIDECAR_FIELDS - {"doc_id"}
    if unknown:
        raise IngestError(
            path.with_name(path.stem + ".meta.json"), f"unknown field(s) {sorted(unknown)}"
        )
    for key in SIDECAR_FIELDS & set(sidecar):
        value = sidecar[key]
        if key == "level":
            try:
                value = Level(value)
            except ValueError as error:
                raise IngestError(
                    path, f"sidecar level {value!r} is not one of {[m.value for m in Level]}"
                ) from error
        setattr(document, key, value)
