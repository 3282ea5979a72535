"""``policykb links | derived | coverage``: local measures and the national clauses behind them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from api.cli_options import JsonOption, KbOption, fail, open_kb
from index.records import DocumentNotFound

DocArgument = Annotated[str, typer.Argument(help="doc_id, 文号 or a unique part of the title.")]


def _document(kb, doc: str) -> str:
    try:
        return kb.find_document(doc).doc_id
    except DocumentNotFound as error:
        fail(str(error))


def links(doc: DocArgument, kb: KbOption = None, as_json: JsonOption = False) -> None:
    """What a document implements and cites, and each clause's source clauses (score, kind,
    differences): verbatim, adapted or related; none when nothing is close enough."""
    knowledge_base = open_kb(kb)
    payload = knowledge_base.links.document(_document(knowledge_base, doc))
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    console = Console()
    for relation in ("implements", "cites"):
        for cited in payload[relation]:
            where = cited["doc_id"] or "not in the KB"
            console.print(f"{relation}: 《{cited['title'] or cited['doc_number']}》 → {where}")
    for clause in payload["links"]:
        console.print(f"\n[bold]{clause['label']}[/bold] {clause['text'][:60]}")
        for source in clause["sources"] or [None]:
            if source is None:
                console.print("   ← none")
                continue
            changes = "; ".join(f"{d['kind']} {d['local_text'] or d['source_text']}"
                                for d in source["diff"][:4])  # fmt: skip
            console.print(f"   ← {source['kind']} {source['score']:.2f} {source['doc_title']}"
                          f" {source['label']} {changes}", markup=False)  # fmt: skip


def derived(
    clause_id: Annotated[str, typer.Argument(help="A national (or provincial) clause id.")],
    kb: KbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The local clauses derived from a clause, grouped by region."""
    knowledge_base = open_kb(kb)
    if knowledge_base.clause(clause_id) is None:
        fail(f"clause: no clause {clause_id!r} in the KB")
    groups = knowledge_base.links.derived(clause_id)
    if as_json:
        typer.echo(json.dumps({"clause_id": clause_id, "derived": groups}, ensure_ascii=False))
        return
    for region, clauses in groups.items():
        typer.echo(region)
        for c in clauses:
            typer.echo(
                f"  {c['kind']} {c['score']:.2f} {c['doc_title']} {c['label']} {c['text'][:50]}"
            )


def coverage(doc: DocArgument, kb: KbOption = None, as_json: JsonOption = False) -> None:
    """Which clauses of the documents it implements a local document covers, and which not."""
    knowledge_base = open_kb(kb)
    payload = knowledge_base.links.coverage(_document(knowledge_base, doc))
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for target in payload["implements"]:
        typer.echo(f"{target['doc_title']}: {len(target['covered'])}/{target['clauses']} covered")
        for clause in target["left_out"]:
            typer.echo(f"  left out: {clause['label']} {clause['text'][:50]}")
