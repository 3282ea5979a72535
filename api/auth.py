"""Who may write, and how often: a Bearer token for the JSON API, the sign-in cookie for the page.

Tokens are checked against the KB's token store on every request, so a revoked token stops
working at once. Web form posts carry the cookie (HttpOnly, SameSite=Strict) and must come
from the page's own origin (Origin, else Referer): a CSRF defence that needs no form token.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from api.deps import get_kb, get_settings
from api.jobs import jobs_db
from index.tokens import TokenStore

COOKIE = "policykb_token"
COOKIE_SECONDS = 12 * 3600  # a sign-in lasts a working day
REALM = 'Bearer realm="policykb"'
_STATE_LOCK = threading.Lock()


class Refused(HTTPException):
    """A write refused: the status, a one-line reason, headers such as WWW-Authenticate, and
    ``extra`` fields of the JSON body (the running job's id of a 409)."""

    def __init__(
        self, status: int, reason: str, headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):  # fmt: skip
        super().__init__(status, reason, headers)
        self.extra = extra or {}


@dataclass(frozen=True)
class Writer:
    """Someone allowed to write: the name of the token they hold."""

    name: str


def token_store(request: Request) -> TokenStore:
    return TokenStore(get_kb(request).folder)


def bearer_writer(request: Request) -> Writer:
    """The JSON API's writer: 401 without ``Authorization: Bearer``, 403 with a wrong token."""
    header = request.headers.get("authorization")
    if header is None:
        raise Refused(401, "a token is required: Authorization: Bearer TOKEN"
                      " (the operator makes one with `policykb token create`)",
                      {"WWW-Authenticate": REALM})  # fmt: skip
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(401, "the Authorization header must read: Bearer TOKEN",
                      {"WWW-Authenticate": f'{REALM}, error="invalid_request"'})  # fmt: skip
    name = token_store(request).verify(token.strip())
    if name is None:
        raise Refused(403, "the token is not valid: unknown or revoked",
                      {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})  # fmt: skip
    return Writer(name)


def signed_in_as(request: Request) -> str | None:
    """The token name behind the page's sign-in cookie, or None (templates ask this)."""
    token = request.cookies.get(COOKIE)
    return token_store(request).verify(token) if token else None


def cookie_writer(request: Request) -> Writer:
    """The web page's writer: 401 when not signed in, 403 when the cookie's token is revoked."""
    if COOKIE not in request.cookies:
        raise Refused(401, "please sign in with a token first", {"WWW-Authenticate": REALM})
    name = signed_in_as(request)
    if name is None:
        raise Refused(403, "the signed-in token is not valid any more: sign in again")
    return Writer(name)


def check_same_origin(request: Request) -> None:
    """Refuse a form post that does not come from this site's own pages (CSRF)."""
    origin = request.headers.get("origin") or _origin_of(request.headers.get("referer"))
    own = f"{request.url.scheme}://{request.url.netloc}"
    if not origin:
        raise Refused(403, "a form post without an Origin or Referer header is refused")
    if origin != own:
        raise Refused(403, f"a form post from another site ({origin}) is refused")


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


class WriteRate:
    """At most ``per_minute`` writes per token in any 60 seconds, counted in the KB's
    jobs.sqlite so that the limit holds across worker processes; 429 with Retry-After past it."""

    def __init__(self, per_minute: int, folder: Path):
        self.per_minute = per_minute
        self.folder = folder

    def take(self, writer: Writer) -> None:
        now = time.time()
        with jobs_db(self.folder, immediate=True) as db:
            db.execute("DELETE FROM write_attempts WHERE at <= ?", (now - 60,))
            rows = db.execute("SELECT at FROM write_attempts WHERE token = ? ORDER BY at",
                              (writer.name,)).fetchall()  # fmt: skip
            times = [at for (at,) in rows]
            if len(times) >= self.per_minute:  # the oldest of the last per_minute must age out
                wait = max(1, math.ceil(times[-self.per_minute] + 60 - now))
                raise Refused(429, f"at most {self.per_minute} writes a minute per token;"
                              f" try again in {wait} s", {"Retry-After": str(wait)})  # fmt: skip
            db.execute("INSERT INTO write_attempts VALUES (?, ?)", (writer.name, now))


def write_rate(request: Request) -> WriteRate:
    """The app's rate limiter, made on first use from the settings."""
    state = request.app.state
    with _STATE_LOCK:
        if not hasattr(state, "write_rate"):
            state.write_rate = WriteRate(get_settings(request).writes_per_minute,
                                         get_kb(request).folder)  # fmt: skip
    return state.write_rate


def api_writer(request: Request) -> Writer:
    """A write over the JSON API: a valid Bearer token, within its rate."""
    writer = bearer_writer(request)
    write_rate(request).take(writer)
    return writer


def web_writer(request: Request) -> Writer:
    """A write from the web page: signed in, posted from this site, within the rate."""
    writer = cookie_writer(request)
    check_same_origin(request)
    write_rate(request).take(writer)
    return writer


def job_reader(request: Request) -> Writer:
    """Who may read a job: a Bearer token, else the sign-in cookie (the page polls with it)."""
    if "authorization" in request.headers:
        return bearer_writer(request)
    return cookie_writer(request)


ApiWriter = Annotated[Writer, Depends(api_writer)]
WebWriter = Annotated[Writer, Depends(web_writer)]
JobReader = Annotated[Writer, Depends(job_reader)]
