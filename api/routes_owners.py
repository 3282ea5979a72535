"""Routes for who owns what: units, a unit's tasks, a document's matrix, targets."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Directory, Reader
from api.schemas import MatrixOut, TargetsResponse, TasksResponse, UnitsResponse
from index.filters import MAX_FILTER_CHARS, YEARS, Filters
from index.owners import Unit, ownership_matrix, task_json
from index.targets import CSV_FIELDS

router = APIRouter()
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv for spreadsheets")]
FilterText = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS)]


def _listed(unit: Unit) -> dict:
    return {**unit.summary(), "aliases": unit.aliases, "tasks": unit.tasks,
            "roles": dict(unit.roles)}  # fmt: skip


def _csv(rows: list[list], filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers=headers)  # fmt: skip


@router.get("/units", response_model=UnitsResponse)
def units(
    directory: Directory,
    q: Annotated[
        str | None, Query(max_length=MAX_FILTER_CHARS, description="part of a name: 发改委")
    ] = None,
    region: FilterText = None,
) -> dict:
    return {"units": [_listed(u) for u in directory.units(q, region)]}


@router.get("/units/{unit}/tasks", response_model=TasksResponse)
def unit_tasks(
    directory: Directory,
    unit: str,
    region: FilterText = None,
    role: Literal["lead", "responsible", "supporting", "any"] = "any",
) -> dict:
    """``unit`` is a unit id, a canonical name, or a name as officials type it (市发改委)."""
    found = directory.get(unit) or directory.resolve(unit, region)
    tasks = [task_json(t) for t in directory.tasks(found, role, region)]
    return {"unit": _listed(found), "tasks": tasks}


@router.get("/documents/{doc_id}/matrix", response_model=MatrixOut)
def document_matrix(kb: Reader, directory: Directory, doc_id: str, format: Format = "json"):
    found = kb.find_document(doc_id)
    matrix = ownership_matrix(directory, [found.doc_id], found.title)
    if format == "csv":
        return _csv(matrix.csv_rows(), f"matrix-{found.doc_id}.csv")
    return matrix.to_dict()


@router.get("/targets", response_model=TargetsResponse)
def targets(
    kb: Reader,
    doc: FilterText = None,
    region: FilterText = None,
    level: FilterText = None,
    year: Annotated[
        int | None, Query(ge=YEARS[0], le=YEARS[1], description="the target's deadline year")
    ] = None,
    format: Format = "json",
):
    rows = kb.targets(Filters(level=level, region=region, doc=doc), year)
    if format == "csv":
        return _csv([list(CSV_FIELDS), *(r.csv_row() for r in rows)], "targets.csv")
    return {"targets": [asdict(r) for r in rows]}
