"""Document metadata inferred from the text: title, 文号, issuers, date, level, region, status.

The front matter (文号 line, title lines, addressee) and the signature block (issuers over a
date) are found here and handed back as consumed, so the clause tree holds only the body.
A sidecar NAME.meta.json beside the file may override or complete any field.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ingest.cleaning import Item, Paragraph
from ingest.dates import DATE, all_dates, checked_date, parse_date
from ingest.layout import (
    DOC_NUMBER,
    ORG_SUFFIX,
    Layout,
    doc_number_in,
    is_draft,
    issuer_mark_in,
    read_layout,
    without_draft_mark,
)
from ingest.models import Document, Level
from ingest.readers.base import IngestError, RawDocument
from ingest.regions import PROVINCE_ABBREVIATIONS, Region, find_places, lookup, resolve
from ingest.text import normalize_brackets, tidy
from ingest.validity import SIDECAR_FIELDS as VALIDITY_FIELDS
from ingest.validity import read_validity

_CONGRESS = re.compile(
    r"((?:第[一二三四五六七八九十]+届)?(?:[\u4e00-\u9fff]{2,12}?)?(?:全国)?人民代表大会(?:常务委员会)?)"
)
_ORDER_EVENT = re.compile(r"(?P<issuers>[^\s\d]{2,60}?)令(?P<number>第\d+号)")
_EVENT_START = re.compile(r"(?=(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")
_ZONE = re.compile(
    r"[\u4e00-\u9fff]{0,8}?(?:经济技术开发区|高新技术产业开发区|经济开发区|高新区|开发区|保税区|新区)"
)
_TRAILING_NUMBER = re.compile(rf"\s*[（(](?:{DOC_NUMBER.pattern})[）)]$")
_JOINT = re.compile(r"[、，,\s]+")
_NATIONAL_ISSUER = re.compile(
    r"^(?:国务院|中共中央|全国人民代表大会|国家|中华人民共和国|最高人民|中央)"
)
_SELF_MUNICIPAL = re.compile(r"全市|本市|我市|市政府|市委|市级有关部门")
_SELF_PROVINCIAL = re.compile(r"全省|本省|我省|省政府|省委|省级有关部门")
_SELF_COUNTY = re.compile(r"全区|本区|我区|区政府|全县|本县|我县|县政府")


def infer(raw: RawDocument, items: list[Item]) -> tuple[Document, set[int]]:
    """The document's metadata, and the indices of items that are front matter or signature."""
    hints = raw.hints
    layout = read_layout(items, read_title="title" not in hints)
    table = _metadata_table(hints)
    sidecar = _read_sidecar(raw.path)
    title = _title(hints, table, layout) or raw.path.stem
    as_written = layout.title_as_written if title == layout.title else title
    issuers = _issuers(hints, table, layout, as_written or title) or _drawn_issuers(raw)
    doc_number = table.get("doc_number") or layout.doc_number or _event_number(hints)
    body = [
        it.text
        for i, it in enumerate(items)
        if isinstance(it, Paragraph) and i not in layout.consumed
    ]
    site = " ".join(str(hints.get(k) or "") for k in ("page_title", "site"))
    level, region = locate(title, issuers, doc_number, body, site)
    document = Document(
        doc_id="",
        title=title,
        doc_number=doc_number,
        issuers=issuers,
        date=layout.date or table.get("date") or _event_date(hints),
        level=level,
        region=region.display if region else None,
        status="draft" if is_draft(title) else "issued",
        source=str(raw.path),
        content_hash=hashlib.sha256(raw.raw_bytes).hexdigest(),
        extraction="ocr" if hints.get("ocr") else "text",
    )
    _apply_sidecar(document, sidecar, raw.path)
    document.validity = read_validity(
        document.title, body, document.date, hints, sidecar, sidecar_path(raw.path)
    )
    part = "".join(hints.get("subtitles") or [])  # one file per 编 of a code: 民法典/合同编.md
    document.doc_id = sidecar_doc_id(sidecar, raw.path) or document_id(document, part)
    return document, layout.consumed


def document_id(document: Document, part: str = "") -> str:
    """Stable across re-ingestion: from the 文号, else title (without a draft mark), region and
    date (not file content); ``part`` tells apart the files of one code published part by part."""
    title = without_draft_mark(document.title)
    key = document.doc_number or f"{title}|{document.region or ''}|{document.date or ''}"
    key += f"|{part}" if part else ""
    return hashlib.sha1(normalize_brackets(key).encode()).hexdigest()[:12]


def _metadata_table(hints: dict) -> dict[str, object]:
    """A web page's own metadata table (发文字号, 成文日期…), in the fields of a Document."""
    table = {k: tidy(str(v)) for k, v in dict(hints.get("metadata_table") or {}).items() if v}
    fields: dict[str, object] = {}
    if table.get("title"):
        fields["title"] = table["title"]
    if doc_number_in(table.get("doc_number", "")):
        fields["doc_number"] = doc_number_in(table["doc_number"])
    elif table.get("doc_number") and "号" in table["doc_number"]:
        fields["doc_number"] = re.sub(r"\s", "", table["doc_number"])
    if parse_date(table.get("date", "")):
        fields["date"] = parse_date(table["date"])
    names = [n for n in _JOINT.split(table.get("issuers", "")) if n]
    if names and all(find_places(n) or _NATIONAL_ISSUER.match(n) for n in names):
        fields["issuers"] = names  # 政府办公室 with no place is the site's own label
    if ORG_SUFFIX.search(table.get("source", "")) and find_places(table["source"]):
        fields["source"] = table["source"]
    return fields


def _title(hints: dict, table: dict, layout: Layout) -> str | None:
    """The format's own title, the page's metadata and headline, the layout, the page title."""
    for candidate in (
        hints.get("title"),
        table.get("title"),
        hints.get("headline"),
        layout.title,
        hints.get("page_title"),
    ):
        if candidate and str(candidate).strip():
            return _TRAILING_NUMBER.sub("", tidy(str(candidate)))
    return None


def _issuers(hints: dict, table: dict, layout: Layout, title: str) -> list[str]:
    """Signature, 版头, the page's metadata, the format's event lines, then the title; the
    page's metadata first where it names the same issuers."""
    if _same_bodies(table.get("issuers"), layout.issuers or layout.header_issuers):
        return table["issuers"]  # 国务院 in the page's table, 中华人民共和国国务院令 in the text
    for names in (
        layout.issuers,
        layout.header_issuers,
        table.get("issuers"),
        _event_issuers(hints),
    ):
        if names:
            return list(dict.fromkeys(names))
    return [_full_name(n, table.get("source")) for n in _issuers_in_title(title)]


def _drawn_issuers(raw: RawDocument) -> list[str]:
    """The 发文机关标志 OCR reads in the header band, for a document whose text names no
    issuer (a red header drawn as graphics): only then, as it costs OCR of part of a page."""
    return issuer_mark_in(raw.header_lines()) if raw.header_lines else []


def _same_bodies(catalogued: list[str] | None, written: list[str]) -> bool:
    """Whether a page's metadata names the issuers the text writes, in its own (short) form."""
    return (
        bool(catalogued and written)
        and len(catalogued) == len(written)
        and all(short in long for short, long in zip(catalogued, written, strict=True))
    )


def _full_name(name: str, source: str | None) -> str:
    """市规划资源局 on a page whose source is 天津市规划和自然资源局: the full name."""
    if not source or not re.match(r"^[省市区县州]", name):
        return name
    rest = iter(source)
    return source if all(ch in rest for ch in name[1:]) else name


def _issuers_in_title(title: str) -> list[str]:
    """国家发展改革委 财政部关于… and 中共X办公厅 X办公厅印发…: the names before 关于/印发."""
    prefix = re.match(r"^(.{2,80}?)(?:关于|印发)", title)
    if not prefix:
        return []
    names = [n for n in _JOINT.split(re.sub(r"等\d+个?部门$", "", prefix.group(1))) if n]
    return names if names and all(ORG_SUFFIX.search(n) for n in names) else []


def _dated_events(hints: dict) -> list[tuple[str, str]]:
    """(date, event) for each dated event; a line may hold several events, each opening on
    its date."""
    lines = [str(e) for e in hints.get("events", [])]
    events = [part for line in lines for part in _EVENT_START.split(line) if part.strip()]
    return [(dates[0], e) for e in events if (dates := all_dates(e))]


def _version_events(hints: dict) -> list[tuple[str, str]]:
    """The dated events that reach the version the file holds: none when its name dates a
    later version (1999 发布, 2002 修订 over the text of 2019: its date and 令 are unknown)."""
    dated = _dated_events(hints)
    version = str(hints.get("version") or "")
    return [] if version and all(d[:4] < version[:4] for d, _ in dated) else dated


def _event_date(hints: dict) -> str | None:
    """LawRefBook event lines: the latest date it was adopted or amended (not when in force);
    else the version date its file name gives (…(2019-03-24).md)."""
    dated = _version_events(hints)
    adopted = [(d, e) for d, e in dated if "施行" not in e]
    if dated:
        return max(adopted or dated)[0]
    version = str(hints.get("version") or "")
    return version if len(version) == len("2019-03-24") else None


def _event_number(hints: dict) -> str | None:
    """中华人民共和国国务院令第639号公布: the order number of a single issuer, when the
    version's own (latest) adoption carries it. A revision by a 决定 has no number of its own:
    the first version's would make every version one document (one 文号, one doc_id)."""
    adopted = [(d, e) for d, e in _version_events(hints) if "施行" not in e]
    latest = max((d for d, _ in adopted), default=None)
    for _, event in sorted(e for e in adopted if e[0] == latest):
        order = _ORDER_EVENT.search(event)
        if order and not re.search(r"[、，,]", order["issuers"]):
            return f"{order['issuers']}令{order['number']}"
    return None


def _event_issuers(hints: dict) -> list[str]:
    """Who adopted the latest version: a congress's standing committee, or the orderers."""
    for _, event in sorted(_dated_events(hints), reverse=True):
        event = DATE.sub("", re.sub(r"《[^》]*》", "", event))  # a decision's title names no one
        order = _ORDER_EVENT.search(event)
        if order:
            return [n for n in _JOINT.split(order["issuers"]) if n]
        congress = _CONGRESS.search(re.sub(r"第[一二三四五六七八九十]+次会议.*$", "", event))
        if congress:
            return [congress.group(1)]
        if "国务院" in event:
            return ["国务院"]
    return []


def locate(
    title: str, issuers: list[str], doc_number: str | None, body: list[str], site: str = ""
) -> tuple[Level, Region | None]:
    """Level and region: from the title, the issuers, the publishing site's name (a web page's
    title or source), the 文号, then the body's own words."""
    for text in [_outside_citations(title), *issuers]:
        region = _first_region(text)
        if region:
            return region.level, region
    if issuers and all(_NATIONAL_ISSUER.match(i) or not find_places(i) for i in issuers):
        return Level.NATIONAL, None
    region = _first_region(_outside_citations(site)) if site else None
    if region:
        return region.level, region
    if doc_number and doc_number[0] in PROVINCE_ABBREVIATIONS:
        region = lookup(PROVINCE_ABBREVIATIONS[doc_number[0]])[0]
        return region.level, region
    return _locate_by_body(body)


def _outside_citations(text: str) -> str:
    return re.sub(r"《[^》]*》", "", text)


def _first_region(text: str) -> Region | None:
    """The region a name opens with, down to the most specific one written right after it
    (三明市沙县区 → 沙县区), or a development zone named after it (北京经济技术开发区)."""
    mentions = find_places(text)
    for position, mention in enumerate(mentions):
        if mention.is_full_name or mention.start == 0:
            region = resolve(mention, mentions)
            end = mention.start + len(mention.text)
            for child in mentions[position + 1 :]:
                inner = resolve(child, mentions)
                if child.start != end or not _within(inner, region):
                    break
                region, end = inner, child.start + len(child.text)
            return _zone(text, end, region) or region
    return None


def _within(inner: Region, outer: Region) -> bool:
    return inner.level is not outer.level and outer.name in (inner.province, inner.city)


def _zone(text: str, end: int, region: Region) -> Region | None:
    """A development zone written right after its region: a county-level area of its own."""
    zone = _ZONE.match(text, end)
    if not zone or region.level is Level.COUNTY:
        return None
    city = region.name if region.level is Level.MUNICIPAL else None
    name = text[: zone.end()]
    return Region(name, Level.COUNTY, region.province, city) if len(name) <= 20 else None


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
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IngestError(sidecar, f"invalid sidecar JSON: {error}") from error
    if not isinstance(data, dict):
        raise IngestError(sidecar, "sidecar must hold a JSON object")
    return data


def sidecar_path(path: Path) -> Path:
    """Where a document's sidecar lives: NAME.meta.json beside NAME.txt."""
    return path.with_name(path.stem + ".meta.json")


SIDECAR_FIELDS = {"title", "doc_number", "issuers", "date", "level", "region", "status"}
_STATUSES = ("issued", "draft")
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_SIDECAR_TEXT = 500  # characters of one text field: a title is far shorter


def _apply_sidecar(document: Document, sidecar: dict, path: Path) -> None:
    """Put the sidecar's fields on the document; a field of the wrong kind is an IngestError."""
    unknown = set(sidecar) - SIDECAR_FIELDS - VALIDITY_FIELDS - {"doc_id"}
    if unknown:
        raise IngestError(sidecar_path(path), f"unknown field(s) {sorted(unknown)}")
    for key in sorted(SIDECAR_FIELDS & set(sidecar)):
        try:
            value = _sidecar_value(key, sidecar[key])
        except ValueError as error:
            raise IngestError(sidecar_path(path), f"field {key!r}: {error}") from None
        setattr(document, key, value)
    if sidecar:  # a changed sidecar is a changed document: re-ingest must see it
        extra = json.dumps(sidecar, sort_keys=True, ensure_ascii=False).encode()
        document.content_hash = hashlib.sha256(document.content_hash.encode() + extra).hexdigest()


def declared_doc_id(path: Path) -> str | None:
    """The doc_id the file's sidecar names, if it names a valid one: the file claims to be a
    version of that document."""
    try:
        return sidecar_doc_id(_read_sidecar(path), path)
    except IngestError:
        return None


def sidecar_doc_id(sidecar: dict, path: Path) -> str | None:
    """The sidecar's doc_id, if it gives one: letters, digits, - _ . (it appears in URLs)."""
    if "doc_id" not in sidecar:
        return None
    value = sidecar["doc_id"]
    if not isinstance(value, str) or not _DOC_ID.fullmatch(value):
        reason = (f"{value!r} is not an id of 1 to 64 letters, digits, '-', '_' or '.'"
                  " (starting with a letter or digit)")  # fmt: skip
        raise IngestError(sidecar_path(path), f"field 'doc_id': {reason}")
    return value


def _sidecar_value(key: str, value: object) -> object:
    """A sidecar field's value as the Document holds it; ValueError says what is wrong."""
    if key == "level":
        if not isinstance(value, str) or value not in {m.value for m in Level}:
            raise ValueError(f"{value!r} is not one of {[m.value for m in Level]}")
        return Level(value)
    if key == "issuers":
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f"must be a list of names, not {_kind(value)}")
        return [_text(v) for v in value]
    if key == "date":
        return None if value is None else checked_date(_text(value))
    if key == "status":
        if not isinstance(value, str) or value not in _STATUSES:
            raise ValueError(f"{value!r} is not one of {list(_STATUSES)}")
        return value
    if value is None and key in ("doc_number", "region"):
        return None
    return _text(value)


def _text(value: object) -> str:
    """A non-empty string of sensible length, else ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {_kind(value)}")
    if not value.strip():
        raise ValueError("is empty")
    if len(value) > MAX_SIDECAR_TEXT:
        raise ValueError(f"{len(value)} characters, over the limit of {MAX_SIDECAR_TEXT}")
    return value.strip()


def _kind(value: object) -> str:
    """How a JSON value reads in an error: a number, a list, an object…"""
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list",
             dict: "an object", str: "text", type(None): "null"}  # fmt: skip
    shown = json.dumps(value, ensure_ascii=False)[:40]
    return f"{names.get(type(value), type(value).__name__)} ({shown})"
