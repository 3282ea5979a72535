"""The layout of a Chinese official document (GB/T 9704), read from its paragraphs.

Front: 份号, 密级 and 缓急 marks, the 发文机关标志 (…文件, joint issuers stacked beside one
文件, or …令 for a government order), the 发文字号 and 签发人, the title wrapped over lines, a
note under it (the 文号 in brackets, or how a 规章 was promulgated), the 主送机关. End: the 署名
(issuers set in columns, or an official's name under an order) over the 成文日期, the 附注
(（此件公开发布）) and the 版记 (抄送, 印发机关 and 印发日期). Lines that collectors add
(北大法宝's 法宝引证码 and 原文链接) are wrappers: skipped, never the title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.cleaning import Item, Paragraph
from ingest.dates import DATE, is_date_line, parse_date
from ingest.numbering import match_attachment, match_label
from ingest.text import normalize, tidy

DOC_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{1,12}\s*[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*第?\s*\d{1,5}\s*号"
)
_DOC_TYPES = (
    "通知|通报|方案|意见|办法|规定|计划|措施|决定|条例|细则|纲要|规划|规则|报告|公告|通告|批复|"
    "函|决议|指南|清单|目录|标准|要点|法|守则|章程|制度|解释|答复|复函|行动|指引|基准表|基准|表"
)
TITLE_END = re.compile(rf"(?:{_DOC_TYPES})(?:[（(][^）)]{{1,30}}[）)])*$")
_DRAFT_MARKS = "征求意见稿|讨论稿|送审稿|意见征求稿"
DRAFT = re.compile(rf"{_DRAFT_MARKS}|草案")
_DRAFT_MARK = re.compile(rf"[（(]\s*(?:{_DRAFT_MARKS})\s*[）)]")
ORG_SUFFIX = re.compile(
    r"(?:委员会|委|局|厅|部|办公室|办|政府|分行|支行|银行|中心|总局|院|会|署|行|公司|集团|大学|管委会|处|所)$"
)
_PARENTHETICAL = re.compile(r"^[（(][^（）()]{1,40}[）)]$")
_WRAPPER = re.compile(
    r"^(?:【法宝引证码】|(?:原文链接|发布日期|发布机构|分类|来源|检索时间|检索关键词)\s*[：:]|政策全文$|全文$)"
)
_MARKS = {"特急", "加急", "平急", "公开", "内部", "秘密", "机密", "绝密", "★"}
_SERIAL = re.compile(r"^\d{6}$")  # 份号
# 规范性文件 registration codes printed above the red header: CSCR-2022-87001, ZJSP01-2019-0003.
_REGISTRATION = re.compile(r"^[A-Z]{2,}[A-Z0-9]*[-－—]?(?:19|20)\d{2}[-－—]\d{1,6}$")
_SIGNER = re.compile(r"^签发人[：:]")
_ORDER_MARK = re.compile(r"^(?P<issuer>\S{2,40}?)令$")
_ORDER_NUMBER = re.compile(r"^[（(]?\s*第\s*(?P<n>[\d一二三四五六七八九十百零〇]+)\s*号\s*[）)]?$")
_BODY_START = re.compile(r"^(?:为|根据|按照|依据|现将|现就|经|近年来|当前|各)")
_NOTE_EVENT = re.compile(rf"(?P<date>{DATE.pattern})(?P<body>.*?)(?:公布|发布|通过|批准|印发)")
_ORDER_IN_NOTE = re.compile(r"^(?P<issuer>.+?)(?:第\d+号令|令第\d+号)$")
_MEETING = re.compile(r"第[一二三四五六七八九十百\d]+次(?:常务)?会议$")
_OFFICIAL = re.compile(
    r"^(?:代理)?(?:总理|主席|委员长|省长|自治区主席|市长|州长|区长|县长|主任|局长|部长|厅长)\s*\S{2,4}$"
)
_COLOPHON = re.compile(
    r"^(?:抄送|抄报|主送|分送|发送|联系人|联系电话|[（(]此件|[（(]联系|[（(]信息公开|[（(]本文有删减)"
)
_SEAL = re.compile(r"^[（(](?:印章|盖章|公章)[）)]$")
_FRONT_LIMIT = 24
_MAX_TITLE_LINE = 120


@dataclass
class Layout:
    """What the layout says, and which items said it (the body is everything else)."""

    title: str | None = None
    title_as_written: str | None = None  # spaces kept: they part joint issuers (甲 乙关于…)
    doc_number: str | None = None
    issuers: list[str] = field(default_factory=list)  # 署名 over the 成文日期
    header_issuers: list[str] = field(default_factory=list)  # 发文机关标志, a 规章's note
    date: str | None = None
    print_date: str | None = None  # 印发日期 of the 版记
    consumed: set[int] = field(default_factory=set)


def read_layout(items: list[Item], read_title: bool = True) -> Layout:
    """Front matter and signature of a document; ``read_title`` is False when the format
    already gave an authoritative title."""
    layout = Layout()
    _read_front(_front_paragraphs(items), layout, read_title)
    _read_end(_paragraphs(items), layout)
    return layout


def _paragraphs(items: list[Item]) -> list[tuple[int, str]]:
    """(index, text) of each paragraph, spaces kept: they separate names set in columns."""
    return [(i, it.text.strip()) for i, it in enumerate(items) if isinstance(it, Paragraph)]


def _front_paragraphs(items: list[Item]) -> list[tuple[int, str]]:
    """Paragraphs before the first table: front matter never runs on past one."""
    front = []
    for index, item in enumerate(items[: _FRONT_LIMIT * 2]):
        if not isinstance(item, Paragraph):
            break
        front.append((index, item.text.strip()))
    return front[:_FRONT_LIMIT]


def _read_front(paragraphs: list[tuple[int, str]], layout: Layout, read_title: bool) -> None:
    """Walk the front lines while each is a part of the front matter; stop at the body."""
    position, order = 0, None
    while position < len(paragraphs):
        text = tidy(paragraphs[position][1])
        taken = 1
        if not text or _WRAPPER.match(text) or _is_marker(text) or _SIGNER.match(text):
            pass
        elif order and (number := _ORDER_NUMBER.match(text)):
            layout.doc_number = layout.doc_number or f"{order}令第{number['n']}号"
        elif _is_doc_number_line(text):
            layout.doc_number = layout.doc_number or doc_number_in(text)
        elif mark := _issuer_mark(paragraphs, position):
            names, taken = mark
            layout.header_issuers = layout.header_issuers or names
        elif order_mark := _order_mark(text):
            order, number = order_mark
            layout.header_issuers = layout.header_issuers or [order]
            if number:
                layout.doc_number = layout.doc_number or f"{order}令第{number}号"
        elif layout.title and key(text) == key(layout.title):
            pass  # the title given twice (北大法宝 exports, pages repeating their headline)
        elif layout.title and _is_note(text):
            _read_note(text, layout)
        elif read_title and not layout.title and (run := title_run(paragraphs, position)):
            layout.title, taken = run
            lines = paragraphs[position : position + taken]
            layout.title_as_written = " ".join(" ".join(raw.split()) for _, raw in lines)
        elif _is_addressee(text):
            layout.consumed.add(paragraphs[position][0])
            return
        else:
            return
        layout.consumed.update(index for index, _ in paragraphs[position : position + taken])
        position += taken


def key(text: str) -> str:
    """Two spellings of one title compare equal on this form."""
    return re.sub(r"\s", "", normalize(text))


def _is_marker(text: str) -> bool:
    """附件1 above the title of an attachment; 份号, 密级 and 缓急 marks; registration codes."""
    label = match_attachment(text)
    return (
        bool(label and not label.rest)
        or text in _MARKS
        or bool(_SERIAL.match(text) or _REGISTRATION.match(text))
    )


def _is_doc_number_line(text: str) -> bool:
    """A line that is a 文号, maybe in brackets or beside the 签发人."""
    text = re.sub(r"签发人[：:].*$", "", text).strip().strip("（）()")
    match = DOC_NUMBER.search(text)
    return bool(match) and len(text) - len(match.group(0)) <= 12 and "。" not in text


def doc_number_in(text: str) -> str | None:
    """The first 文号 in the text, without its spaces."""
    match = DOC_NUMBER.search(text)
    return re.sub(r"\s", "", match.group(0)) if match else None


def org_names(text: str) -> list[str]:
    """The names on a line that holds only names of organisations, else []."""
    words = _words(text)
    if not words or any(
        len(w) > 40 or not ORG_SUFFIX.search(w) or re.search(r"[，。；：,;:]", w) for w in words
    ):
        return []
    return words


def _words(text: str) -> list[str]:
    """Names set in columns; a letter-spaced name (重   庆   市   公   安   局) is one word."""
    parts = text.split()
    if parts and max(map(len, parts)) == 1:
        return ["".join(parts)]
    words = []
    for group in re.split(r"\s{2,}|\u3000+", text.strip()):
        parts = group.split()
        words += ["".join(parts)] if parts and max(map(len, parts)) <= 2 else parts
    return words


def _issuer_mark(paragraphs: list[tuple[int, str]], position: int) -> tuple[list[str], int] | None:
    """发文机关标志: names ending in 文件, a run of stacked names with one 文件 among them, or
    names stacked over the title."""
    names: list[str] = []
    has_mark = False
    end = position
    while end < len(paragraphs):
        text = paragraphs[end][1]
        bare = re.sub(r"\s*文\s*件$", "", text)
        has_mark = has_mark or bare != text
        if bare == "":
            end += 1
            continue
        line_names = org_names(bare)
        if not line_names:
            break
        names += line_names
        end += 1
    if not names:
        return None
    if has_mark:
        return names, end - position
    lines = end - position  # one line of names may open a wrapped title: 甲 / 关于…的通知
    if (lines > 1 or title_run(paragraphs, position) is None) and _opens_document(paragraphs, end):
        return names, lines
    return None


def issuer_mark_in(lines: list[str]) -> list[str]:
    """The names of the first 发文机关标志 among lines read apart from the text (OCR of a red
    header drawn as graphics), else []."""
    paragraphs = [(i, tidy(line)) for i, line in enumerate(lines)]
    for position in range(len(paragraphs)):
        if mark := _issuer_mark(paragraphs, position):
            return mark[0]
    return []


def _opens_document(paragraphs: list[tuple[int, str]], position: int) -> bool:
    """A title or a 文号 follows: the names above were the 发文机关标志, set without 文件."""
    if position >= len(paragraphs):
        return False
    text = tidy(paragraphs[position][1])
    return _is_doc_number_line(text) or title_run(paragraphs, position) is not None


def _order_mark(text: str) -> tuple[str, str | None] | None:
    """…人民政府令, maybe with its number on the same line: (issuer, number)."""
    match = re.match(r"^(?P<mark>\S{2,40}?令)\s*(?P<rest>.*)$", text)
    if not match:
        return None
    issuer = match["mark"][:-1]
    if not ORG_SUFFIX.search(issuer) and not issuer.endswith("国务院"):
        return None
    rest = match["rest"]
    number = _ORDER_NUMBER.match(rest) if rest else None
    if rest and not number:
        return None
    return issuer, number["n"] if number else None


def title_run(paragraphs: list[tuple[int, str]], position: int) -> tuple[str, int] | None:
    """The title wrapped over up to five lines: the longest balanced run of short lines that
    ends on a document type (通知, 方案…), with its bracketed marks (（试行）, （征求意见稿）)."""
    lines: list[str] = []
    for _, raw in paragraphs[position : position + 5]:
        text = tidy(raw)
        if not _is_title_like(text) or (lines and key(text) == key("".join(lines))):
            break
        lines.append(text)
    best = 0
    for count in range(1, len(lines) + 1):
        joined = normalize("".join(lines[:count]))
        if TITLE_END.search(joined) and not _unbalanced(joined):
            best = count
    if not best:
        return None
    while (
        position + best < len(paragraphs)
        and _PARENTHETICAL.match(normalize(paragraphs[position + best][1]))
        and not _is_note(paragraphs[position + best][1])
    ):
        lines.append(tidy(paragraphs[position + best][1]))
        best += 1
    return "".join(lines[:best]), best


def _is_title_like(text: str) -> bool:
    return (
        0 < len(text) <= _MAX_TITLE_LINE
        and not text.endswith(("。", "；", "：", ":", ";", "，", ","))
        and not match_label(text)
        and not is_date_line(text)
        and "，" not in text
        and not _BODY_START.match(text)
    )


def _unbalanced(text: str) -> bool:
    return text.count("《") != text.count("》") or text.count("（") != text.count("）")


def _is_note(text: str) -> bool:
    """A bracketed line under the title that tells how the document was made: a date in it."""
    text = normalize(text)
    return text.startswith("(") and text.endswith(")") and bool(DATE.search(text))


def _read_note(text: str, layout: Layout) -> None:
    """（2023年12月15日北京市人民政府第312号令公布 自…起施行）: date, issuer and order number."""
    layout.date = layout.date or parse_date(text)
    event = _NOTE_EVENT.search(normalize(text))
    if not event:
        return
    body = event["body"].strip()
    order = _ORDER_IN_NOTE.match(body)
    if order:
        layout.doc_number = layout.doc_number or body
        layout.header_issuers = layout.header_issuers or [order["issuer"]]
    elif _MEETING.search(body):
        issuer = _MEETING.sub("", body)
        layout.header_issuers = layout.header_issuers or ([issuer] if issuer else [])


def _is_addressee(text: str) -> bool:
    return (
        text.endswith(("：", ":"))
        and len(text) <= 150
        and not match_label(text)
        and ("各" in text or ORG_SUFFIX.search(text.rstrip("：:")) is not None)
    )


def _read_end(paragraphs: list[tuple[int, str]], layout: Layout) -> None:
    """Every signature (names or an official over a date) and the 版记 lines."""
    for position, (index, raw) in enumerate(paragraphs):
        text = tidy(raw)
        if _COLOPHON.match(text) or _is_print_line(text):
            layout.consumed.add(index)
            layout.print_date = layout.print_date or parse_date(text)
            continue
        if _is_attached_number(text):
            layout.consumed.add(index)
            layout.doc_number = layout.doc_number or doc_number_in(text)
            continue
        if not is_date_line(text) or index in layout.consumed:
            continue
        names, first = _signers_above(paragraphs, position)
        layout.consumed.update(paragraphs[p][0] for p in range(first, position + 1))
        if layout.date is None:
            layout.date = parse_date(text)
            layout.issuers = names
    if layout.date is None and layout.print_date:
        layout.date = layout.print_date


def _signers_above(paragraphs: list[tuple[int, str]], position: int) -> tuple[list[str], int]:
    """Names of organisations (or an official's title and name) right above a date line."""
    names: list[str] = []
    back = position - 1
    while back >= 0 and _SEAL.match(tidy(paragraphs[back][1])):
        back -= 1
    if back >= 0 and _OFFICIAL.match(paragraphs[back][1]):
        return [], back
    while back >= 0 and org_names(paragraphs[back][1]):
        names = org_names(paragraphs[back][1]) + names
        back -= 1
    return names, back + 1


def _is_attached_number(text: str) -> bool:
    """A file named by its 文号 alone (市政办发〔2022〕167号.pdf), as pages link the original."""
    return bool(re.fullmatch(rf"(?:{DOC_NUMBER.pattern})(?:\.\w{{2,4}})?", text))


def _is_print_line(text: str) -> bool:
    """重庆市发展和改革委员会办公室 2023年 11月 1日印发."""
    return bool(re.search(r"日\s*印发$", text)) and len(text) <= 60


def is_draft(title: str) -> bool:
    return bool(DRAFT.search(title))


def without_draft_mark(title: str) -> str:
    """The title with its bracketed draft mark (（征求意见稿）) taken out."""
    return _DRAFT_MARK.sub("", title).strip()
