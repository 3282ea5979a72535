"""HTML pages (.html, .htm, .shtml, .xhtml) with lxml: the policy text of a government page.

A government page wraps the document in navigation, search boxes, share bars, a metadata
block (索引号/发文字号/成文日期…), related links and a footer listing every ministry. The
reader keeps only the element that holds the document: the smallest element holding most of
the page's Chinese text outside links (the boilerplate-removal idea), so it needs no list of
ids. Inline markup (span, font, b, a) is joined without spaces, block markup (p, div, li, br)
makes lines; data tables become TableBlocks, layout tables are read through.

Hints (all optional; readers of them must treat them as evidence, not truth):

- ``metadata_table``: the page's metadata block as raw strings, whitespace removed — keys
  ``title``, ``doc_number``, ``issuers``, ``joint_issuers``, ``date`` (成文日期),
  ``index_number``, ``topic``, ``publish_date``, ``validity``, ``source`` (来源); its text is
  not repeated in the blocks;
- ``headline``: the page's heading for the document (h1 or the title element above the text);
- ``page_title``: the ``<title>`` text: often a template leftover or with a site suffix;
- ``validity_mark``: a '[已废止]'-style prefix taken off the headline or page title.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import lxml.html
from lxml import etree

from ingest.readers.base import (
    Block,
    IngestError,
    RawDocument,
    Reader,
    TableBlock,
    TextBlock,
    read_bytes,
)
from ingest.readers.plain import decode

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_MIN_BODY_CHARS = 20  # CJK characters the content must hold to count as a document
_DOMINANT_SHARE = 0.8  # a child holding this share of its parent's text is the better candidate
_SIBLING_SENTENCES = 8  # ... unless paragraphs beside it hold sentences: the 印发 notice
_DOC_NUMBER_LINE = re.compile(
    r"^[\u4e00-\u9fff]{1,12}[〔\[［【(（](?:19|20)\d{2}[〕\]］】)）]第?\d{1,5}号$"
)  # ... or a 文号 line

# ---------------------------------------------------------------------------- decoding

_UTF_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_GB_FAMILY = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "gb18030", "euc-cn", "hz-gb-2312"}


def decode_page(path: Path, data: bytes) -> str:
    """The page as text: BOM, then valid UTF-8, then the declared charset, then GB18030."""
    if data.startswith(_UTF_BOMS) or _is_utf8(data):
        return decode(path, data)
    declared = _declared_charset(data)
    if declared:
        try:
            text = data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
        else:
            if "\x00" in text[:4096]:
                raise IngestError(path, "binary file (contains NUL bytes), not text")
            return text
    return decode(path, data)


def _is_utf8(data: bytes) -> bool:
    """Whether the bytes are valid UTF-8: then they are UTF-8, whatever the page declares."""
    # GBK text is almost never valid UTF-8, while UTF-8 pages still declaring gb2312 are common.
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _declared_charset(data: bytes) -> str | None:
    """The charset of ``<meta charset>`` or ``http-equiv`` in the head; the GB family as GB18030."""
    match = _META_CHARSET.search(data[:16384])
    if not match:
        return None
    name = match.group(1).decode("ascii").lower()
    return "gb18030" if name in _GB_FAMILY else name


# ----------------------------------------------------------------------------- parsing

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_JUNK_TAGS = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
    "select", "button", "input", "textarea", "nav", "footer", "aside", "map", "audio", "video",
    "link", "meta", "head", "title",
)  # fmt: skip
_HIDDEN = re.compile(r"display\s*:\s*none", re.I)
_HIDDEN_SHARE = 0.3  # of the page's text: a hidden element holding more is shown by a script


def parse(path: Path, text: str) -> etree._Element:
    """The page's element tree (a fragment gets html/body), without comments."""
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        raise IngestError(path, "empty page")
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as error:
        raise IngestError(path, f"not a readable HTML page ({error})") from error
    if root is None:
        raise IngestError(path, "empty page")
    return root


def drop_junk(root: etree._Element) -> None:
    """Remove scripts, widgets, navigation, footers and hidden elements (not the text itself)."""
    # An element hidden until a script shows it holds much of the page's text: it stays.
    etree.strip_elements(root, *_JUNK_TAGS, with_tail=False)
    weights = text_weights(root)
    total = weights[root][0]
    hidden = [
        el
        for el in root.iter(etree.Element)
        if el.tag not in ("html", "body")
        and (_HIDDEN.search(el.get("style") or "") or el.get("hidden") is not None)
        and weights[el][0] < _HIDDEN_SHARE * total
    ]
    for el in hidden:
        _remove(el)


def _remove(el: etree._Element) -> None:
    """Remove an element but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


# -------------------------------------------------------------------------- text lines

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SOURCE_BREAK = re.compile(r"[ \t\f]*[\r\n][ \t\r\n\f]*")
_ASCII_SPACE = re.compile(r"[ \t\f]+")
_OTHER_SPACE = re.compile("[\u00a0\u2000-\u200a\u202f\u205f]")


def unescape(text: str) -> str:
    """Entities escaped twice by the page (``&amp;ldquo;``) arrive as text: make them characters."""
    for _ in range(2):
        if "&" not in text or not _ENTITY.search(text):
            break
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    return text


def tidy_line(text: str) -> str:
    """A line as a reader sees it: no source line breaks in CJK text, no zero-width marks."""
    text = _ZERO_WIDTH.sub("", unescape(text))
    text = _SOURCE_BREAK.sub(_break_joint, text)
    text = _ASCII_SPACE.sub(" ", text)
    return _OTHER_SPACE.sub(" ", text).strip()


def _break_joint(match: re.Match) -> str:
    """A line break in the HTML source is a space between Latin words, nothing elsewhere."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if (
        after.isascii()
        and after.isalnum()
        and before.isascii()
        and (before.isalnum() or before in ",;:!?")
    ):
        return " "
    return ""


def squeeze(text: str) -> str:
    """All whitespace and zero-width marks removed: the form of metadata values and labels."""
    return re.sub(r"\s+", "", _ZERO_WIDTH.sub("", unescape(text)))


def cjk_count(text: str | None) -> int:
    """Chinese characters in the text: what the content is weighed by."""
    return len(_CJK.findall(text)) if text else 0


# -------------------------------------------------------------------- lines and tables

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "html",
        "legend", "li", "main", "menu", "ol", "p", "pre", "section", "summary", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_LINE_BREAKS = frozenset({"br", "hr"})
_MAX_SPAN = 200


class Flow:
    """Elements as lines and tables in reading order, each line with the block holding it."""

    # With tables=False every table is read through as cells (for the metadata block).

    def __init__(self, tables: bool = True):
        self.tables = tables
        self.blocks: list[Block] = []
        self.lines: list[tuple[str, etree._Element | None]] = []
        self._parts: list[str] = []
        self._open: list[etree._Element] = []
        self._owner: etree._Element | None = None

    def walk(self, el: etree._Element) -> Flow:
        """Add the element's text, then return self."""
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _LINE_BREAKS:
            self.flush()
        elif tag == "table" and self.tables and self._table(el):
            pass
        elif tag == "pre":
            self._pre(el)
        else:
            self.element(el, tag in _BLOCK_TAGS)
        return self

    def element(self, el: etree._Element, block: bool) -> None:
        """Add the element's text and children; a block element starts and ends a line."""
        if block:
            self.flush()
            self._open.append(el)
        self.add(el.text)
        for child in el:
            self.walk(child)
            self.add(child.tail)
        if block:
            self.flush()
            self._open.pop()

    def _table(self, el: etree._Element) -> bool:
        """Emit a data table as a TableBlock; False for a layout table, to be read through."""
        rows = table_rows(el)
        if rows is None or not is_data_table(rows):
            return False
        self.flush()
        self.blocks.append(TableBlock(rows))
        return True

    def _pre(self, el: etree._Element) -> None:
        """Preformatted text keeps its line breaks."""
        self.flush()
        self._open.append(el)
        for line in "".join(el.itertext()).splitlines():
            self.add(line)
            self.flush()
        self._open.pop()

    def add(self, text: str | None) -> None:
        """Add inline text to the current line."""
        if text:
            if not self._parts:
                self._owner = self._open[-1] if self._open else None
            self._parts.append(text)

    def flush(self) -> None:
        """End the current line: inline pieces are joined as they are, without spaces."""
        line = tidy_line("".join(self._parts))
        self._parts = []
        if not line:
            return
        self.lines.append((line, self._owner))
        if not self.blocks or not isinstance(self.blocks[-1], TextBlock):
            self.blocks.append(TextBlock([], reflow=False))
        self.blocks[-1].lines.append(line)


def table_rows(table: etree._Element) -> list[list[str]] | None:
    """Cell texts by row, columns lined up; None for a table holding a table (layout)."""
    # A rowspan repeats the cell in the rows below (a merged 牵头单位 belongs to each task);
    # a colspan pads with empty cells, so a full-width row does not repeat its text.
    if table.find(".//table") is not None:
        return None
    grid: list[list[str]] = []
    pending: dict[int, list] = {}  # column -> [text, rows still to fill]
    for tr in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr"):
        row: list[str] = []
        for cell in tr.xpath("./td|./th"):
            _fill_pending(row, pending)
            text = cell_text(cell)
            rowspan, colspan = _span(cell, "rowspan"), _span(cell, "colspan")
            for k in range(colspan):
                if rowspan > 1:
                    pending[len(row)] = [text if k == 0 else "", rowspan - 1]
                row.append(text if k == 0 else "")
        _fill_pending(row, pending, to_end=True)
        grid.append(row)
    return grid


def _fill_pending(row: list[str], pending: dict[int, list], to_end: bool = False) -> None:
    """Put the cells that spanned down from rows above at the row's next columns."""
    while len(row) in pending or (to_end and any(col >= len(row) for col in pending)):
        column = len(row)
        if column not in pending:
            row.append("")
            continue
        text, left = pending[column]
        row.append(text)
        if left <= 1:
            del pending[column]
        else:
            pending[column][1] = left - 1


def _span(cell: etree._Element, name: str) -> int:
    """A rowspan or colspan, 1 when missing or broken, capped against absurd values."""
    match = re.match(r"\s*(\d+)", cell.get(name) or "")
    return min(max(int(match.group(1)), 1), _MAX_SPAN) if match else 1


def cell_text(cell: etree._Element) -> str:
    """A cell's lines joined by newlines, as python-docx gives a cell's paragraphs."""
    flow = Flow(tables=False)
    flow.element(cell, block=False)
    flow.flush()
    return "\n".join(line for line, _ in flow.lines)


def is_data_table(rows: list[list[str]]) -> bool:
    """Data, not layout: two rows of two filled cells, and no cell holding most of the text."""
    filled_rows = sum(1 for row in rows if sum(1 for cell in row if cell) >= 2)
    if filled_rows < 2:
        return False
    sizes = [len(cell) for row in rows for cell in set(row) if cell]
    total = sum(sizes)
    return not (total >= 200 and max(sizes) >= 0.5 * total)


# ------------------------------------------------------------------------ metadata block

_FIELDS: dict[str | None, str] = {
    "index_number": "索引号|索取号",
    "topic": "主题分类|信息分类|分类|主题",
    "joint_issuers": "联合发文单位|联合发文机关|联合发文机构",
    "issuers": "发文机关|发文机构|发文单位|发布机构|发布单位|制发机关|发布部门",
    "doc_number": "发文字号|发文文号|文件编号|文件字号|发文编号|文号",
    "date": "成文日期|成文时间|公文生成日期|生成日期|发文日期|印发日期|签发日期",
    "publish_date": "发布日期|发布时间|公开日期|公开时间|公布日期|日期|时间",
    "title": "信息名称|文件名称|公文名称|标题|名称|题名",
    "validity": "有效性|时效性|效力状态|文件状态",
    "source": "文件来源|信息来源|来源",
    None: "主题词|关键词|体裁分类|体裁|组配分类|服务对象|实施日期|废止日期|作者|浏览次数|浏览量|"
    "访问量|点击数|点击量|字号|信息发布人|发布人|备注|公开方式|公开形式|公开范围|所属机构",
}
_KEY_OF = {name: key for key, names in _FIELDS.items() for name in names.split("|")}
_NAMES = "|".join(sorted(_KEY_OF, key=len, reverse=True))
_OTHER_NAME = r"(?:[\u4e00-\u9fff]{1,6}[/／])?"  # '备注/文号：' names two fields: the last counts
_LABEL_START = re.compile(
    rf"^(?:[\[【]{_OTHER_NAME}({_NAMES})[\]】][:：]?|{_OTHER_NAME}({_NAMES})(?:[:：]|$))"
)
_LABEL_INSIDE = re.compile(
    rf"[\[【]{_OTHER_NAME}({_NAMES})[\]】][:：]?|{_OTHER_NAME}({_NAMES})[:：]"
)
_DATE_VALUE = re.compile(r"(?:19|20)\d{2}(?:[-/.]\d{1,2}[-/.]\d{1,2}|年\d{1,2}月\d{1,2}日?)")
_PAGE_LABEL = re.compile(
    "索引号|发文字号|文号|文件编号|成文日期|生成日期|发文机关|发文机构|发布机构|联合发文|有效性|"
    "主题分类|发布日期|发布时间|浏览量|浏览次数|点击数|访问量"
)  # labels only a page's metadata or info line uses; 时间, 名称, 来源 also occur in text
_MAX_LABEL_LINE = 160
_NEIGHBOURHOOD = 3  # lines between two labels of one metadata block
_MAX_VALUE_LINES = 4  # lines one value may be broken into


def read_metadata(root: etree._Element) -> tuple[dict[str, str], dict[etree._Element, str]]:
    """The metadata block's raw values, and the elements holding it (to leave the body out)."""
    # Label：value pairs in a table, a list or one line; a bare label takes the next cell.
    lines = Flow(tables=False).walk(root).lines
    squeezed = [squeeze(line) for line, _ in lines]
    labelled = {
        i: pairs
        for i, text in enumerate(squeezed)
        if len(text) <= _MAX_LABEL_LINE and (pairs := _label_pairs(text))
    }
    table: dict[str, str] = {}
    held: dict[etree._Element, str] = {}
    for i, pairs in labelled.items():
        if _in_block(i, labelled, squeezed):
            taken = [i] + (_value_lines(lines, labelled, i) if _bare(pairs) else [])
            if len(taken) > 1:
                pairs = [(pairs[0][0], "".join(squeezed[j] for j in taken[1:]))]
            for j in taken:
                if lines[j][1] is not None:
                    held[lines[j][1]] = held.get(lines[j][1], "") + squeezed[j]
            _keep_first(table, pairs)
    return table, held


def _bare(pairs: list[tuple[str | None, str]]) -> bool:
    """A label alone on its line, its value in the next cell."""
    return len(pairs) == 1 and not pairs[0][1]


def _keep_first(table: dict[str, str], pairs: list[tuple[str | None, str]]) -> None:
    """Add the pairs' cleaned values; the first value of a key wins (later ones are templates)."""
    for key, value in pairs:
        value = _clean_value(key, value)
        if key and value and key not in table:
            table[key] = value


def _in_block(i: int, labelled: dict[int, list], squeezed: list[str]) -> bool:
    """Whether a label line is in a metadata block: 2+ labels near, one a page's own (索引号)."""
    # A lone '时间：' or '名称：' line is running text of the document.
    near = [j for j in labelled if abs(i - j) <= _NEIGHBOURHOOD]
    labels = sum(len(labelled[j]) for j in near)
    return labels >= 2 and any(_PAGE_LABEL.search(squeezed[j]) for j in near)


def _value_lines(lines: list, labelled: dict, i: int) -> list[int]:
    """The lines of a bare label's value: the next cell, all its lines ('京政办发' / '15号')."""
    label = lines[i][1]
    taken: list[int] = []
    for j in range(i + 1, min(i + 1 + _MAX_VALUE_LINES, len(lines))):
        owner = lines[j][1]
        if j in labelled or not _same_row(label, owner):
            break
        if taken and not _same_cell(lines[taken[0]][1], owner):
            break
        taken.append(j)
    return taken


def _same_cell(first: etree._Element | None, other: etree._Element | None) -> bool:
    """Two lines of one value: the same element, or siblings under one parent."""
    if first is None or other is None:
        return False
    return other is first or (other.getparent() is first.getparent() and other.tag == first.tag)


def _label_pairs(text: str) -> list[tuple[str | None, str]]:
    """(key, value) pairs of a line starting with a label: '[发文字号] 京政办发〔2023〕15号'."""
    if not _LABEL_START.match(text):
        return []
    marks = list(_LABEL_INSIDE.finditer(text))
    if not marks or marks[0].start() != 0:
        marks.insert(0, _LABEL_START.match(text))
    pairs = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        pairs.append((_KEY_OF[mark.group(1) or mark.group(2)], text[mark.end() : end]))
    return pairs


def _same_row(label: etree._Element | None, value: etree._Element | None) -> bool:
    """The value sits in the label's row: the label cell's tr, else the label's grandparent."""
    if label is None or value is None:
        return False
    row = label.getparent()
    if label.tag not in ("td", "th") and row is not None and row.getparent() is not None:
        row = row.getparent()
    return row is not None and any(el is value for el in row.iter(etree.Element))


def _clean_value(key: str | None, value: str) -> str:
    """The value as written; a date cut out of what follows it; an empty 文号 '〔〕号' dropped."""
    if key in ("date", "publish_date"):
        match = _DATE_VALUE.search(value)
        return match.group(0) if match else ""
    if key == "doc_number" and not re.search(r"\d", value):
        return ""
    return value if re.search(r"\w", value) else ""


def drop_held(held: dict[etree._Element, str]) -> None:
    """Remove the elements that hold nothing but metadata, so it is not read as body text."""
    for el, text in held.items():
        if el.getparent() is not None and squeeze("".join(el.itertext())) == text:
            _remove(el)


# -------------------------------------------------------------------------- the content

_SENTENCE_MARK = re.compile("[，。；！？]")
_NAME_WEIGHT = 0.25
_LINK_LIST_SHARE = 0.6  # of a container's text in links: a list of links, not document text
_LINK_LINE_SHARE = 0.8  # of a paragraph's text in one link: a link to elsewhere, not text
_FILE_LINK = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et|ofd|zip|rar|7z|csv)(?:$|[?#&\s])", re.I)
_RELATED = re.compile(
    r"^(?:相关(?:链接|阅读|文件|解读|政策|新闻|附件)|政策解读|延伸阅读|图片解读|图解|附件下载)[:：]?$"
    r"|^扫一扫.{0,20}$"
)
_FURNITURE = re.compile(
    r"打印本页|打印|关闭窗口|关闭|分享到|分享|取消收藏|收藏|字号|字体|返回顶部|"
    r"[大中小]|[【】\[\]（）():：|｜/\s]"
)
_FURNITURE_WORD = re.compile(r"打印|关闭|分享|收藏|字号|字体|返回顶部")


def text_weights(root: etree._Element) -> dict[etree._Element, tuple[float, float]]:
    """The weight of the text outside and inside links under each element, bottom-up."""
    weights: dict[etree._Element, tuple[float, float]] = {}
    for el in reversed(list(root.iter(etree.Element))):
        text, links = text_weight(el.text), 0.0
        for child in el:
            child_text, child_links = weights[child]
            text += child_text + text_weight(child.tail)
            links += child_links
        if el.tag == "a":
            text, links = 0.0, links + text
        weights[el] = (text, links)
    return weights


def text_weight(text: str | None) -> float:
    """CJK characters, a quarter of them unless the text has a sentence mark (，。；！？)."""
    # Documents are written in sentences; footers and menus in names ('版权所有 主办单位：…').
    count = cjk_count(text)
    return float(count) if count and _SENTENCE_MARK.search(text) else count * _NAME_WEIGHT


def find_content(path: Path, root: etree._Element) -> etree._Element:
    """The smallest element holding most of the page's text outside links (the document)."""
    # From the body down, follow the child holding _DOMINANT_SHARE of its parent's text, unless
    # paragraphs beside it hold sentences: a 印发 notice beside the attached 办法 is document.
    weights = text_weights(root)
    body = root.find("body")
    node = body if body is not None else root
    while True:
        children = [child for child in node if weights[child][0] > 0]
        if not children:
            break
        best = max(children, key=lambda child: weights[child][0])
        if weights[best][0] < _DOMINANT_SHARE * weights[node][0]:
            break
        if _document_beside(node, best, weights):
            break
        node = best
    if weights[node][0] < _MIN_BODY_CHARS:
        raise IngestError(path, "no content found: no Chinese sentences outside links")
    _drop_link_lists(node, weights)
    return node


def _document_beside(node: etree._Element, best: etree._Element, weights: dict) -> bool:
    """Whether paragraphs beside ``best`` are the document's: sentences (with a 。) or a 文号."""
    sentences = 0.0
    for text, weight in _paragraphs_beside(node, best, weights):
        if _DOC_NUMBER_LINE.match(squeeze(text)):
            return True
        if "。" in text:
            sentences += weight
    return sentences > _SIBLING_SENTENCES


def _paragraphs_beside(node: etree._Element, best: etree._Element, weights: dict):
    """(text outside links, weight) of the node's own text and its paragraphs beside ``best``."""
    for text in [node.text, *(child.tail for child in node)]:
        if text and text.strip():
            yield text, text_weight(text)
    for child in node:
        if child is not best and (
            child.tag not in _BLOCK_TAGS or child.tag == "p" or _holds_no_blocks(child)
        ):
            yield _own_text(child), weights[child][0]


def _holds_no_blocks(el: etree._Element) -> bool:
    """Whether the element is a paragraph (no block elements inside), not a page block."""
    return not any(d.tag in _BLOCK_TAGS for d in el.iterdescendants(etree.Element))


def _drop_link_lists(content: etree._Element, weights: dict) -> None:
    """Remove link lists and one-link paragraphs (related news) from the content; files stay."""
    for el in list(content.iter(etree.Element)):
        if el is content or el.getparent() is None or el not in weights:
            continue
        text, links = weights[el]
        if not links or links < _LINK_LIST_SHARE * (text + links):
            continue
        anchors = [el] if el.tag == "a" else el.findall(".//a")
        if all(_is_file_link(a) for a in anchors):
            continue
        if len(anchors) >= 2 or (
            el.tag in _BLOCK_TAGS and links >= _LINK_LINE_SHARE * (text + links)
        ):
            _remove(el)


def _is_file_link(anchor: etree._Element) -> bool:
    """A link to an attachment (.pdf, .doc…): its name often carries the 文号."""
    return bool(
        _FILE_LINK.search(anchor.get("href") or "") or _FILE_LINK.search("".join(anchor.itertext()))
    )


def attachments_after(content: etree._Element) -> list[etree._Element]:
    """Links to attachment files just after the content ('附件1：….doc'): its attachment list."""
    found = []
    for sibling in content.itersiblings():
        text, anchors = _own_text(sibling), sibling.findall(".//a")
        if sibling.tag == "a":
            anchors.append(sibling)
        if anchors and all(_is_file_link(a) for a in anchors) and cjk_count(text) <= 10:
            found.append(sibling)
        elif cjk_count("".join(sibling.itertext())):
            break
    return found


def _own_text(el: etree._Element) -> str:
    """The element's text outside links."""
    if el.tag == "a":
        return ""
    return "".join(t for t in el.xpath(".//text()[not(ancestor::a)]"))


def is_furniture(line: str) -> bool:
    """A line of page controls only: '【打印】【关闭】', '字号：大 中 小', '分享到：'."""
    if _RELATED.match(line):
        return True
    return bool(_FURNITURE_WORD.search(line)) and not _FURNITURE.sub("", line)


# ------------------------------------------------------------------ headline and title

_HEADING_TAGS = frozenset({"h1", "h2", "h3"})
_TITLE_CLASS = re.compile(r"tit|biaoti|^bt", re.I)
_TITLE_WORDS = re.compile(
    r"关于|《|(?:通知|通报|意见|办法|规定|方案|计划|措施|决定|条例|细则|纲要|规划|规则|公告|通告|批复|"
    r"函|决议|指南|指引|清单|标准|要点|法|章程|制度|答复|复函|令)(?:[（(][^）)]{1,30}[）)])?$"
)
_VALIDITY_MARK = re.compile(
    r"[\[【〔]\s*((?:已|部分)?(?:废止|失效)|已修[订改]|(?:现行)?有效)\s*[\]】〕]"
    r"|[（(]\s*(已废止|已失效)\s*[）)]"
)  # not '（修订）', which ends some titles
_MAX_TITLE = 200


def find_headline(root: etree._Element, content: etree._Element) -> etree._Element | None:
    """The last heading before the document text that reads like a title (not a site banner)."""
    # Headings are h1–h3 and elements classed as titles; '…政府信息公开' banners are passed over.
    inside = set(content.iter(etree.Element))
    seen: set[etree._Element] = set()
    best = None
    for el in root.iter(etree.Element):
        if el in seen:
            continue
        heading = _heading(el)
        if heading is not None:
            seen.update(heading.iter(etree.Element))
            if _TITLE_WORDS.search(_VALIDITY_MARK.sub("", _heading_text(heading))):
                best = heading
        elif el in inside and cjk_count(el.text):
            break
    return best


def _heading(el: etree._Element) -> etree._Element | None:
    """The element if it is a heading (not a link), or what the parser pushed out of it."""
    # <h1><p>title</p></h1> parses as <h1></h1><p>title</p>: the title is the next element.
    marks = f"{el.get('class') or ''} {el.get('id') or ''}"
    if el.tag not in _HEADING_TAGS and not _TITLE_CLASS.search(marks):
        return None
    if el.tag in _HEADING_TAGS and not squeeze("".join(el.itertext())):
        el = el.getnext() if el.getnext() is not None and el.getnext().tag == "p" else None
    if el is None or el.find(".//a") is not None or any(a.tag == "a" for a in el.iterancestors()):
        return None
    return el


def _heading_text(el: etree._Element) -> str:
    """The heading's text if it could be a title: 6+ CJK characters, no full stop."""
    text = squeeze_spaces("".join(el.itertext()))
    return text if cjk_count(text) >= 6 and len(text) <= _MAX_TITLE and "。" not in text else ""


def squeeze_spaces(text: str) -> str:
    """A title on one line: source line breaks and ideographic spaces between CJK removed."""
    text = tidy_line(text)
    return re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text)


def split_validity(text: str) -> tuple[str, str | None]:
    """A title without its '[已废止]' mark, and the mark's word."""
    match = _VALIDITY_MARK.search(text)
    if not match:
        return text, None
    return (text[: match.start()] + text[match.end() :]).strip(), match.group(1) or match.group(2)


def page_title(root: etree._Element) -> str | None:
    """The <title> text, whitespace tidied."""
    title = root.find(".//title")
    text = tidy_line("".join(title.itertext())) if title is not None else ""
    return text or None


# -------------------------------------------------------------------------- the reader


class HtmlReader(Reader):
    """Web pages of government documents, full pages and body fragments alike."""

    suffixes = (".html", ".htm", ".shtml", ".xhtml")

    def read(self, path: Path) -> RawDocument:
        """The document in the page: its blocks, and the page's metadata as hints."""
        data = read_bytes(path)
        root = parse(path, decode_page(path, data))
        title = page_title(root)
        etree.strip_elements(root, *_JUNK_TAGS, with_tail=False)
        metadata, held = read_metadata(root)  # before hidden elements go: some hold metadata
        drop_held(held)
        drop_junk(root)
        content = find_content(path, root)
        hints = _hints(title, take_headline(root, content), metadata)
        blocks = _body(content)
        if not blocks:
            raise IngestError(path, "no content found: the page holds no document text")
        return RawDocument(path, blocks, hints=hints, raw_bytes=data)


def take_headline(root: etree._Element, content: etree._Element) -> str | None:
    """The headline's text; one inside the content is taken out, so the body is the document."""
    headline = find_headline(root, content)
    if headline is None:
        return None
    if headline is not content and content in headline.iterancestors():
        _remove(headline)
    return tidy_line("".join(headline.itertext())) or None


def _hints(title: str | None, headline: str | None, metadata: dict[str, str]) -> dict[str, object]:
    """The hints the page gives, a '[已废止]' mark moved from titles into ``validity_mark``."""
    hints: dict[str, object] = {}
    for key, text in (("headline", headline), ("page_title", title)):
        if text:
            hints[key], mark = split_validity(text)
            if mark:
                hints.setdefault("validity_mark", mark)
    if metadata:
        hints["metadata_table"] = metadata
    return hints


def _body(content: etree._Element) -> list[Block]:
    """The content's blocks and the attachment links after it, without page controls."""
    flow = Flow().walk(content)
    for attachment in attachments_after(content):
        flow.flush()
        flow.walk(attachment)
    flow.flush()
    kept: list[Block] = []
    for block in flow.blocks:
        if isinstance(block, TextBlock):
            block.lines = [line for line in block.lines if not is_furniture(line)]
            if not block.lines:
                continue
        kept.append(block)
    return kept
