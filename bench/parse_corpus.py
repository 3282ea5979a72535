"""Benchmark: parse a corpus (default ../shared/corpora/lawrefbook) and report speed, memory,
clause/unit/target counts and the files that failed, with their reasons.

    python bench/parse_corpus.py [FOLDER] [--sample N]
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from collections import Counter
from pathlib import Path

from api.cli import expand_paths
from ingest.pipeline import parse_file
from ingest.readers.base import IngestError

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "lawrefbook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--sample", type=int, default=0, help="parse only the first N files")
    args = parser.parse_args()
    files = [f for f in expand_paths([args.folder]) if f.name != "_index.md"]
    if args.sample:
        files = files[: args.sample]
    clauses = units = targets = 0
    failures: Counter[str] = Counter()
    examples: dict[str, str] = {}
    start = time.perf_counter()
    for path in files:
        try:
            parsed = parse_file(path)
        except IngestError as error:
            failures[error.reason] += 1
            examples.setdefault(error.reason, str(path))
            continue
        clauses += len(parsed.clauses)
        units += sum(len(c.units) for c in parsed.clauses)
        targets += sum(len(c.targets) for c in parsed.clauses)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    failed = sum(failures.values())
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"files: {len(files)}, parsed: {len(files) - failed}, failed: {failed}")
    rate = f"{len(files) / seconds:.1f} files/s, {clauses / seconds:.0f} clauses/s"
    print(f"time: {seconds:.1f} s ({rate})")
    print(f"peak memory (RSS): {peak_mb:.0f} MB")
    print(f"clauses: {clauses}, unit tags: {units}, targets: {targets}")
    for reason, count in failures.most_common():
        print(f"  failed {count}: {reason} (e.g. {examples[reason]})")


if __name__ == "__main__":
    main()
