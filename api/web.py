"""The web page: server-rendered Chinese pages over the same KB as the JSON API.

Pages live under ``/`` (search) and ``/ui/…``; the JSON API keeps its own paths. Templates
autoescape everything; text is marked by offsets (api.marks), never by HTML from the server.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api import marks
from api.deps import Directory, Reader, SearcherDep, SettingsDep
from api.errors import alternatives, status_of
from index import versions
from index.filters import MAX_FILTER_CHARS, VERSION_CHOICES, FilterError, Filters
from index.kb import Snapshot
from index.owners import (
    AmbiguousUnit,
    UnitNotFound,
    ownership_matrix,
    unit_id,
)
from index.records import DocumentNotFound, clause_tree
from index.search import MAX_QUERY_CHARS, QueryError
from ingest.models import Level

HERE = Path(__file__).parent
STATIC = HERE / "static"
LEVEL_NAMES = {"national": "国家级", "provincial": "省级", "municipal": "市级", "county": "区县级"}
ROLE_NAMES = {"lead": "牵头", "responsible": "责任", "supporting": "配合", "mentioned": "提及"}
LINK_KINDS = {"verbatim": "照搬", "adapted": "改写", "related": "相关"}
STATUS_NAMES = {"issued": "已印发", "draft": "征求意见稿"}
TABLE_ROWS = 1000  # rows a page table shows; the JSON API's CSV carries them all
CHANGE_NAMES = {"added": "新增", "dropped": "删减", "changed": "改动"}
# Validity on a day (index.versions), and the search filter's choices over versions.
VALIDITY_NAMES = {**versions.STATUS_NAMES, "current": "仅现行版本", "all": "全部版本",
                  "original": "原始", "unchanged": "未变"}  # fmt: skip

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=MAX_QUERY_CHARS)]
FormField = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS)]  # a filter of a page


def citation(title: str, doc_number: str | None, path: list[str]) -> str:
    """How a drafter cites a clause: 《title》（文号）path."""
    number = f"（{doc_number}）" if doc_number else ""
    return f"《{title}》{number}{' '.join(p for p in path if p)}"


def _chinese(names: dict[str, str]):
    """A template function that shows a stored code (national, lead…) by its Chinese name."""
    return lambda code: names.get(code, code or "")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.globals.update(
        level_name=_chinese(LEVEL_NAMES), role_name=_chinese(ROLE_NAMES),
        link_kind=_chinese(LINK_KINDS), change_name=_chinese(CHANGE_NAMES),
        status_name=_chinese(STATUS_NAMES), citation=citation, unit_id=unit_id,
        validity_name=_chinese(VALIDITY_NAMES),
    )  # fmt: skip
    return env


templates = Jinja2Templates(env=_environment())


def _page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _problem(request: Request, error: Exception) -> HTMLResponse:
    """A lookup or input the KB cannot answer, as a page: what went wrong and what is close."""
    return problem_page(request, status_of(error), str(error), alternatives(error))


def is_page(request: Request) -> bool:
    """Whether a request is for the web page (its errors are pages too) or the JSON API."""
    path = request.url.path
    return path == "/" or path.startswith("/ui/")


def problem_page(
    request: Request, status: int, message: str, units: list | None = None
) -> HTMLResponse:
    """The error page: what went wrong, with the JSON API's status code."""
    return _page(request, "problem.html", status, message=message, units=units or [],
                 code=status)  # fmt: skip


def _choices(kb: Snapshot) -> dict[str, list[str]]:
    """What the level and region filters offer: every level, the regions the KB holds."""
    return {"levels": [lv.value for lv in Level], "regions": kb.regions()}


def _optional(value: str | None) -> str | None:
    """Empty form fields mean no filter."""
    return value.strip() or None if value else None


def _year(value: str | None, field: str) -> int | None:
    value = _optional(value)
    if value is None:
        return None
    if not value.isdigit() or len(value) != 4:
        raise FilterError(f"{field}: {value!r} is not a year such as 2023")
    return int(value)


@dataclass
class SearchForm:
    """The search page's form as the browser sends it: every field a string, empty = unset."""

    q: Text = ""
    exact: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    level: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    region: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    doc: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    unit: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    year_from: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    year_to: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    status: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""
    in_force_on: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = ""

    def filters(self) -> Filters:
        """The search filters the form asks for; FilterError names a field that is wrong."""
        return Filters(_optional(self.level), _optional(self.region), _optional(self.doc),
                       _optional(self.unit), _year(self.year_from, "year_from"),
                       _year(self.year_to, "year_to"), _optional(self.status),
                       _optional(self.in_force_on))  # fmt: skip


@router.get("/", response_class=HTMLResponse)
def search_page(
    request: Request, kb: Reader, searcher: SearcherDep, settings: SettingsDep,
    form: Annotated[SearchForm, Depends()],
) -> HTMLResponse:  # fmt: skip
    """The search box and its filters; results when there is a query."""
    context = {"form": form, "hits": None, "documents": kb.documents(),
               "unit_note": _unit_note(kb, form), "statuses": VERSION_CHOICES,
               **_choices(kb)}  # fmt: skip
    if not form.q.strip():
        return _page(request, "search.html", **context)
    try:
        mode = "phrase" if form.exact else "hybrid"
        hits = searcher.search(form.q, settings.top_k, form.filters(), mode)
    except (QueryError, FilterError) as error:
        return _page(request, "search.html", 422, error=str(error), **context)
    context["hits"] = [_hit(asdict(h)) for h in hits]
    kb.versions.with_validity(context["hits"], form.filters().in_force_on)
    return _page(request, "search.html", **context)


def _unit_note(kb: Snapshot, form: SearchForm) -> dict | None:
    """How the unit filter reads: the one unit, the units it could mean, or the closest."""
    if not _optional(form.unit):
        return None
    directory = kb.owners  # only when asked: it reads every unit tag
    try:
        return {"kind": "found", "units": [directory.resolve(form.unit, _optional(form.region))]}
    except AmbiguousUnit as error:
        return {"kind": "ambiguous", "units": error.candidates}
    except UnitNotFound as error:
        return {"kind": "unknown", "units": error.suggestions}


def _hit(hit: dict) -> dict:
    hit["runs"] = marks.runs(hit["text"], marks.hit_marks(hit["text"], hit["highlight"],
                                                          hit["targets"]))  # fmt: skip
    hit["chips"] = _chips(hit["units"])
    return hit


def _chips(units: list[dict]) -> list[dict]:
    """One chip per unit, with its strongest role: lead, responsible, supporting, mentioned."""
    order = {"lead": 0, "responsible": 1, "supporting": 2, "mentioned": 3}
    best: dict[str, dict] = {}
    for unit in units:
        known = best.get(unit["canonical"])
        if known is None or order.get(unit["role"], 4) < order.get(known["role"], 4):
            best[unit["canonical"]] = unit
    return sorted(best.values(), key=lambda u: order.get(u["role"], 4))


@router.get("/ui/documents", response_class=HTMLResponse)
def documents_page(request: Request, kb: Reader) -> HTMLResponse:
    documents = kb.versions.with_validity([asdict(d) for d in kb.documents()])
    return _page(request, "documents.html", documents=documents)


@router.get("/ui/documents/{ref}", response_class=HTMLResponse)
def document_page(request: Request, kb: Reader, directory: Directory, ref: str) -> HTMLResponse:
    """Metadata, the clause tree, what it implements and cites, coverage, who owns what."""
    try:
        doc = kb.find_document(ref)
    except DocumentNotFound as error:
        return _problem(request, error)
    links = kb.links.document(doc.doc_id)
    sources = {c["clause_id"]: c["sources"] for c in links["links"] if c["sources"]}
    return _page(
        request, "document.html", doc=doc, tree=clause_tree(kb.clauses(doc.doc_id)),
        links=links, sources=sources, coverage=kb.links.coverage(doc.doc_id),
        derived=kb.links.derived_counts(doc.doc_id),
        matrix=ownership_matrix(directory, [doc.doc_id], doc.title),
        versions=kb.versions.of(doc.doc_id),
    )  # fmt: skip


@router.get("/ui/clauses/{clause_id}", response_class=HTMLResponse)
def clause_page(request: Request, kb: Reader, clause_id: str) -> HTMLResponse:
    """The clause among its neighbours, its sources with the differences, its derived clauses."""
    clause = kb.clause(clause_id)
    if clause is None:
        return _problem(request, LookupError(f"clause: no clause {clause_id!r}"))
    siblings = kb.clauses(clause.doc_id)
    at = next(i for i, c in enumerate(siblings) if c.clause_id == clause_id)
    sources = kb.links.sources(clause_id)
    for source in sources:
        diff = source["diff"]
        source["source_runs"] = marks.runs(source["text"], marks.diff_marks(diff, "source"))
        source["local_runs"] = marks.runs(clause.text, marks.diff_marks(diff, "local"))
    return _page(
        request, "clause.html", clause=clause, doc=kb.document(clause.doc_id),
        before=siblings[max(0, at - 1):at], after=siblings[at + 1:at + 2],
        text_runs=marks.runs(clause.text, marks.target_marks(clause.text, clause.targets)),
        chips=_chips(clause.units), sources=sources,
        derived=kb.links.derived(clause_id),
        history=kb.versions.history(clause_id),
    )  # fmt: skip


@router.get("/ui/units", response_class=HTMLResponse)
def units_page(
    request: Request, directory: Directory, q: Text = "", region: FormField = None
) -> HTMLResponse:
    found = directory.units(_optional(q), _optional(region))
    return _page(request, "units.html", units=found, q=q, region=region or "")


@router.get("/ui/units/{ref}", response_class=HTMLResponse)
def unit_page(
    request: Request, directory: Directory, ref: str, region: FormField = None,
    role: FormField = "any",
) -> HTMLResponse:  # fmt: skip
    """A unit's names and its tasks with roles, by document (newest first)."""
    region = _optional(region)
    try:
        unit = directory.get(ref) or directory.resolve(ref, region)
        tasks = directory.tasks(unit, role, region)
    except (UnitNotFound, AmbiguousUnit) as error:
        return _problem(request, error)
    except ValueError as error:
        return _problem(request, FilterError(str(error)))
    documents = len({t.doc_id for t in tasks})
    return _page(request, "unit.html", unit=unit, tasks=tasks, documents=documents,
                 region=region or "", role=role)  # fmt: skip


@router.get("/ui/targets", response_class=HTMLResponse)
def targets_page(
    request: Request, kb: Reader, level: FormField = None, region: FormField = None,
    doc: FormField = None, year: FormField = None,
) -> HTMLResponse:  # fmt: skip
    """Every target, its metric lined up across documents; sorting and filtering in the page."""
    form = {"level": _optional(level), "region": _optional(region), "doc": _optional(doc),
            "year": _optional(year)}  # fmt: skip
    try:
        filters = Filters(level=form["level"], region=form["region"], doc=form["doc"])
        rows = kb.targets(filters, _year(year, "year"))
    except FilterError as error:
        return _problem(request, error)
    full_csv = "/targets?" + urlencode({"format": "csv", **{k: v for k, v in form.items() if v}})
    return _page(request, "targets.html", rows=rows[:TABLE_ROWS], total=len(rows), form=form,
                 full_csv=full_csv, **_choices(kb))  # fmt: skip
