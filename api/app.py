"""The HTTP API: thin typed routes over one KnowledgeBase.

Routes are ``async``: they run one at a time on the event loop, which is what one SQLite
connection and one model want; a query takes milliseconds after the model is loaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import routes_links, routes_owners, web
from api.deps import KB, SearcherDep, SettingsDep
from api.errors import alternatives, status_of
from api.schemas import (
    ClauseDetail,
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    Health,
    SearchResponse,
)
from api.settings import Settings
from index.filters import FilterError, Filters
from index.kb import KnowledgeBase
from index.owners import AmbiguousUnit, UnitNotFound
from index.records import DocumentNotFound, clause_tree
from index.search import MAX_QUERY_CHARS, MODES, QueryError, Searcher


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    """The app for the KB in ``settings.home`` (or an open ``kb``)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.kb = kb or KnowledgeBase(settings.home, settings.model)
        app.state.searcher = Searcher(app.state.kb)
        if app.state.kb.manifest:
            app.state.kb.encoder  # noqa: B018 - load the model now, not on the first query
        yield
        if kb is None:
            app.state.kb.close()

    app = FastAPI(
        title="PolicyKB 政策知识库",
        description="Search Chinese policy documents by meaning, keyword and exact wording.",
        lifespan=lifespan,
        responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    )
    app.state.settings = settings
    _add_error_handlers(app)
    _add_routes(app)
    app.include_router(routes_owners.router)
    app.include_router(routes_links.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    return app


def _add_routes(app: FastAPI) -> None:
    @app.get("/search", response_model=SearchResponse)
    async def search(
        searcher: SearcherDep,
        settings: SettingsDep,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="query")],
        top_k: Annotated[int | None, Query(ge=1, le=100)] = None,
        mode: Annotated[str, Query(description=" | ".join(MODES))] = "hybrid",
        level: str | None = None,
        region: str | None = None,
        doc: str | None = None,
        unit: str | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
    ) -> dict:
        filters = Filters(level, region, doc, unit, year_from, year_to)
        hits = searcher.search(q, top_k or settings.top_k, filters, mode)
        return {"query": q, "mode": mode, "results": [asdict(h) for h in hits]}

    @app.get("/documents", response_model=list[DocumentSummary])
    async def documents(kb: KB) -> list[dict]:
        return [asdict(d) for d in kb.documents()]

    @app.get("/documents/{doc_id}", response_model=DocumentOut)
    async def document(kb: KB, doc_id: str) -> dict:
        found = kb.document(doc_id)
        if found is None:
            raise HTTPException(404, f"no document {doc_id!r}")
        tree = clause_tree(kb.clauses(doc_id))
        return {**asdict(found), "tree": [asdict(c) for c in tree]}

    @app.get("/clauses/{clause_id}", response_model=ClauseDetail)
    async def clause(kb: KB, clause_id: str) -> dict:
        found = kb.clause(clause_id)
        if found is None:
            raise HTTPException(404, f"no clause {clause_id!r}")
        detail = asdict(found)
        detail.pop("children")
        return {**detail, "document": asdict(kb.document(found.doc_id))}

    @app.get("/health", response_model=Health)
    async def health(kb: KB) -> dict:
        model = kb.manifest.model if kb.manifest else None
        return {"status": "ok", **kb.stats(), "model": model}


def _add_error_handlers(app: FastAPI) -> None:
    async def unprocessable(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"message": str(error)}, status_code=422)

    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'query')}: {e['msg']}"
            for e in error.errors()
        ]
        return JSONResponse({"message": "; ".join(problems)}, status_code=422)

    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"message": str(error.detail)}, status_code=error.status_code)

    async def lookup_failed(_request: Request, error: LookupError) -> JSONResponse:
        """404 for an unknown unit or document (with suggestions), 409 for an ambiguous one."""
        body = {"message": str(error), "candidates": [u.summary() for u in alternatives(error)]}
        return JSONResponse(body, status_code=status_of(error))

    app.add_exception_handler(UnitNotFound, lookup_failed)
    app.add_exception_handler(AmbiguousUnit, lookup_failed)
    app.add_exception_handler(DocumentNotFound, lookup_failed)
    app.add_exception_handler(QueryError, unprocessable)
    app.add_exception_handler(FilterError, unprocessable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
