"""``policykb versions | history``: which version of a document is in force, and how an article
changed from version to version."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from api.cli_options import JsonOption, KbOption, fail, open_kb
from index.records import DocumentNotFound
from ingest.dates import checked_date

OnOption = Annotated[
    str | None, typer.Option("--on", help="Status on this day, e.g. 2020-01-01 [default: today].")
]
CHANGE_NAMES = {"original": "原始", "added": "新增", "changed": "修改", "unchanged": "未变",
                "dropped": "删除"}  # fmt: skip


def _day(on: str | None) -> str | None:
    try:
        return checked_date(on) if on else None
    except ValueError as error:
        fail(f"--on: {error}", code=2)


def versions(
    doc: Annotated[str, typer.Argument(help="doc_id, 文号 or a unique part of the title.")],
    kb: KbOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """The document's status (现行有效, 已修改, 已废止, 尚未生效, 征求意见稿, 已失效) with the
    reason, and every version of it, oldest first."""
    day = _day(on)
    knowledge_base = open_kb(kb)
    try:
        doc_id = knowledge_base.find_document(doc).doc_id
    except DocumentNotFound as error:
        fail(str(error))
    payload = knowledge_base.versions.of(doc_id, day)
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{payload['title']}[/bold] {payload['status_name']}"
                  f" ({payload['as_of']})", highlight=False)  # fmt: skip
    for reason in (payload["from_reason"], payload["to_reason"]):
        if reason:
            console.print(f"  {reason}", markup=False, highlight=False)
    for v in payload["versions"]:
        mark = "→" if v["doc_id"] == doc_id else " "
        span = f"{v['valid_from'] or '?'} – {v['valid_to'] or ''}"
        console.print(f"{mark} v{v['version']} {v['date'] or '日期不详'} {v['status_name']}"
                      f" [{span}] {v['doc_id']} {v['title']}", markup=False,
                      highlight=False)  # fmt: skip


def history(
    clause_id: Annotated[str, typer.Argument(help="A clause id (an article or one of its 款).")],
    kb: KbOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """The article across every version of its document: added, changed, unchanged, dropped."""
    day = _day(on)
    knowledge_base = open_kb(kb)
    if knowledge_base.clause(clause_id) is None:
        fail(f"clause: no clause {clause_id!r} in the KB")
    payload = knowledge_base.versions.history(clause_id, day)
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for entry in payload["timeline"]:
        change = CHANGE_NAMES.get(entry["change"], entry["change"])
        typer.echo(f"v{entry['version']} {entry['date'] or '日期不详'} {entry['status_name']}"
                   f" {change} {entry['label'] or ''}")  # fmt: skip
        for d in entry["diff"][:6]:
            typer.echo(f"    {d['kind']}: {d['source_text']} → {d['local_text']}")
