"""Writes over HTTP, one at a time: an ingest runs as a background job whose progress is read.

A second write while one runs is refused with the running job's id (409): the caller
decides to retry, and no request holds a thread while it waits. Jobs live in memory: the
server keeps the latest ``KEPT_JOBS``, and forgets them on restart (the KB keeps its state).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastapi import Request

from api.uploads import Accepted, Rejection, prune, store
from index.kb import IngestReport, KnowledgeBase

KEPT_JOBS = 200
log = logging.getLogger(__name__)
_STATE_LOCK = threading.Lock()


@dataclass(frozen=True)
class JobProgress:
    """Where a job is: the ingest's stage (parse, embed, …) and how far through it."""

    stage: str
    done: int = 0
    total: int = 0


@dataclass
class Job:
    """One write: queued → running → done or failed, with the ingest's report at the end."""

    id: str
    kind: str  # ingest | remove
    owner: str  # the name of the token that asked for it
    files: list[str]
    state: str = "queued"
    progress: JobProgress = field(default_factory=lambda: JobProgress("queued"))
    report: dict | None = None  # added, updated, unchanged, failed [{file, reason}], clauses
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def advance(self, stage: str, done: int, total: int) -> None:
        """The progress callback KnowledgeBase.ingest calls."""
        self.progress = JobProgress(stage, done, total)

    def to_dict(self) -> dict:
        return asdict(self)


class WriterBusy(Exception):
    """Another write holds the KB: ``job`` is the one running."""

    def __init__(self, job: Job):
        super().__init__(f"another write is running (job {job.id}); try again when it is done")
        self.job = job


class Writes:
    """The app's one writer and the jobs it ran, newest last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Job | None = None
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def recent(self, count: int = 10) -> list[Job]:
        return list(self._jobs.values())[-count:][::-1]

    def _claim(self, kind: str, owner: str, files: list[str]) -> Job:
        """A new job that holds the writer, or WriterBusy naming the one that holds it."""
        with self._lock:
            if self._running is not None:
                raise WriterBusy(self._running)
            job = Job(secrets.token_hex(8), kind, owner, files)
            self._running = job
            self._jobs[job.id] = job
            while len(self._jobs) > KEPT_JOBS:
                self._jobs.popitem(last=False)
        return job

    def _release(self, job: Job, kb: KnowledgeBase, sources: Path) -> None:
        """Drop stored uploads no document uses any more, then free the writer."""
        try:
            prune(sources, {Path(d.source).parent for d in kb.documents()})
        except Exception:  # a leftover file is harmless; the job's outcome stands
            log.exception("pruning %s failed", sources)
        job.finished = time.time()
        with self._lock:
            self._running = None

    def ingest(
        self, kb: KnowledgeBase, accepted: list[Accepted], rejected: list[Rejection],
        owner: str, sources: Path,
    ) -> Job:  # fmt: skip
        """Store the accepted files and ingest them in a background thread: the queued job."""
        job = self._claim("ingest", owner, [d.name for d in accepted])
        try:
            stored = {store(document, sources): document.name for document in accepted}
        except BaseException:
            job.state, job.error = "failed", "the uploaded files could not be stored"
            self._release(job, kb, sources)
            raise
        thread = threading.Thread(target=self._run_ingest, name=f"ingest-{job.id}", daemon=True,
                                  args=(job, kb, stored, rejected, sources))  # fmt: skip
        thread.start()
        return job

    def _run_ingest(
        self, job: Job, kb: KnowledgeBase, stored: dict[Path, str], rejected: list[Rejection],
        sources: Path,
    ) -> None:  # fmt: skip
        job.state = "running"
        try:
            report = kb.ingest(list(stored), job.advance)
            job.report = _report_dict(report, stored, rejected)
            job.state = "done" if report.added or report.updated or report.unchanged else "failed"
        except Exception as error:  # the ingest is atomic: the KB is as it was
            log.exception("ingest job %s failed", job.id)
            job.error = f"the ingest failed and the KB is unchanged: {type(error).__name__}"
            job.report = _report_dict(IngestReport(), stored, rejected, job.error)
            job.state = "failed"
        finally:
            job.progress = JobProgress(job.state, len(stored), len(stored))
            self._release(job, kb, sources)

    def remove(self, kb: KnowledgeBase, doc_id: str, owner: str, sources: Path) -> Job:
        """Remove a document now, holding the writer: the finished job."""
        job = self._claim("remove", owner, [doc_id])
        job.state = "running"
        try:
            found = kb.remove(doc_id)
            job.report = {"removed": [doc_id] if found else []}
            job.state = "done" if found else "failed"
            job.error = None if found else f"no document {doc_id!r} in the KB"
        except Exception as error:
            log.exception("remove job %s failed", job.id)
            job.state = "failed"
            job.error = f"the removal failed and the KB is unchanged: {type(error).__name__}"
        finally:
            self._release(job, kb, sources)
        return job


def _report_dict(
    report: IngestReport, stored: dict[Path, str], rejected: list[Rejection],
    error: str | None = None,
) -> dict:  # fmt: skip
    """The IngestReport with upload names, never server paths; refused files listed first."""
    failed = [r.to_dict() for r in rejected]
    failed += [{"file": stored.get(Path(path), Path(path).name), "reason": _named(reason, stored)}
               for path, reason in report.failed]  # fmt: skip
    if error:
        failed += [{"file": name, "reason": error} for name in stored.values()]
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "failed": failed, "clauses": report.clauses}  # fmt: skip


def _named(reason: str, stored: dict[Path, str]) -> str:
    """A reason that mentions a stored copy names the uploaded file instead."""
    for path, name in stored.items():
        reason = reason.replace(str(path), name)
    return reason


def app_writes(request: Request) -> Writes:
    """The app's one Writes, made on first use."""
    state = request.app.state
    with _STATE_LOCK:
        if not hasattr(state, "writes"):
            state.writes = Writes()
    return state.writes
