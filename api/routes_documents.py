"""Writes: upload and remove documents (JSON API and web page), jobs, sign-in and sign-out.

Upload routes read the body only after the token is checked, so a caller without one is
refused before anything is parsed. Vetting and storing run in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.auth import (
    COOKIE,
    COOKIE_SECONDS,
    ApiWriter,
    JobReader,
    Refused,
    Writer,
    check_same_origin,
    cookie_writer,
    signed_in_as,
    token_store,
    web_writer,
)
from api.deps import KB, Reader, SettingsDep, get_kb, get_settings
from api.jobs import KEPT_JOBS, Job, WriterBusy, app_writes
from api.uploads import Incoming, Refusal, UploadLimits, Vetted, vet, with_doc_id
from api.web import templates
from index.kb import UPLOADS, KnowledgeBase

router = APIRouter()
templates.env.globals["signed_in_as"] = signed_in_as  # base.html shows sign-in or sign-out
DocId = Annotated[str, Path(max_length=200)]
JOB_WORDS = {
    "queued": "排队中",
    "running": "进行中",
    "done": "完成",
    "failed": "失败",
    "parse": "解析",
    "embed": "向量化",
}  # a job's states and stages, as the page says them
UPLOAD_BODY = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": "documents, and NAME.meta.json sidecars"}},
    }}}},
}  # fmt: skip


# --- shared by the API and the page ---------------------------------------------------------


async def _incoming(request: Request, limits: UploadLimits) -> list[Incoming]:
    """The files of the multipart field ``files``, each read up to one byte past the limit;
    with the field ``doc_id``, the one document's sidecar names it (a new version)."""
    try:
        form = await request.form()
    except Exception as error:  # a malformed multipart body
        raise Refused(400, f"the upload is not readable multipart/form-data: {error}") from None
    try:
        parts = form.getlist("files")
        if len(parts) > limits.files:
            raise Refused(413, f"{len(parts)} files in one upload; at most {limits.files}")
        files = []
        for part in parts:
            if not isinstance(part, UploadFile):
                raise Refused(422, "files: every part must be a file, not a text field")
            data = await part.read(limits.file_bytes + 1)
            if part.filename or data:  # a browser sends an empty part when none is chosen
                files.append(Incoming(part.filename or "", data, len(data) > limits.file_bytes))
        doc_id = form.get("doc_id")
    finally:
        await form.close()
    if not files:
        raise Refused(422, "files: no file uploaded (send multipart/form-data field `files`)")
    if isinstance(doc_id, str) and doc_id.strip():
        try:
            return with_doc_id(files, doc_id.strip())
        except Refusal as refusal:
            raise Refused(422, f"doc_id: {refusal.reason}") from None
    return files


def _start_ingest(
    request: Request, kb: KnowledgeBase, files: list[Incoming], writer: Writer
) -> tuple[Job, Vetted]:
    """Vet the files and start the ingest of those accepted: the job, or Refused."""
    vetted = vet(files, UploadLimits.from_settings(get_settings(request)))
    if not vetted.accepted:
        statuses = {r.status for r in vetted.rejected}
        listed = "; ".join(f"{r.file}: {r.reason}" for r in vetted.rejected)
        raise Refused(statuses.pop() if len(statuses) == 1 else 422,
                      f"nothing to ingest: {listed}",
                      extra={"rejected": [r.to_dict() for r in vetted.rejected]})  # fmt: skip
    try:
        job = app_writes(request).ingest(kb, vetted.accepted, vetted.rejected, writer.name,
                                         kb.folder / UPLOADS)  # fmt: skip
    except WriterBusy as busy:
        raise Refused(409, str(busy), extra={"job": busy.job_id}) from None
    except OSError as error:
        raise Refused(507, f"the upload could not be stored: {error.strerror}") from None
    return job, vetted


def _remove(request: Request, kb: KnowledgeBase, doc_id: str, writer: Writer) -> Job:
    try:
        job = app_writes(request).remove(kb, doc_id, writer.name, kb.folder / UPLOADS)
    except WriterBusy as busy:
        raise Refused(409, str(busy), extra={"job": busy.job_id}) from None
    if job.state == "failed":  # a report without the document: it was not in the KB
        raise Refused(500 if job.report is None else 404, job.error or "not removed",
                      extra={"job": job.id})  # fmt: skip
    return job


def _job(request: Request, job_id: str) -> Job:
    job = app_writes(request).get(job_id)
    if job is None:
        raise Refused(404, f"no job {job_id!r} (the KB keeps its last {KEPT_JOBS} jobs)")
    return job


# --- the JSON API -----------------------------------------------------------------------


@router.post("/documents", status_code=202, openapi_extra=UPLOAD_BODY,
             responses={401: {}, 403: {}, 409: {}, 413: {}, 415: {}, 429: {}})  # fmt: skip
async def upload_documents(request: Request, writer: ApiWriter, kb: KB) -> JSONResponse:
    """Upload documents (and sidecars) to ingest as a background job: 202 with its id."""
    files = await _incoming(request, UploadLimits.from_settings(get_settings(request)))
    job, vetted = await run_in_threadpool(_start_ingest, request, kb, files, writer)
    body = {"job": job.id, "state": job.state, "url": f"/jobs/{job.id}",
            "accepted": [d.name for d in vetted.accepted],
            "rejected": [r.to_dict() for r in vetted.rejected]}  # fmt: skip
    return JSONResponse(body, status_code=202, headers={"Location": f"/jobs/{job.id}"})


@router.delete("/documents/{doc_id}", responses={401: {}, 403: {}, 409: {}, 429: {}})
def delete_document(request: Request, writer: ApiWriter, kb: KB, doc_id: DocId) -> dict:
    """Remove a document, its clauses and vectors (atomic, like `policykb remove`)."""
    job = _remove(request, kb, doc_id, writer)
    return {"removed": doc_id, "job": job.id}


@router.get("/jobs/{job_id}", responses={401: {}, 403: {}})
def job_status(request: Request, _reader: JobReader, job_id: str) -> dict:
    """A write's state (queued, running, done, failed), progress and report."""
    return _job(request, job_id).to_dict()


# --- the web page -----------------------------------------------------------------------


def _render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _refused_page(request: Request, error: Refused) -> HTMLResponse:
    if error.status_code == 401:
        return _render(request, "signin.html", 401, error=error.detail, next=request.url.path)
    extra = error.extra
    return _render(request, "refused.html", error.status_code, message=error.detail,
                   job=extra.get("job"), rejected=extra.get("rejected", []))  # fmt: skip


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never //host or a full URL (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/upload"


@router.get("/ui/signin", response_class=HTMLResponse, include_in_schema=False)
def signin_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _render(request, "signin.html", next=_safe_next(next))


@router.post("/ui/signin", include_in_schema=False)
async def signin(request: Request) -> Response:
    """Check the pasted token and keep it in an HttpOnly, SameSite=Strict cookie."""
    form = await request.form()
    token, target = str(form.get("token") or "").strip(), _safe_next(str(form.get("next") or ""))
    try:
        check_same_origin(request)
        if not token or await run_in_threadpool(token_store(request).verify, token) is None:
            raise Refused(403, "this token is not valid: unknown or revoked")
    except Refused as error:
        return _render(request, "signin.html", error.status_code, error=error.detail, next=target)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, max_age=COOKIE_SECONDS, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/ui/signout", include_in_schema=False)
def signout(request: Request) -> Response:
    try:
        check_same_origin(request)
    except Refused as error:
        return _refused_page(request, error)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.get("/ui/upload", response_class=HTMLResponse, include_in_schema=False)
def upload_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The upload form and the latest jobs, for a signed-in user."""
    try:
        cookie_writer(request)
    except Refused as error:
        return _refused_page(request, error)
    return _render(request, "upload.html", limits=settings, jobs=app_writes(request).recent(),
                   words=JOB_WORDS)  # fmt: skip


@router.post("/ui/upload", include_in_schema=False)
async def upload_form(request: Request) -> Response:
    """The page's upload: the same checks as POST /documents; then the job's page."""
    try:
        writer = await run_in_threadpool(web_writer, request)
        files = await _incoming(request, UploadLimits.from_settings(get_settings(request)))
        job, _ = await run_in_threadpool(_start_ingest, request, get_kb(request), files, writer)
    except Refused as error:
        return _refused_page(request, error)
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, kb: Reader, job_id: str) -> HTMLResponse:
    """A job's progress (the page's script polls /jobs/{id}) and, once done, its report."""
    try:
        cookie_writer(request)
        job = _job(request, job_id)
    except Refused as error:
        return _refused_page(request, error)
    report = job.report or {}
    ids = [*report.get("added", []), *report.get("updated", []), *report.get("unchanged", [])]
    titles = {doc_id: doc.title for doc_id in ids if (doc := kb.document(doc_id))}
    return _render(request, "job.html", job=job, titles=titles, words=JOB_WORDS)


@router.post("/ui/documents/{doc_id}/remove", include_in_schema=False)
def remove_form(request: Request, doc_id: DocId) -> Response:
    """The document page's remove button."""
    try:
        job = _remove(request, get_kb(request), doc_id, web_writer(request))
    except Refused as error:
        return _refused_page(request, error)
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)
