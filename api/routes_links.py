"""Routes for cross-level links: a clause's sources and derived clauses, a document's links
and coverage. They read what ingest computed."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import Reader
from index.kb import Snapshot

router = APIRouter()


def _known_clause(kb: Snapshot, clause_id: str) -> None:
    if kb.clause(clause_id) is None:
        raise HTTPException(404, f"no clause {clause_id!r}")


@router.get("/clauses/{clause_id}/sources")
def clause_sources(kb: Reader, clause_id: str) -> dict:
    """Source clauses in higher-level documents, best first: score, kind, differences."""
    _known_clause(kb, clause_id)
    return {"clause_id": clause_id, "sources": kb.links.sources(clause_id)}


@router.get("/clauses/{clause_id}/derived")
def clause_derived(kb: Reader, clause_id: str) -> dict:
    """Local clauses derived from this clause, grouped by region."""
    _known_clause(kb, clause_id)
    return {"clause_id": clause_id, "derived": kb.links.derived(clause_id)}


@router.get("/documents/{doc_id}/links")
def document_links(kb: Reader, doc_id: str) -> dict:
    return kb.links.document(kb.find_document(doc_id).doc_id)


@router.get("/documents/{doc_id}/coverage")
def document_coverage(kb: Reader, doc_id: str) -> dict:
    return kb.links.coverage(kb.find_document(doc_id).doc_id)
