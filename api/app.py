"""The HTTP API: thin typed routes over one KnowledgeBase.

Routes that read are plain ``def``: FastAPI runs them in its thread pool, so requests are
served in parallel (SQLite, FAISS and torch release the GIL). Each request reads one
snapshot of the KB (api.deps.Reader), so it sees any ingest committed before it began,
from this process or another, and never half of one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import routes_documents, routes_links, routes_owners, routes_versions, security, web
from api.deps import Reader, SearcherDep, SettingsDep
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
from index.filters import MAX_FILTER_CHARS, VERSION_CHOICES, YEARS, FilterError, Filters
from index.kb import KnowledgeBase
from index.owners import AmbiguousUnit, UnitNotFound
from index.records import DocumentNotFound, clause_tree
from index.search import MAX_QUERY_CHARS, MODES, QueryError
from index.vector_index.base import SEARCH_THREADS


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    """The app for the KB in ``settings.home`` (or an open ``kb``). Called without arguments,
    it is the factory each `serve --workers N` process runs: settings from POLICYKB_*."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.kb = kb or KnowledgeBase(
            settings.home, settings.model, vector_index=settings.vector_index,
            backend=settings.backend, query_adapter=settings.query_adapter,
            reranker=settings.reranker, passage=settings.passage,
            background_merges=settings.background_merges,
        )  # fmt: skip
        _threads_per_request(settings.serve_threads)
        app.state.kb.warm()  # the model and jieba now, not on the first query
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
    app.include_router(routes_versions.router)
    app.include_router(web.router)
    app.include_router(routes_documents.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    security.install(app, settings)
    return app


def _threads_per_request(threads: int) -> None:
    """Torch and FAISS threads per call. One by default: concurrent requests already fill the
    cores, and two OpenMP teams per request fight each other (10× slower on a busy machine).
    Requests run in at most REQUEST_THREADS threads at once: more only fight for the GIL,
    and the event loop, starved of it, stalls every connection."""
    import torch

    torch.set_num_threads(threads)
    SEARCH_THREADS.set(threads)  # FAISS's count is per thread: each request thread takes it
    anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS


REQUEST_THREADS = 4 * (os.cpu_count() or 1)  # routes running at once; the rest wait their turn
FilterText = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS)]
Year = Annotated[int | None, Query(ge=YEARS[0], le=YEARS[1])]


def _add_routes(app: FastAPI) -> None:
    @app.get("/search", response_model=SearchResponse)
    def search(
        searcher: SearcherDep,
        settings: SettingsDep,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="query")],
        top_k: Annotated[int | None, Query(ge=1, le=100)] = None,
        mode: Annotated[str, Query(description=" | ".join(MODES))] = "hybrid",
        level: FilterText = None,
        region: FilterText = None,
        doc: FilterText = None,
        unit: FilterText = None,
        year_from: Year = None,
        year_to: Year = None,
        status: Annotated[
            str | None, Query(max_length=MAX_FILTER_CHARS, description=" | ".join(VERSION_CHOICES))
        ] = None,
        in_force_on: Annotated[str | None, Query(max_length=40, description="2020-01-01")] = None,
    ) -> dict:
        filters = Filters(level, region, doc, unit, year_from, year_to, status, in_force_on)
        hits = searcher.search(q, top_k or settings.top_k, filters, mode)
        results = searcher.kb.versions.with_validity([asdict(h) for h in hits], filters.in_force_on)
        return {"query": q, "mode": mode, "results": results}

    @app.get("/documents", response_model=list[DocumentSummary])
    def documents(kb: Reader) -> list[dict]:
        return [asdict(d) for d in kb.documents()]

    @app.get("/documents/{doc_id}", response_model=DocumentOut)
    def document(kb: Reader, doc_id: str) -> dict:
        found = kb.document(doc_id)
        if found is None:
            raise HTTPException(404, f"no document {doc_id!r}")
        tree = clause_tree(kb.clauses(doc_id))
        return {**asdict(found), "tree": [asdict(c) for c in tree]}

    @app.get("/clauses/{clause_id}", response_model=ClauseDetail)
    def clause(kb: Reader, clause_id: str) -> dict:
        found = kb.clause(clause_id)
        if found is None:
            raise HTTPException(404, f"no clause {clause_id!r}")
        detail = asdict(found)
        detail.pop("children")
        return {**detail, "document": asdict(kb.document(found.doc_id))}

    @app.get("/health", response_model=Health)
    def health(kb: Reader) -> dict:
        model = kb.manifest.model if kb.manifest else None
        return {"status": "ok", **kb.stats(), "model": model, "worker": os.getpid()}


def _answer(request: Request, status: int, body: dict, headers=None) -> Response:
    """An error as JSON for the API, as the error page for the web page (/ and /ui/…)."""
    if web.is_page(request):
        return web.problem_page(request, status, body["message"], body.pop("units", None))
    body.pop("units", None)
    return JSONResponse(body, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    async def unprocessable(request: Request, error: Exception) -> Response:
        return _answer(request, 422, {"message": str(error)})

    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'query')}: {e['msg']}"
            for e in error.errors()
        ]
        return _answer(request, 422, {"message": "; ".join(problems)})

    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        body = {"message": str(error.detail), **getattr(error, "extra", {})}
        return _answer(request, error.status_code, body, error.headers)

    async def lookup_failed(request: Request, error: LookupError) -> Response:
        """404 for an unknown unit or document (with suggestions), 409 for an ambiguous one."""
        units = alternatives(error)
        body = {"message": str(error), "candidates": [u.summary() for u in units], "units": units}
        return _answer(request, status_of(error), body)

    async def crashed(request: Request, _error: Exception) -> Response:
        """A bug: a one-line 500, never a traceback (the server's log has it)."""
        return _answer(request, 500, {"message": "internal error: the server log says more"})

    app.add_exception_handler(UnitNotFound, lookup_failed)
    app.add_exception_handler(AmbiguousUnit, lookup_failed)
    app.add_exception_handler(DocumentNotFound, lookup_failed)
    app.add_exception_handler(QueryError, unprocessable)
    app.add_exception_handler(FilterError, unprocessable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crashed)
