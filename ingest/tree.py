"""The clause tree: numbered headings and items nested as the document numbers them.

Kinds of label nest in the order they first open (一、 above （一） above 1.), which is how
official documents use them; a label of a kind already open closes everything below it.
Unnumbered paragraphs belong to the clause above them, except after a list introduced by
a colon, where they go back to the clause that introduced it. 附件 start subtrees of their
own, and each table row is a clause.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from ingest.cleaning import Item, Paragraph
from ingest.models import Clause
from ingest.numbering import heading_of, match_attachment, match_label
from ingest.readers.base import TableBlock
from ingest.tables import table_rows
from ingest.text import normalize, tidy

_KIND_OF_LABEL = {
    "part": "heading",
    "chapter": "heading",
    "section": "heading",
    "article": "article",
    "attachment": "attachment",
    "table_row": "table_row",
}


@dataclass
class _Node:
    label: str
    kind: str
    label_kind: str
    parts: list[str]
    parent: _Node | None
    position: int
    children: list[_Node] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.parts if p)


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.stack: list[_Node] = []

    def add(self, label: str, label_kind: str, text: str, parent: _Node | None) -> _Node:
        kind = _KIND_OF_LABEL.get(label_kind, "item" if label else "paragraph")
        node = _Node(label, kind, label_kind, [text], parent, len(self.nodes))
        self.nodes.append(node)
        if parent:
            parent.children.append(node)
        return node

    def open_label(self, label: str, label_kind: str, text: str) -> None:
        kinds = [n.label_kind for n in self.stack]
        if label_kind in kinds:
            del self.stack[kinds.index(label_kind) :]
        parent = self.stack[-1] if self.stack else None
        self.stack.append(self.add(label, label_kind, text, parent))

    def open_attachment(self, label: str, title: str) -> None:
        self.stack = [self.add(label, "attachment", title, None)]

    def paragraph(self, text: str) -> None:
        if not self.stack:
            self.add("", "", text, None)
            return
        top = self.stack[-1]
        if (
            len(self.stack) >= 2
            and self.stack[-2].text.endswith(("：", ":"))
            and top.kind == "item"
        ):
            self.stack.pop()  # the list introduced by a colon is over
            top = self.stack[-1]
        top.parts.append(text)

    def table(self, rows: list[list[str]]) -> None:
        parent = self.stack[-1] if self.stack else None
        for row in table_rows(rows):
            self.add(row.label, "table_row", row.text, parent)


def build_tree(items: list[Item], consumed: set[int], doc_id: str) -> list[Clause]:
    """Clauses in document order, with stable ids, labels, paths and positions."""
    builder = _Builder()
    body = [(i, item) for i, item in enumerate(items) if i not in consumed]
    for position, (_, item) in enumerate(body):
        if isinstance(item, TableBlock):
            builder.table(item.rows)
            continue
        text = tidy(item.text)
        attachment = match_attachment(text)
        if attachment and not _next_is_attachment(body, position):
            builder.open_attachment(attachment.text, attachment.rest)
            continue
        label = match_label(text)
        if label:
            builder.open_label(label.text, label.kind, label.rest)
        else:
            builder.paragraph(text)
    return _to_clauses(builder.nodes, doc_id)


def _next_is_attachment(body: list[tuple[int, Item]], position: int) -> bool:
    """附件1：… followed by 附件2：… is the list of attachments, not an attachment."""
    following = body[position + 1 : position + 2]
    return (
        bool(following)
        and isinstance(following[0][1], Paragraph)
        and (match_attachment(tidy(following[0][1].text)) is not None)
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
