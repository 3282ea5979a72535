"""The Ray cluster cases (tests/ray_cases.py), run in a child pytest.

Ray's native code (``_raylet.so``) once segfaulted while a driver started, taking the whole
test run down with it. In a child process such a crash fails this test alone; a child
killed by a signal is run once more, and a second crash fails the test. Any failed case
fails it, with the child's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.conftest import ROOT

CASES = ROOT / "tests" / "ray_cases.py"
EXPECTED_CASES = 8  # so a collection that finds fewer cases cannot pass


def _run_cases(corpus_folder, report) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", str(CASES), "-q", "-p", "no:cacheprovider",
               f"--junitxml={report}"]  # fmt: skip
    env = {**os.environ, "POLICYKB_TEST_CORPUS_KB": str(corpus_folder)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_ray_cluster_cases_pass_in_a_child_process(corpus_kb, tmp_path):
    report = tmp_path / "ray.xml"
    result = _run_cases(corpus_kb.folder, report)
    if result.returncode < 0:  # killed by a signal: Ray's native crash, not an assertion
        print(f"the Ray cases' process died of signal {-result.returncode}; running them again")
        result = _run_cases(corpus_kb.folder, report)
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, output
    suite = ET.parse(report).getroot().find("testsuite")
    counts = {key: int(suite.get(key)) for key in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": EXPECTED_CASES, "failures": 0, "errors": 0, "skipped": 0}, output
