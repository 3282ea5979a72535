"""Hardening of every response: security headers, a request size limit, CORS only if asked.

The page's CSP allows only this site's own script and stylesheet (api/static); inline
``style`` attributes stay allowed for the coverage meter. FastAPI's /docs and /redoc load
Swagger UI and ReDoc from their CDN, so they get a CSP that allows it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Refused
from api.settings import Settings
from api.uploads import MB

_COMMON = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline';"
    f" img-src 'self' data:; connect-src 'self'; form-action 'self'; {_COMMON}"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    " style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    " img-src 'self' data: https://fastapi.tiangolo.com; worker-src 'self' blob:;"
    f" connect-src 'self'; {_COMMON}"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # same-origin posts keep Origin/Referer for the CSRF check
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (headers outermost, so even a 413 has them) and the 401/403 handler."""
    app.add_exception_handler(Refused, _refused)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization"],
        )  # fmt: skip
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_request_mb * MB))
    docs = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    app.add_middleware(SecurityHeaders, docs_paths=docs)


async def _refused(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Refused)
    body = {"message": str(error.detail), **error.extra}
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


class SecurityHeaders:
    """CSP, nosniff, Referrer-Policy and frame options on every HTTP response."""

    def __init__(self, app: ASGIApp, docs_paths: set[str]):
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                for name, value in {**HEADERS, "Content-Security-Policy": csp}.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    """Raised into the app when a body without Content-Length grows past the limit."""


class BodyLimit:
    """413 for a request body over ``max_bytes``: by Content-Length before anything is read,
    else as the body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and not length.strip().isdigit():
            await JSONResponse({"message": "Content-Length is not a number"}, 400)(
                scope, receive, send
            )
            return
        if length is not None and int(length) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received, over, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # the app's answer to a cut-off body is replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes / MB:g} MB"
        await JSONResponse({"message": message}, 413)(scope, receive, send)
