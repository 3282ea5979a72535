"""Routes for validity and versions: a document's status and versions, a clause's history.
Statuses are resolved at every write (index.versions); ``on`` reads them on another day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import Reader
from index.filters import FilterError
from ingest.dates import checked_date

router = APIRouter()
Day = Annotated[str | None, Query(max_length=40, description="the day statuses are read on")]


def _day(on: str | None) -> str | None:
    try:
        return checked_date(on) if on else None
    except ValueError as error:
        raise FilterError(f"on: {error}") from None


@router.get("/documents/{doc_id}/versions")
def document_versions(kb: Reader, doc_id: str, on: Day = None) -> dict:
    """The document's status with its reasons, and every version of it, oldest first."""
    day = _day(on)
    return kb.versions.of(kb.find_document(doc_id).doc_id, day)


@router.get("/clauses/{clause_id}/history")
def clause_history(kb: Reader, clause_id: str, on: Day = None) -> dict:
    """The clause's article across the versions of its document: added, changed, dropped."""
    day = _day(on)
    if kb.clause(clause_id) is None:
        raise HTTPException(404, f"no clause {clause_id!r}")
    return kb.versions.history(clause_id, day)
