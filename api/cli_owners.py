"""``policykb tasks | units | matrix | targets``: who owns what, and the numbers to reach."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli_options import JsonOption, KbOption, fail, open_kb
from index.filters import FilterError, Filters
from index.owners import (
    ROLE_FILTERS,
    AmbiguousUnit,
    UnitNotFound,
    ownership_matrix,
    task_json,
)
from index.records import DocumentNotFound
from index.targets import CSV_FIELDS

RegionOption = Annotated[str | None, typer.Option("--region", help="重庆 or 重庆市")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV (UTF-8) for spreadsheets.")]


def tasks(
    unit: Annotated[str, typer.Option("--unit", help="市发改委, 人社局, or a canonical name")],
    region: RegionOption = None,
    role: Annotated[
        str, typer.Option("--role", help="lead | responsible | supporting | any")
    ] = "any",
    kb: KbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every task of a unit: the clauses that name it, with its role and the units it shares with.

    A name that means different units in different regions (市税务局) needs --region; an
    unknown name gets the closest known units as suggestions. Exit status 1 in both cases.
    """
    if role not in ROLE_FILTERS:
        fail(f"--role: {role!r} is not one of {', '.join(ROLE_FILTERS)}", 2)
    directory = open_kb(kb).owners
    try:
        found = directory.resolve(unit, region)
    except (UnitNotFound, AmbiguousUnit) as error:
        fail(str(error))
    found_tasks = directory.tasks(found, role, region)
    if as_json:
        payload = {"unit": {**found.summary(), "name": unit, "aliases": found.aliases},
                   "tasks": [task_json(t) for t in found_tasks]}  # fmt: skip
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    table = Table(title=f"{found.canonical}（{found.region or '全国'}）: {len(found_tasks)} tasks")
    for column in ("role", "document", "clause", "text", "with"):
        table.add_column(column)
    for task in found_tasks:
        table.add_row(task.role, task.doc_title, "/".join([*task.path, task.label]),
                      task.text[:80], "、".join(u["canonical"] for u in task.co_units))  # fmt: skip
    Console().print(table)


def units(
    query: Annotated[str | None, typer.Argument(help="Part of a name or alias.")] = None,
    region: RegionOption = None,
    kb: KbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List units with their aliases and task counts (lead, responsible or supporting), most
    tasks first."""
    found = open_kb(kb).owners.units(query, region)
    if as_json:
        rows = [{**u.summary(), "aliases": u.aliases, "tasks": u.tasks, "roles": dict(u.roles)}
                for u in found]  # fmt: skip
        typer.echo(json.dumps({"units": rows}, ensure_ascii=False))
        return
    table = Table()
    for column in ("unit", "region", "aliases", "tasks", "lead", "id"):
        table.add_column(column)
    for u in found:
        table.add_row(u.canonical, u.region or "全国", "、".join(u.aliases), str(u.tasks),
                      str(u.roles["lead"]), u.unit_id)  # fmt: skip
    Console().print(table)


def matrix(
    doc: Annotated[
        str | None, typer.Argument(help="doc_id, 文号 or a unique part of the title.")
    ] = None,
    region: RegionOption = None,
    kb: KbOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """The ownership matrix: clauses × units, 牵头 (lead) or 责任 (responsible) in each cell.

    Give a document, or --region for every document of a region.
    """
    knowledge_base = open_kb(kb)
    if doc:
        try:
            found = knowledge_base.find_document(doc)
        except DocumentNotFound as error:
            fail(str(error))
        doc_ids, title = [found.doc_id], found.title
    elif region:
        docs = [d for d in knowledge_base.documents() if (d.region or "").startswith(region)]
        doc_ids, title = [d.doc_id for d in docs], region
    else:
        fail("matrix: give a document or --region", 2)
    result = ownership_matrix(knowledge_base.owners, doc_ids, title)
    if as_csv:
        csv.writer(sys.stdout).writerows(result.csv_rows())
    elif as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        rows = result.csv_rows()
        table = Table(title=title)
        for column in rows[0]:
            table.add_column(column, overflow="fold")
        for row in rows[1:]:
            table.add_row(row[0], row[1][:40], *row[2:])
        Console().print(table)


def targets(
    doc: Annotated[
        str | None, typer.Option("--doc", help="doc_id, 文号 or part of the title")
    ] = None,
    region: RegionOption = None,
    year: Annotated[int | None, typer.Option("--year", help="The target's deadline year.")] = None,
    kb: KbOption = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Quantitative targets with their metric, lined up by metric across documents and levels."""
    knowledge_base = open_kb(kb)
    try:
        rows = knowledge_base.targets(Filters(region=region, doc=doc), year)
    except FilterError as error:
        fail(str(error), 2)
    if as_json:
        typer.echo(json.dumps({"targets": [asdict(r) for r in rows]}, ensure_ascii=False))
    elif as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_FIELDS)
        writer.writerows(r.csv_row() for r in rows)
    else:
        table = Table()
        for column in ("metric", "value", "year", "level", "region", "document", "clause"):
            table.add_column(column)
        for r in rows:
            value = f"{r.value}{r.unit}{r.qualifier or ''}"
            table.add_row(r.metric or "", value, str(r.year or ""), r.level, r.region or "全国",
                          r.doc_title, "/".join(r.path))  # fmt: skip
        Console().print(table)
