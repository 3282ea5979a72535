"""Shared fixtures: the seed corpus parsed once, and paths to ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.models import ParsedDocument
from ingest.pipeline import parse_file

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
