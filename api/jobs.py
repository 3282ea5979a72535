"""Writes over HTTP, one at a time across every worker process: an ingest runs as a background
job whose progress is read.

Jobs live in ``jobs.sqlite`` in the KB folder (beside kb.sqlite, never inside it), so any
worker answers ``GET /jobs/{id}``; the KB keeps the latest ``KEPT_JOBS``. One writer at a
time: a job holds an ``flock`` on the KB's ``writer.lock`` for its whole run, which the OS
frees when its process dies. A second write meanwhile is refused with the running job's id
(409): the caller decides to retry, and no request holds a thread while it waits. A job
still "running" while nobody holds the lock was cut off with its process: it reads as failed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastapi import Request

from api.uploads import Accepted, Rejection, prune, store
from index.kb import IngestReport, KnowledgeBase

KEPT_JOBS = 200
JOBS_FILE = "jobs.sqlite"  # jobs and recent write attempts (api.auth.WriteRate), all workers
LOCK_FILE = "writer.lock"  # flock'ed by the running job
ACTIVE = ("queued", "running")
log = logging.getLogger(__name__)
_STATE_LOCK = threading.Lock()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    owner TEXT NOT NULL, files TEXT NOT NULL, state TEXT NOT NULL, stage TEXT NOT NULL,
    done INTEGER NOT NULL, total INTEGER NOT NULL, report TEXT, error TEXT,
    created REAL NOT NULL, finished REAL, worker INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS write_attempts (token TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS write_attempts_by_token ON write_attempts (token, at);
"""
_COLUMNS = "id, kind, owner, files, state, stage, done, total, report, error, created, finished," \
    " worker"  # fmt: skip
_ready: set[Path] = set()  # jobs databases this process has created the schema of


@contextmanager
def jobs_db(folder: Path, immediate: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to the KB's jobs.sqlite (made on first use, mode 0600); ``immediate``:
    inside one write transaction, which serialises the workers' claims and checks."""
    path = Path(folder) / JOBS_FILE
    if path not in _ready or not path.exists():
        _ready.discard(path)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        if path not in _ready:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            _ready.add(path)
        if not immediate:
            yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


class WriterLock:
    """An exclusive ``flock`` on the KB's writer.lock: held by one job at a time in any
    process, and freed by the OS when the process holding it dies."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting: False when someone holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the flock
            self._fd = None


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
    worker: int = field(default_factory=os.getpid)  # the server process that runs it

    def to_dict(self) -> dict:
        return asdict(self)

    def row(self) -> tuple:
        return (self.id, self.kind, self.owner, json.dumps(self.files, ensure_ascii=False),
                self.state, self.progress.stage, self.progress.done, self.progress.total,
                None if self.report is None else json.dumps(self.report, ensure_ascii=False),
                self.error, self.created, self.finished, self.worker)  # fmt: skip

    @classmethod
    def from_row(cls, row: tuple) -> Job:
        (id_, kind, owner, files, state, stage, done, total, report, error, created,
         finished, worker) = row  # fmt: skip
        return cls(id_, kind, owner, json.loads(files), state, JobProgress(stage, done, total),
                   None if report is None else json.loads(report), error, created, finished,
                   worker)  # fmt: skip


class WriterBusy(Exception):
    """Another write holds the KB: ``job_id`` is the one running."""

    def __init__(self, job_id: str | None):
        running = f" (job {job_id})" if job_id else ""
        super().__init__(f"another write is running{running}; try again when it is done")
        self.job_id = job_id


def _orphaned(db: sqlite3.Connection) -> None:
    """Jobs still queued or running while nobody holds the writer lock: their process died."""
    db.execute(
        "UPDATE jobs SET state = 'failed', stage = 'failed', finished = ?, error = 'the server"
        " process (pid ' || worker || ') that ran this job stopped before it finished; nothing"
        " of it was committed and the KB is as it was' WHERE state IN (?, ?)",
        (time.time(), *ACTIVE),
    )


class Writes:
    """The KB's one writer and the jobs it ran, shared by every worker through jobs.sqlite."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def get(self, job_id: str) -> Job | None:
        """The job; one left running by a dead process is settled as failed first."""
        job = self._read(job_id)
        if job is not None and job.state in ACTIVE:
            self._settle_orphans()
            job = self._read(job_id)
        return job

    def _read(self, job_id: str) -> Job | None:
        with jobs_db(self.folder) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else Job.from_row(row)

    def recent(self, count: int = 10) -> list[Job]:
        self._settle_orphans()
        with jobs_db(self.folder) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?",
                              (count,)).fetchall()  # fmt: skip
        return [Job.from_row(row) for row in rows]

    def _settle_orphans(self) -> None:
        """Mark active jobs failed when the writer lock is free (their process is gone)."""
        with jobs_db(self.folder, immediate=True) as db:
            probe = WriterLock(self.folder)
            if probe.acquire():
                try:
                    _orphaned(db)
                finally:
                    probe.release()

    def _claim(self, kind: str, owner: str, files: list[str]) -> tuple[Job, WriterLock]:
        """A new job holding the writer lock, or WriterBusy naming the job that holds it."""
        lock = WriterLock(self.folder)
        with jobs_db(self.folder, immediate=True) as db:
            if not lock.acquire():
                row = db.execute("SELECT id FROM jobs WHERE state IN (?, ?) ORDER BY seq DESC"
                                 " LIMIT 1", ACTIVE).fetchone()  # fmt: skip
                raise WriterBusy(row[0] if row else None)
            try:
                _orphaned(db)  # we hold the lock: nobody else is running
                job = Job(secrets.token_hex(8), kind, owner, files)
                db.execute(f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                           job.row())  # fmt: skip
                db.execute("DELETE FROM jobs WHERE seq <= (SELECT MAX(seq) FROM jobs) - ?",
                           (KEPT_JOBS,))  # fmt: skip
            except BaseException:
                lock.release()
                raise
        return job, lock

    def _save(self, job: Job) -> None:
        with jobs_db(self.folder) as db:
            db.execute(f"UPDATE jobs SET ({_COLUMNS}) = ({', '.join('?' * 13)}) WHERE id = ?",
                       (*job.row(), job.id))  # fmt: skip

    def _advance(self, job: Job, stage: str, done: int, total: int) -> None:
        """The progress callback KnowledgeBase.ingest calls."""
        job.progress = JobProgress(stage, done, total)
        with jobs_db(self.folder) as db:
            db.execute("UPDATE jobs SET stage = ?, done = ?, total = ? WHERE id = ?",
                       (stage, done, total, job.id))  # fmt: skip

    def _release(self, job: Job, lock: WriterLock, kb: KnowledgeBase, sources: Path) -> None:
        """Drop stored uploads no document uses any more, record the outcome, then free the
        writer (in that order: a job is never active in the database without its lock)."""
        try:
            prune(sources, {Path(d.source).parent for d in kb.documents()})
        except Exception:  # a leftover file is harmless; the job's outcome stands
            log.exception("pruning %s failed", sources)
        job.finished = time.time()
        try:
            self._save(job)
        finally:
            lock.release()

    def ingest(
        self, kb: KnowledgeBase, accepted: list[Accepted], rejected: list[Rejection],
        owner: str, sources: Path,
    ) -> Job:  # fmt: skip
        """Store the accepted files and ingest them in a background thread: the queued job."""
        job, lock = self._claim("ingest", owner, [d.name for d in accepted])
        try:
            stored = {store(document, sources): document.name for document in accepted}
        except BaseException:
            job.state, job.error = "failed", "the uploaded files could not be stored"
            self._release(job, lock, kb, sources)
            raise
        thread = threading.Thread(target=self._run_ingest, name=f"ingest-{job.id}", daemon=True,
                                  args=(job, lock, kb, stored, rejected, sources))  # fmt: skip
        thread.start()
        return job

    def _run_ingest(
        self, job: Job, lock: WriterLock, kb: KnowledgeBase, stored: dict[Path, str],
        rejected: list[Rejection], sources: Path,
    ) -> None:  # fmt: skip
        job.state = "running"
        try:
            self._save(job)
            report = kb.ingest(list(stored), lambda *at: self._advance(job, *at))
            job.report = _report_dict(report, stored, rejected)
            job.state = "done" if report.added or report.updated or report.unchanged else "failed"
        except Exception as error:  # the ingest is atomic: the KB is as it was
            log.exception("ingest job %s failed", job.id)
            job.error = f"the ingest failed and the KB is unchanged: {type(error).__name__}"
            job.report = _report_dict(IngestReport(), stored, rejected, job.error)
            job.state = "failed"
        finally:
            job.progress = JobProgress(job.state, len(stored), len(stored))
            self._release(job, lock, kb, sources)

    def remove(self, kb: KnowledgeBase, doc_id: str, owner: str, sources: Path) -> Job:
        """Remove a document now, holding the writer: the finished job."""
        job, lock = self._claim("remove", owner, [doc_id])
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
            job.progress = JobProgress(job.state, 1, 1)
            self._release(job, lock, kb, sources)
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
    """The app's Writes over its KB's folder, made on first use."""
    state = request.app.state
    with _STATE_LOCK:
        if not hasattr(state, "writes"):
            state.writes = Writes(state.kb.folder)
    return state.writes
