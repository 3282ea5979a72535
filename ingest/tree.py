"""The clause tree: numbered headings and items nested as the document numbers them.

Kinds of label nest in the order they first open (一、 above （一） above 1.), which is how
official documents use them; a label of a kind already open closes everything below it.
Articles run in sequence, so a 第三条 that starts a line inside 第十条 is a citation, not an
article; 一是、二是 open items only as a run. An unnumbered paragraph is a clause of its own
(a 款 of an article, a paragraph of a section), a child of the clause above it; it joins that
clause's text only where it carries on a line the page cut short, or where it is the body of a
label that stands over a caption or nothing (（三）构建产业方阵 or 第五条 alone on its line).
Once a list introduced by a colon has ended (its last item closed a sentence), paragraphs go
back to the clause that introduced it. 附件 start subtrees of their own, a list of attachments
stays text, and each table row is a clause.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.cleaning import Item
from ingest.models import Clause
from ingest.numbering import Label, heading_of, match_attachment, match_label
from ingest.readers.base import TableBlock
from ingest.tables import table_rows
from ingest.text import normalize, tidy
from ingest.units import CAPTION, CLOSING_TAG

_KIND_OF_LABEL = {
    "part": "heading",
    "chapter": "heading",
    "section": "heading",
    "article": "article",
    "attachment": "attachment",
    "table_row": "table_row",
}
_CLOSED = ("。", "；", ";", "！", "？", "!", "?")
_SERIAL = ("；", ";")
_ATTACHMENT_LIST = re.compile(r"附[件表]?\s*[：:]")
_ATTACHMENTS = "attachment_list"  # the label kind of a paragraph listing the attachments
_LISTED = ("arabic", "arabic_paren", "arabic_half", "cn_paren", "circled")
# Endings of a paragraph that is over: a sentence, an introducing colon, or a tag (…负责）
_FINISHED = (*_CLOSED, "：", ":", "）", ")", "】", "”")
_CAPTION = 16  # a label's line this short, one sentence, is a caption over its text
_WRAPPED_LINE = 25  # an unfinished line this long was cut by the page, not ended as a title


@dataclass(eq=False)
class _Node:
    label: str
    kind: str
    label_kind: str
    parts: list[str]
    parent: _Node | None
    position: int
    children: list[_Node] = field(default_factory=list)
    tail: str = ""  # the last text read into this clause or a paragraph of it

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.parts if p)


def _has_body(node: _Node) -> bool:
    """Whether a clause has text or clauses beyond its own line: a heading or caption."""
    return len(node.parts) > 1 or bool(node.children)


@dataclass
class _Entry:
    """One body item, read once: its display text, numbering label and attachment heading."""

    item: Item
    text: str = ""
    label: Label | None = None
    attachment: Label | None = None


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.stack: list[_Node] = []
        self.last: _Node | None = None  # the clause that read the latest text

    def add(self, label: str, label_kind: str, text: str, parent: _Node | None) -> _Node:
        kind = _KIND_OF_LABEL.get(label_kind, "item" if label else "paragraph")
        node = _Node(label, kind, label_kind, [text], parent, len(self.nodes), tail=text)
        self.nodes.append(node)
        if parent:
            parent.children.append(node)
            if kind == "paragraph":
                parent.tail = text
        self.last = node
        return node

    def open_label(self, label: str, label_kind: str, text: str) -> None:
        kinds = [n.label_kind for n in self.stack]
        if label_kind in kinds:
            del self.stack[kinds.index(label_kind) :]
        parent = self.stack[-1] if self.stack else None
        self.stack.append(self.add(label, label_kind, text, parent))

    def open_attachment(self, label: str, title: str) -> None:
        self.stack = [self.add(label, "attachment", title, None)]

    def paragraph(self, text: str, task_goes_on: bool = False) -> None:
        """An unnumbered paragraph: its own clause under the open one, or the rest of a line.
        ``task_goes_on``: a paragraph ahead, before the next label, closes a task with its tag."""
        if self._list_ended():
            self.stack.pop()
            self.add("", "", text, self.stack[-1])
            return
        parent = self.stack[-1] if self.stack else None
        last = self.last
        if last is not None and (last is parent or last.parent is parent) and _unfinished(last):
            self.append(text)
        elif task_goes_on and last is parent and parent.kind == "item" and not _tagged(parent):
            self.append(text)  # 3．申报… over 完善…（责任单位：…）: the task runs to its tag
        elif last is not None and last.label_kind == _ATTACHMENTS and last.tail.endswith("："):
            self.append(text)  # 附件： over the name of its one attachment
        else:
            self.add("", "", text, parent)

    def attachment_list(self, text: str) -> None:
        """附件：1.… — the document's list of attachments, a paragraph of the document itself."""
        self.add("", _ATTACHMENTS, text, None)

    def append(self, text: str) -> None:
        """Text that goes on the clause that read the latest text (a list of attachments)."""
        if self.last is None:  # the list goes on after a table
            self.attachment_list(text)
            return
        self.last.parts.append(text)
        self.last.tail = text
        if self.last.parent and self.last.kind == "paragraph":
            self.last.parent.tail = text

    def _list_ended(self) -> bool:
        """Whether the open item is the last of a list introduced by a colon, now over."""
        if len(self.stack) < 2 or not self.stack[-2].tail.endswith(("：", ":")):
            return False
        top = self.stack[-1]
        if top.kind != "item" or _has_body(top):
            return False  # a caption or heading item whose body goes on
        if top.text.endswith(_SERIAL):
            return True
        siblings = [n for n in self.stack[-2].children if n.label_kind == top.label_kind]
        earlier = siblings[-2] if len(siblings) > 1 else None
        if earlier is None or _has_body(earlier):
            return False  # items with captions or headings, as in （一）好规划。 over its text
        # One-line items: the list is over after one that closes its sentence, or one of a
        # list of names; an item cut short (a line the reader did not join) goes on.
        return top.text.endswith(_CLOSED) or not earlier.text.endswith(_CLOSED)

    def table(self, rows: list[list[str]]) -> None:
        parent = self.stack[-1] if self.stack else None
        for row in table_rows(rows):
            self.add(row.label, "table_row", row.text, parent)
        self.last = None


def _tagged(node: _Node) -> bool:
    """Whether a clause already closes with a task's tag on one of its lines."""
    return any(CLOSING_TAG.search(part) for part in node.parts)


def _unfinished(node: _Node) -> bool:
    """Whether a clause's latest text waits for more: a label over a caption or nothing (its
    text is the next paragraph), or a line the page cut short."""
    line = node.parts[-1]
    if node.label and len(node.parts) == 1 and not node.children:
        caption = len(line) <= _CAPTION and line.endswith("。")  # （一）好规划。
        bare = bool(CAPTION.fullmatch(line.removesuffix("。")))  # 第一条【总体目标】
        return caption or not line.endswith(_FINISHED) or bare
    return len(line) >= _WRAPPED_LINE and not line.endswith(_FINISHED)


def build_tree(items: list[Item], consumed: set[int], doc_id: str) -> list[Clause]:
    """Clauses in document order, with stable ids, labels, paths and positions."""
    builder = _Builder()
    entries = [_read(item) for i, item in enumerate(items) if i not in consumed]
    _drop_out_of_order(entries)
    listing: str | None = None  # the label kind of the list of attachments being read
    tag_ahead = _tag_ahead(entries)
    for position, entry in enumerate(entries):
        if isinstance(entry.item, TableBlock):
            builder.table(entry.item.rows)
            continue
        listed, listing = listing, _listing(entries, position, listing)
        if listing:
            (builder.append if listed == listing else builder.attachment_list)(entry.text)
        elif entry.attachment:
            if _lists_attachments(entries, position):
                builder.attachment_list(entry.text)
            else:
                builder.open_attachment(entry.attachment.text, entry.attachment.rest)
        elif entry.label:
            builder.open_label(entry.label.text, entry.label.kind, entry.label.rest)
        else:
            builder.paragraph(entry.text, tag_ahead[position])
    return _to_clauses(builder.nodes, doc_id)


def _tag_ahead(entries: list[_Entry]) -> list[bool]:
    """For each entry: whether it or a paragraph after it, before the next label or table,
    ends with a task's tag."""
    ahead, found = [False] * len(entries), False
    for position in range(len(entries) - 1, -1, -1):
        entry = entries[position]
        if isinstance(entry.item, TableBlock) or entry.label or entry.attachment:
            found = False
            continue
        found = found or bool(CLOSING_TAG.search(entry.text))
        ahead[position] = found
    return ahead


def _read(item: Item) -> _Entry:
    """An item's display text and labels, matched once for the passes that follow."""
    if isinstance(item, TableBlock):
        return _Entry(item)
    text = tidy(item.text)
    return _Entry(item, text, match_label(text, runs=True), match_attachment(text))


def _drop_out_of_order(entries: list[_Entry]) -> None:
    """Articles and 一是 runs out of sequence are text (a citation), not labels."""
    scopes, scope = [], 0  # each attachment numbers its articles anew
    for entry in entries:
        scope += entry.attachment is not None
        scopes.append(scope)
    for kind in ("article", "run"):
        found = [(i, e.label, e.label.number) for i, e in enumerate(entries) if _is(e, kind)]
        previous: int | None = None
        for j, (i, label, number) in enumerate(found):
            after = found[j + 1] if j + 1 < len(found) else None
            following = after is not None and scopes[after[0]] == scopes[i]
            if _in_sequence(previous, number, label, after[2] if following else None, kind):
                previous = number
            else:
                entries[i].label = None
            previous = previous if following else None  # the next one is in a new scope


def _is(entry: _Entry, kind: str) -> bool:
    """Whether the entry opens with a label of this kind."""
    return entry.label is not None and entry.label.kind == kind


def _in_sequence(
    previous: int | None, number: int | None, label: Label, following: int | None, kind: str
) -> bool:
    """Whether a label goes on its run: the next number, or a jump forward that the next keeps."""
    if number is None:
        return False
    if previous is not None and number - previous == (0 if "之" in label.text else 1):
        return True  # the next article, or 第十条之一 after 第十条
    if number == 1 and following == 2:
        return True  # a run starts, or a second set of articles in the same file
    if kind == "run":
        return False  # 一是 opens an item only in a run
    return (previous is None or number > previous) and (following is None or following >= number)


def _listing(entries: list[_Entry], position: int, listing: str | None) -> str | None:
    """The label kind of the list of attachments (附件：1.… 2.…) this entry opens or goes on."""
    entry = entries[position]
    if listing and (entry.label.kind == listing if entry.label else _wrapped_name(entry)):
        return listing
    match = _ATTACHMENT_LIST.match(entry.text)
    if not match or (entry.attachment and entry.attachment.rest):
        return None
    rest = entry.text[match.end() :].strip()
    after = entries[position + 1] if position + 1 < len(entries) else None
    listed = match_label(rest) if rest else after and after.label
    return listed.kind if listed and listed.kind in _LISTED else None


def _wrapped_name(entry: _Entry) -> bool:
    """The rest of a listed name the reader did not join: short, no sentence, no heading."""
    return not entry.attachment and len(entry.text) <= 30 and not entry.text.endswith(_CLOSED)


def _lists_attachments(entries: list[_Entry], position: int) -> bool:
    """附件1：… over 附件2：…, or 附件： over a title its attachment's heading repeats: a list."""
    following = entries[position + 1 : position + 4]
    if following and following[0].attachment:
        return True
    heading = entries[position].attachment
    return (
        heading is not None
        and not heading.rest
        and len(following) == 3
        and following[1].attachment == heading
        and following[2].text == following[0].text
    )


def _ancestors(node: _Node) -> list[_Node]:
    chain = []
    while node.parent:
        node = node.parent
        chain.append(node)
    return chain[::-1]


def _to_clauses(nodes: list[_Node], doc_id: str) -> list[Clause]:
    ids: dict[int, str] = {}
    seen: Counter[str] = Counter()
    clauses = []
    for node in nodes:
        ancestors = _ancestors(node)
        key = "/".join(a.label for a in ancestors) + "|" + node.label + "|" + normalize(node.text)
        digest = hashlib.sha1(f"{doc_id}|{key}".encode()).hexdigest()[:12]
        seen[digest] += 1
        clause_id = f"{doc_id}-{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else "")
        ids[id(node)] = clause_id
        clauses.append(
            Clause(
                clause_id=clause_id,
                label=node.label,
                path=[heading_of(a.label, a.text) for a in ancestors],
                text=node.text,
                position=node.position,
                depth=len(ancestors),
                kind=node.kind,
                parent_id=ids[id(node.parent)] if node.parent else None,
            )
        )
    return clauses
