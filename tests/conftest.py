"""Shared fixtures: the seed corpus parsed once, and paths to ../shared."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from index.kb import KnowledgeBase
from ingest.models import ParsedDocument
from ingest.pipeline import parse_file
from tests.fake_encoder import FakeEncoder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
SEEDS = {
    "000": CORPUS / "000_50fc5dbf15d91002.txt",
    "001": CORPUS / "001_1a4bd3b1525ab7dc.txt",
    "002": CORPUS / "002_c38e9f94dd47766c.txt",
    "003": CORPUS / "003_c5a91ebe5d0ca360.txt",
    "004": CORPUS / "004_546bb02346796a8a.txt",
}


@pytest.fixture(scope="session")
def seeds() -> dict[str, ParsedDocument]:
    return {key: parse_file(path) for key, path in SEEDS.items()}


def top_labels(parsed: ParsedDocument) -> list[str]:
    """Labels of the numbered clauses at the top of the tree, in order."""
    return [c.label for c in parsed.clauses if c.depth == 0 and c.label]


def editable_seed_kb(tmp_path: Path) -> KnowledgeBase:
    """A fake-encoder KB of copies of seeds 000 and 004 under tmp_path/docs, so a test may
    edit them in place."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for key in ("000", "004"):
        shutil.copy(SEEDS[key], docs)
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest(sorted(docs.iterdir()))
    return kb


def shared(relative: str) -> Path:
    """A file under ../shared; the test is skipped where that folder is absent."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture(scope="session")
def corpus_kb(tmp_path_factory):
    """A real KB of corpus/: the real model, FAISS and SQLite (built once per session)."""
    from index.kb import KnowledgeBase

    kb = KnowledgeBase(tmp_path_factory.mktemp("kb") / "corpus")
    report = kb.ingest(sorted(CORPUS.iterdir()))
    assert not report.failed, report.failed
    yield kb
    kb.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def corpus_server(corpus_kb, tmp_path_factory):
    """`policykb serve` on the corpus KB, as a real uvicorn process on 127.0.0.1: its URL."""
    port = free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--kb", str(corpus_kb.folder),
               "--port", str(port)]  # fmt: skip
    log = open(tmp_path_factory.mktemp("server") / "stderr.log", "w+b")  # noqa: SIM115
    server = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen, log, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.5)
    log.seek(0)
    raise RuntimeError(f"policykb serve did not come up at {url}:\n{log.read().decode()[-2000:]}")
