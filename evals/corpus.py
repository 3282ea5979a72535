"""The STARD corpus: lawrefbook's national files, ingested with `policykb ingest`.

``python -m evals.corpus KB`` builds the STARD KB; ``--lexical KB`` the same documents without
the model (BM25 experiments while the real KB embeds).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from index.encoder import Encoder
from index.kb import KnowledgeBase

LAWREF = Path("../shared/corpora/lawrefbook")
EXCLUDED = "DLC"  # local regulations: not part of the national benchmark corpus


def national_files(root: Path = LAWREF) -> list[Path]:
    """Every .md file of lawrefbook outside DLC/, sorted."""
    return sorted(p for p in root.rglob("*.md") if EXCLUDED not in p.relative_to(root).parts)


def build_kb(kb: Path, root: Path = LAWREF) -> int:
    """Ingest the national files into ``kb`` with the project's own `policykb ingest`.

    Exit status 1 is expected: lawrefbook holds a few laws twice (in two folders, or two
    dated copies with the same title and date), and ingest refuses the second copy.
    """
    paths = [p.resolve() for p in national_files(root)]
    command = [str(Path(sys.executable).parent / "policykb"), "ingest", *map(str, paths)]
    status = subprocess.run([*command, "--kb", str(kb)], check=False).returncode
    if status not in (0, 1):
        raise SystemExit(f"policykb ingest failed with status {status}")
    return status


class _NoVectors(Encoder):
    """A one-dimensional constant vector for every text: a KB for BM25 experiments only."""

    name, dim = "none-lexical-only", 1

    def encode_queries(self, texts):
        return np.ones((len(texts), 1), dtype=np.float32)

    def encode_passages(self, texts, progress=None):
        return np.ones((len(texts), 1), dtype=np.float32)


def build_lexical_kb(kb: Path, root: Path = LAWREF) -> None:
    """The same documents without the model: BM25 experiments while the dense KB embeds."""
    paths = [p.resolve() for p in national_files(root)]
    report = KnowledgeBase(kb, encoder=_NoVectors()).ingest(paths)
    print(f"{len(report.added)} documents, {len(report.failed)} refused, {report.seconds}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--lexical"]:
        build_lexical_kb(Path(sys.argv[2]))
    else:
        build_kb(Path(sys.argv[1]))
