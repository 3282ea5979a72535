"""`policykb serve --workers 2` as a real server on 127.0.0.1 over a copy of the corpus KB.

Both workers answer searches; jobs, the one-writer rule and the write rate hold across them,
since they live in the KB folder (jobs.sqlite, an flock'ed writer.lock), not in a process;
a job whose worker is killed reads as failed, and the next write goes ahead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from api.jobs import WriterBusy, Writes
from index.tokens import TokenStore
from tests.conftest import ROOT, _wait_until_up, free_port
from tests.test_uploads import GOOD_TEXT, _long_document, copy_kb, wait_for

QUERY = "产教融合型企业能享受哪些优惠？"
PER_MINUTE = 3


@dataclass
class Served:
    """The server's URL, its tokens, the KB folder and the worker pids seen so far."""

    url: str
    folder: Path
    tokens: dict[str, str]
    process: subprocess.Popen
    workers: set[int] = field(default_factory=set)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def on(self, pid: int | None = None, avoid: set[int] = frozenset()) -> httpx.Client:
        """A keep-alive client whose connection worker ``pid`` accepted (else any worker not
        in ``avoid``): each new connection goes to whichever worker accepts it first."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            client = httpx.Client(base_url=self.url, timeout=60)
            try:
                worker = client.get("/health").json()["worker"]
            except httpx.TransportError:
                client.close()
                time.sleep(0.2)
                continue
            self.workers.add(worker)
            if worker == pid or (pid is None and worker not in avoid):
                return client
            client.close()
        raise AssertionError(f"no connection reached worker {pid or 'other than ' + str(avoid)}")

    def two_workers(self) -> tuple[httpx.Client, httpx.Client]:
        """A client on each of two different workers."""
        first = self.on()
        pid = first.get("/health").json()["worker"]
        return first, self.on(avoid={pid})


def gone(pid: int, seconds: float = 60) -> None:
    """Wait until every thread of process ``pid`` has exited, so its files are closed and its
    locks free: a kill is delivered at once, but the ingest's thread may take a moment, and
    until it has gone the process keeps its files (its main thread already a zombie)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return
        if threads == [str(pid)] and "\nState:\tZ" in status:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs {seconds} s after kill -9")


@pytest.fixture(scope="module")
def served(corpus_kb, tmp_path_factory):
    folder = tmp_path_factory.mktemp("workers") / "kb"
    copy_kb(corpus_kb, folder).close()
    store = TokenStore(folder)
    tokens = {name: store.create(name)[1] for name in ("writer", "other", "hasty")}
    port = free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--kb", str(folder), "--port", str(port),
               "--workers", "2"]  # fmt: skip
    env = {**os.environ, "POLICYKB_WRITES_PER_MINUTE": str(PER_MINUTE)}
    log = open(folder.parent / "server.log", "w+b")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log,
                               start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log, seconds=300)  # two models load on a busy machine
        yield Served(url, folder, tokens, process)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the supervisor, which stops its workers; if it does not exit in time (it
    waits on a booting worker's health check), kill its whole session, workers too."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_both_workers_answer_searches_over_one_state(served):
    answers = []
    for client in served.two_workers():
        with closing(client):
            health = client.get("/health").json()
            response = client.get("/search", params={"q": QUERY, "top_k": 3})
            assert response.status_code == 200
            answers.append((health["worker"], health["generation"],
                            [h["clause_id"] for h in response.json()["results"]]))  # fmt: skip
    (first, generation, hits), (second, generation_2, hits_2) = answers
    assert first != second and first != served.process.pid  # workers, not the supervisor
    assert generation == generation_2 and hits and hits == hits_2


def test_the_write_rate_holds_across_workers(served):
    one, two = served.two_workers()
    with closing(one), closing(two):
        statuses = [client.delete("/documents/none", headers=served.auth("hasty")).status_code
                    for client in (one, one, two, two)]  # fmt: skip
    assert statuses == [404] * PER_MINUTE + [429]  # per process, worker two would allow both


def test_one_writer_and_jobs_across_workers_and_a_killed_workers_job_fails(served):
    runner, reader = served.two_workers()
    with closing(runner), closing(reader):
        documents = reader.get("/health").json()["documents"]
        upload = [("files", ("专项行动.txt", _long_document(300)))]
        started = runner.post("/documents", files=upload, headers=served.auth("writer"))
        assert started.status_code == 202
        job_id = started.json()["job"]
        job = reader.get(f"/jobs/{job_id}", headers=served.auth("writer")).json()
        assert job["state"] in ("queued", "running"), job  # read by the other worker
        pid = job["worker"]
        assert pid == runner.get("/health").json()["worker"]
        again = [("files", ("养老.txt", GOOD_TEXT.encode()))]
        for busy in (
            reader.post("/documents", files=again, headers=served.auth("other")),
            reader.delete("/documents/anything", headers=served.auth("other")),
        ):
            assert busy.status_code == 409 and busy.json()["job"] == job_id  # fmt: skip
    os.kill(pid, signal.SIGKILL)
    gone(pid)

    with closing(served.on(avoid={pid})) as client:
        killed = client.get(f"/jobs/{job_id}", headers=served.auth("writer")).json()
        assert killed["state"] == "failed" and f"pid {pid}" in killed["error"], killed
        assert "stopped before it finished" in killed["error"]
        assert client.get("/health").json()["documents"] == documents  # nothing committed
        after = client.post("/documents", files=again, headers=served.auth("writer"))
        assert after.status_code == 202  # the dead worker's lock is gone
        done = wait_for(client, after.json()["job"], served.auth("writer"))
    assert done["state"] == "done" and len(done["report"]["added"]) == 1, done

    # the worker the supervisor started in place of the killed one
    with closing(served.on(avoid=set(served.workers))) as fresh:
        seen = fresh.get(f"/jobs/{job_id}", headers=served.auth("writer")).json()
        assert seen["state"] == "failed"
        found = fresh.get("/search", params={"q": "社区嵌入式养老服务驿站", "top_k": 1}).json()
        assert found["results"][0]["doc_id"] == done["report"]["added"][0]


# --- the job store itself, without a server -------------------------------------------------


def test_a_job_whose_lock_is_freed_reads_as_failed_and_frees_the_writer(tmp_path):
    """What another worker sees: busy while the job's lock is held, failed once the OS frees
    it (its process died) without the job having finished."""
    job, lock = Writes(tmp_path)._claim("remove", "alice", ["doc-1"])
    other = Writes(tmp_path)
    with pytest.raises(WriterBusy) as busy:
        other._claim("remove", "bob", ["doc-2"])
    assert busy.value.job_id == job.id
    assert other.get(job.id).state == "queued"  # its lock is held: it runs
    lock.release()  # what the OS does when the process dies
    failed = other.get(job.id)
    assert failed.state == "failed" and "stopped before it finished" in failed.error
    assert f"pid {os.getpid()}" in failed.error
    _, next_lock = other._claim("remove", "bob", ["doc-2"])
    next_lock.release()


def test_only_the_latest_jobs_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr("api.jobs.KEPT_JOBS", 3)
    writes = Writes(tmp_path)
    ids = []
    for n in range(5):
        job, lock = writes._claim("remove", "alice", [f"doc-{n}"])
        job.state = "done"
        writes._save(job)
        lock.release()
        ids.append(job.id)
    assert [job.id for job in writes.recent()] == ids[:1:-1]
    assert writes.get(ids[0]) is None
