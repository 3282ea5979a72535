"""A warmed process compiles nothing more in its first change: ``warm`` loads the kernels
linking runs, with the argument types linking gives them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# In a fresh process: warm, note every numba kernel's compiled signatures, add a document that
# links (004 implements 000), note them again.
SCRIPT = """
import json, sys, tempfile
from numba.core.registry import CPUDispatcher
from index import alignment, link_evidence
from index.kb import KnowledgeBase
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder

def compiled():
    return {f"{m.__name__}.{n}": sorted(map(str, k.signatures))
            for m in (alignment, link_evidence) for n, k in vars(m).items()
            if isinstance(k, CPUDispatcher)}

with tempfile.TemporaryDirectory() as folder:
    kb = KnowledgeBase(folder, encoder=FakeEncoder())
    kb.ingest([SEEDS["000"]])
    link_evidence.forget()
    kb.warm()
    warmed = compiled()
    kb.ingest([SEEDS["004"]])
    links = kb.store.db.execute("SELECT count(*) FROM clause_links").fetchone()[0]
    print(json.dumps({"warmed": warmed, "linked": compiled(), "links": links}))
"""


def test_warm_loads_every_kernel_the_first_link_needs():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["links"] > 0
    assert any(found["warmed"].values())
    assert found["linked"] == found["warmed"]
