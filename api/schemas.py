"""Request and response shapes of the HTTP API (and of `policykb search --json`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UnitOut(BaseModel):
    name: str
    canonical: str
    role: str
    kind: str


class TargetOut(BaseModel):
    value: float
    unit: str
    qualifier: str | None
    year: int | None
    text: str


class HighlightOut(BaseModel):
    """Character offsets into ``text``: the best-matching sentence and the matched words."""

    sentence: tuple[int, int] | None
    spans: list[tuple[int, int]]


class SearchResult(BaseModel):
    clause_id: str
    doc_id: str
    doc_title: str
    doc_number: str | None
    level: str
    region: str | None
    label: str
    path: list[str]
    text: str
    units: list[UnitOut]
    targets: list[TargetOut]
    score: float
    highlight: HighlightOut
    matched_by: dict[str, int] = Field(description="retriever → rank (dense, bm25, phrase)")


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
    vectors: int
    model: str | None


class ErrorOut(BaseModel):
    message: str
