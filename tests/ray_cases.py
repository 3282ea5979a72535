"""Embedding on a real local Ray cluster: a head and a second worker node, one CPU each.

The corpus is ingested through the cluster while one of its actors is SIGKILLed, and the KB
must equal a local ingest; cached wording must not reach the cluster; a dead address and a
killed driver must leave the KB at its last committed state. Ray missing fails this module.

tests/test_ray.py runs this module in a child pytest (Ray's native code can crash the
process that drives it); ``pytest tests/ray_cases.py`` runs it directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import ray  # not importorskip: without the ray extra these tests must fail
from typer.testing import CliRunner

from api.cli import app
from index.kb import DB_FILE, IngestReport, KnowledgeBase
from index.ray_embedding import ModelCheck, RayConfig, RayEmbedder, RayEmbeddingError
from index.search import Searcher
from tests.conftest import CORPUS, ROOT, SEEDS, free_port
from tests.fake_encoder import FakeEncoder

RAY = Path(sys.executable).with_name("ray")
ACTOR_TITLE = "ray::MapWorker(MapBatches(PassageEncoder))"
QUERIES = [
    "产教融合型企业能享受哪些优惠？",
    "市域产教联合体的经费保障",
    "重庆市发展改革委负责哪些任务",
]
CORPUS_KB_ENV = "POLICYKB_TEST_CORPUS_KB"  # a built KB of corpus/ to copy instead of building
runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.fixture(scope="session")
def corpus_kb(tmp_path_factory) -> Iterator[KnowledgeBase]:
    """A copy of the parent run's corpus KB (CORPUS_KB_ENV), else a fresh ingest of corpus/."""
    folder = tmp_path_factory.mktemp("kb") / "corpus"
    if given := os.environ.get(CORPUS_KB_ENV):
        shutil.copytree(given, folder)
    kb = KnowledgeBase(folder)
    if not given:
        assert not kb.ingest(sorted(CORPUS.iterdir())).failed
    yield kb
    kb.close()


@dataclass
class Cluster:
    """A running local cluster: its address and the pids of its `ray start` processes."""

    address: str
    nodes: list[int] = field(default_factory=list)


@pytest.fixture(scope="module", autouse=True)
def no_ray_token() -> Iterator[None]:
    """Every node and driver of these tests without Ray's token auth (none in ~/.ray needed)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_AUTH_MODE", "disabled")
        yield


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """`ray start --head` and a second node, each in its own session, all killed after."""
    temp = Path(tempfile.mkdtemp(prefix="pkb-ray-"))  # short: Ray's socket paths are limited
    address = f"127.0.0.1:{free_port()}"
    nodes: list[subprocess.Popen] = []
    try:
        port = address.rpartition(":")[2]
        head = ["--head", f"--port={port}", f"--temp-dir={temp}", "--include-dashboard=false"]
        nodes.append(_start_node(head, temp / "head.log"))
        _wait_for_head(address, nodes[0])
        nodes.append(_start_node([f"--address={address}"], temp / "worker.log"))
        _wait_for_nodes(address, 2)
        yield Cluster(address, [node.pid for node in nodes])
    finally:
        _stop_nodes(nodes)
        shutil.rmtree(temp, ignore_errors=True)


def _start_node(arguments: list[str], log: Path) -> subprocess.Popen:
    command = [str(RAY), "start", "--num-cpus=1", "--block", "--disable-usage-stats", *arguments]
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_for_head(address: str, head: subprocess.Popen) -> None:
    """Block until the head's GCS port answers (2 minutes at most)."""
    deadline = time.monotonic() + 120
    host, _, port = address.rpartition(":")
    while time.monotonic() < deadline:
        assert head.poll() is None, "`ray start --head` exited"
        with contextlib.suppress(OSError):
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        time.sleep(0.5)
    raise RuntimeError(f"the Ray head at {address} did not come up")


def _wait_for_nodes(address: str, count: int) -> None:
    """Block until the cluster has ``count`` live nodes (2 minutes at most)."""
    ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    try:
        deadline = time.monotonic() + 120
        while sum(node["Alive"] for node in ray.nodes()) < count:
            assert time.monotonic() < deadline, f"the cluster did not get {count} nodes"
            time.sleep(0.5)
    finally:
        ray.shutdown()


def _stop_nodes(nodes: list[subprocess.Popen]) -> None:
    """SIGKILL the `ray start` processes and all they started, and check none is left."""
    started = _tree({node.pid for node in nodes})
    for pid in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for node in nodes:
        node.wait(timeout=20)
    time.sleep(1)
    left = started & {process.pid for process in _processes()}
    assert not left, f"processes of the test cluster were left: {sorted(left)}"


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    pgid: int


def _processes() -> list[Process]:
    """Every live process of the machine (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and fields[0] != "Z":
            found.append(Process(int(entry.name), int(fields[1]), int(fields[2])))
    return found


def _tree(roots: set[int]) -> set[int]:
    """Live pids in the process groups of ``roots`` or under them (Ray's workers start their
    own sessions, so their group is not the node's)."""
    processes = _processes()
    found = {p.pid for p in processes if p.pgid in roots or p.pid in roots}
    while more := {p.pid for p in processes if p.ppid in found} - found:
        found |= more
    return found


def _actor_pids(cluster: Cluster) -> list[int]:
    """Pids of the embedding actors the cluster's nodes run."""
    pids = []
    for pid in sorted(_tree(set(cluster.nodes))):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if title.startswith(ACTOR_TITLE):
            pids.append(pid)
    return pids


def _cached_count(kb_folder: Path) -> int:
    """Vectors in the KB's cache, read as another process would."""
    try:
        with sqlite3.connect(f"file:{kb_folder / DB_FILE}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@dataclass
class Kill:
    """What the killer thread did: the actor it killed, and how many vectors were back then."""

    pid: int | None = None
    cached_then: int = 0


def _kill_an_actor_once_vectors_return(cluster: Cluster, kb_folder: Path, kill: Kill) -> None:
    """SIGKILL one embedding actor as soon as the first vectors of the job are cached."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and kill.pid is None:
        cached, actors = _cached_count(kb_folder), _actor_pids(cluster)
        if cached and actors:
            os.kill(actors[0], signal.SIGKILL)
            kill.pid, kill.cached_then = actors[0], cached
        time.sleep(0.05)


@dataclass
class RayRun:
    """The corpus ingested through the cluster, with an actor killed mid-job."""

    kb: KnowledgeBase
    report: IngestReport
    texts_sent: int
    kill: Kill


@pytest.fixture(scope="module")
def ray_run(cluster, tmp_path_factory) -> Iterator[RayRun]:
    folder = tmp_path_factory.mktemp("ray") / "kb"
    kb, kill = KnowledgeBase(folder), Kill()
    killer = threading.Thread(
        target=_kill_an_actor_once_vectors_return, args=(cluster, folder, kill), daemon=True
    )
    with RayEmbedder(RayConfig(cluster.address, actors=2, batch_size=8)) as embedder:
        killer.start()
        report = kb.ingest(sorted(CORPUS.iterdir()), embedder=embedder)
    kill.pid = kill.pid or -1  # stops the killer if the job ended first
    killer.join()
    yield RayRun(kb, report, embedder.texts_sent, kill)
    kb.close()


def assert_same_kb(kb: KnowledgeBase, local: KnowledgeBase, same_ids: bool = True) -> None:
    """Same documents, clause ids, windows (and window ids, unless a document was removed and
    added again); vectors at cosine ≥ 0.999; same search results."""
    doc_ids = [d.doc_id for d in local.documents()]
    assert [d.doc_id for d in kb.documents()] == doc_ids
    for doc_id in doc_ids:
        assert [c.clause_id for c in kb.clauses(doc_id)] == [
            c.clause_id for c in local.clauses(doc_id)
        ]
        ours, theirs = kb.store.window_ids(doc_id), local.store.window_ids(doc_id)
        assert _spans(kb, ours) == _spans(local, theirs)
        assert ours == theirs or not same_ids
        cosines = np.sum(kb.store.vectors_of(ours) * local.store.vectors_of(theirs), axis=1)
        assert cosines.min() >= 0.999, (doc_id, cosines.min())
    for query in QUERIES:
        for mode in ("dense", "hybrid"):
            ours = [h.clause_id for h in Searcher(kb).search(query, 5, mode=mode)]
            assert ours == [h.clause_id for h in Searcher(local).search(query, 5, mode=mode)]


def _spans(kb: KnowledgeBase, window_ids: list[int]) -> list[tuple[str, int, int]]:
    """(clause_id, start, end) of each window, in order."""
    windows = kb.store.windows_of(window_ids)
    clauses = kb.store.clause_rows(sorted({row for row, _ in windows.values()}))
    spans = (windows[w] for w in window_ids)
    return [(clauses[row]["clause_id"], span.start, span.end) for row, span in spans]


def test_an_ingest_on_the_cluster_equals_a_local_ingest(ray_run, corpus_kb):
    assert not ray_run.report.failed
    assert ray_run.report.windows_embedded == ray_run.texts_sent == corpus_kb.store.window_count()
    assert_same_kb(ray_run.kb, corpus_kb)


def test_an_actor_killed_mid_job_is_replaced_and_its_batches_retried(ray_run):
    assert ray_run.kill.pid and ray_run.kill.pid > 0, "no embedding actor was seen to kill"
    assert 0 < ray_run.kill.cached_then < ray_run.report.windows_embedded  # mid-job
    assert ray_run.kb.store.window_count() == ray_run.report.windows_embedded  # none lost


def test_cached_wording_is_not_sent_to_the_cluster(ray_run, cluster, corpus_kb, tmp_path):
    shutil.copytree(ray_run.kb.folder, tmp_path / "kb")
    kb = KnowledgeBase(tmp_path / "kb")
    doc_id = next(d.doc_id for d in kb.documents() if "市域产教联合体" in d.title)
    edited = tmp_path / SEEDS["002"].name
    text = SEEDS["002"].read_text(encoding="utf-8")
    edited.write_text(text.replace("加大财政经费支持力度", "加大财政经费投入和支持力度"), "utf-8")
    with RayEmbedder(RayConfig(cluster.address, actors=1)) as embedder:
        assert kb.remove(doc_id)
        again = kb.ingest([SEEDS["002"]], embedder=embedder)
        assert (again.windows_embedded, embedder.texts_sent) == (0, 0) and again.windows_cached
        assert_same_kb(kb, corpus_kb, same_ids=False)
        assert kb.remove(doc_id)
        changed = kb.ingest([edited], embedder=embedder)
    assert changed.added and changed.windows_embedded == embedder.texts_sent == 1
    assert changed.windows_cached == again.windows_cached - 1
    kb.close()


def test_an_unreachable_cluster_is_one_line_and_the_kb_is_unchanged(corpus_kb, tmp_path):
    shutil.copytree(corpus_kb.folder, tmp_path / "kb")
    before = _committed_state(tmp_path / "kb")
    dead = f"127.0.0.1:{free_port()}"
    for options, env in (
        (["--ray", "--ray-address", dead], {}),
        (["--ray"], {"POLICYKB_RAY_ADDRESS": dead}),
    ):
        result = runner.invoke(
            app, ["ingest", str(SEEDS["002"]), "--kb", str(tmp_path / "kb"), *options], env=env
        )
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            f"policykb: cannot reach the Ray cluster at {dead}: Connection refused;"
            " the KB is unchanged"
        ]
    assert _committed_state(tmp_path / "kb") == before


def _committed_state(folder: Path) -> tuple:
    """Documents, windows, cached vectors and manifest of the KB in ``folder``."""
    kb = KnowledgeBase(folder)
    try:
        documents = [(d.doc_id, kb.store.content_hash(d.doc_id)) for d in kb.documents()]
        counts = (kb.store.window_count(), _cached_count(folder))
        return documents, counts, (folder / "manifest.json").read_text()
    finally:
        kb.close()


def test_a_killed_driver_leaves_the_kb_at_its_last_commit(cluster, tmp_path):
    folder = tmp_path / "kb"
    KnowledgeBase(folder).ingest([SEEDS["004"]])
    committed = _committed_state(folder)
    rest = [str(SEEDS[key]) for key in ("000", "001", "002", "003")]
    ray_options = ["--ray", "--ray-address", cluster.address, "--ray-actors", "1"]
    command = [sys.executable, "-m", "api.cli", "ingest", *rest, "--kb", str(folder), *ray_options,
               "--ray-batch-size", "8"]  # fmt: skip
    driver = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        cached_before = _cached_count(folder)
        deadline = time.monotonic() + 300
        while _cached_count(folder) == cached_before and driver.poll() is None:
            assert time.monotonic() < deadline, "no vector came back from the cluster"
            time.sleep(0.05)
        assert driver.poll() is None, "the ingest ended before it could be killed"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    documents, (windows, cached), manifest = _committed_state(folder)
    assert (documents, windows, manifest) == (committed[0], committed[1][0], committed[2])
    assert cached > committed[1][1]  # the vectors that came back are kept for the next run
    kb = KnowledgeBase(folder)
    assert Searcher(kb).search(QUERIES[2], 3)  # still a working KB
    kb.close()


def test_without_an_address_a_local_instance_runs_the_job_and_stops(tmp_path):
    before = _descendants(os.getpid())
    result = runner.invoke(
        app, ["ingest", str(SEEDS["004"]), "--kb", str(tmp_path / "kb"), "--ray", "--ray-actors",
              "1"], env={"POLICYKB_RAY_ADDRESS": ""},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    embedded = int(re.search(r"(\d+) windows embedded", result.stdout)[1])
    kb = KnowledgeBase(tmp_path / "kb")
    assert "added 1" in result.stdout and embedded == kb.store.window_count() > 0
    kb.close()
    assert not ray.is_initialized()
    deadline = time.monotonic() + 30
    while (left := _descendants(os.getpid()) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, "the local Ray instance's processes outlived the command"


def _descendants(root: int) -> set[int]:
    """Live processes under ``root``: its children, their children, and so on."""
    processes, found = _processes(), {root}
    while more := {p.pid for p in processes if p.ppid in found} - found:
        found |= more
    return found - {root}


def test_without_ray_the_option_off_imports_no_ray(corpus_kb, tmp_path):
    shutil.copytree(corpus_kb.folder, tmp_path / "kb")
    script = (
        "import sys; from typer.testing import CliRunner; from api.cli import app;"
        f"r = CliRunner().invoke(app, ['ingest', {str(CORPUS)!r}, '--kb', "
        f"{str(tmp_path / 'kb')!r}]); assert r.exit_code == 0, r.output;"
        "print('unchanged 5' in r.output, 'ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True False"


def test_an_actor_on_another_backend_is_refused():
    encoder = FakeEncoder()
    check = ModelCheck("fake", encoder.name, encoder.dim, (0.0,) * encoder.dim, "openvino")
    with pytest.raises(RayEmbeddingError, match=r"torch.*openvino"):
        check.verify(encoder, "node-1")
