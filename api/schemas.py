"""Request and response shapes of the HTTP API (and of `policykb search --json`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UnitOut(BaseModel):
    name: str
    canonical: str
    role: str
    kind: str
    region: str | None = None


class TargetOut(BaseModel):
    value: float
    unit: str
    qualifier: str | None
    year: int | None
    text: str
    metric: str | None = None


class HighlightOut(BaseModel):
    """Character offsets into ``text``: the best-matching sentence and the matched words."""

    sentence: tuple[int, int] | None
    spans: list[tuple[int, int]]


class ClauseCitation(BaseModel):
    """Which clause of which document: what every clause-level answer starts with."""

    clause_id: str
    doc_id: str
    doc_title: str
    doc_number: str | None
    level: str
    region: str | None


class SearchResult(ClauseCitation):
    label: str
    path: list[str]
    text: str
    units: list[UnitOut]
    targets: list[TargetOut]
    score: float
    highlight: HighlightOut
    matched_by: dict[str, int] = Field(description="retriever → rank (dense, bm25, phrase)")
    validity: dict | None = Field(
        default=None, description="the document's status on in_force_on (else today), with reasons"
    )


class SearchResponse(BaseModel):
    query: str
    mode: str
    results: list[SearchResult]


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    doc_number: str | None
    issuers: list[str]
    date: str | None
    level: str
    region: str | None
    status: str
    source: str
    clauses: int
    extraction: str = "text"  # "ocr": read off page images, so the wording may hold misreads


class ClauseOut(BaseModel):
    clause_id: str
    doc_id: str
    label: str
    path: list[str]
    text: str
    position: int
    depth: int
    kind: str
    parent_id: str | None
    units: list[UnitOut]
    targets: list[TargetOut]
    citations: list[dict]


class ClauseNode(ClauseOut):
    children: list[ClauseNode] = []


class DocumentOut(DocumentSummary):
    tree: list[ClauseNode]


class ClauseDetail(ClauseOut):
    document: DocumentSummary


class Health(BaseModel):
    status: str
    documents: int
    clauses: int
    windows: int = Field(description="passages embedded; equals vectors in every state")
    vectors: int
    generation: int = Field(
        description="the committed state served: +1 per ingest, remove or merge of segments"
    )
    model: str | None
    worker: int = Field(description="the server process (pid) that answered")


class UnitSummary(BaseModel):
    id: str
    name: str
    canonical: str
    region: str | None
    kind: str


class ErrorOut(BaseModel):
    message: str
    candidates: list[UnitSummary] = Field(
        default=[], description="for an unknown unit, the closest; for an ambiguous one, each"
    )


class UnitListed(UnitSummary):
    aliases: list[str]
    tasks: int = Field(description="clauses where the unit leads, is responsible or supports")
    roles: dict[str, int] = Field(description="role → clauses")


class UnitsResponse(BaseModel):
    units: list[UnitListed]


class CoUnit(BaseModel):
    canonical: str
    role: str


class TaskOut(BaseModel):
    clause_id: str
    doc_id: str
    doc_title: str
    doc_number: str | None
    region: str | None
    label: str
    path: list[str] = Field(description="the clause path, ending with its own label")
    text: str
    role: str
    co_units: list[CoUnit]


class TasksResponse(BaseModel):
    unit: UnitListed
    tasks: list[TaskOut]


class MatrixRowOut(BaseModel):
    clause_id: str
    doc_id: str
    label: str
    path: list[str]
    text: str
    roles: dict[str, str] = Field(description="canonical unit → lead | responsible | supporting")


class MatrixOut(BaseModel):
    title: str
    units: list[UnitSummary]
    rows: list[MatrixRowOut]


class TargetRowOut(ClauseCitation):
    path: list[str]
    text: str
    metric: str | None
    metric_group: str | None = Field(description="the same for targets that count one thing")
    value: float
    unit: str
    qualifier: str | None
    year: int | None


class TargetsResponse(BaseModel):
    targets: list[TargetRowOut]
