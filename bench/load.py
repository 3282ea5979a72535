"""Load test: the real server on 127.0.0.1, the real model, a KB of corpus/.

Client threads (each with its own keep-alive connection) send requests back to back for a
fixed time at 1, 4, 16 and 64 concurrent clients, to the JSON search and to the search
page, in rounds that pass over every level in turn (so a busy spell of the machine weighs
on all levels alike); then 16 clients search while `policykb ingest` adds documents from
another process. Reports requests/s and p50/p95/p99 latency per level, errors (any status
but 200), torn results (a hit whose clause does not resolve to the same text afterwards)
and how long after the ingest exits the server serves the new state.

    python bench/load.py [--kb DIR] [--seconds S] [--rounds R] [--clients 1,4,16,64]
                         [--ingest N] [--ratio N] [--workers N]

``--ratio N`` measures only the scaling of /search: N clients against one, back to back on
one server, ``--rounds`` times, and prints the median ratio (for a busy machine, where the
full run's levels drift apart). ``--workers N`` is passed to `policykb serve` (default: one
per core, as serve's own); the server's CPU is that of its supervisor and all its workers.

The client runs on the same machine as the server: it takes part of the CPU too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LAWREF = ROOT.parent / "shared" / "corpora" / "lawrefbook"


@dataclass
class Run:
    """What one load level measured."""

    name: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # ms, of the 200 responses
    errors: int = 0
    hits: dict[str, str] = field(default_factory=dict)  # clause_id → text, from search JSON
    server_cpu: float = 0.0  # CPU seconds the server process used meanwhile (all its threads)
    client_cpu: float = 0.0  # and this process, the clients: they share the machine

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def cpu_per_request(self) -> float:
        """Server CPU milliseconds per answered request: what a request costs, whatever
        else the machine runs."""
        return self.server_cpu * 1000 / max(len(self.latencies), 1)

    def row(self) -> str:
        return (
            f"| {self.name} | {self.clients} | {len(self.latencies) + self.errors} |"
            f" {self.throughput:.1f} | {self.percentile(50):.0f} | {self.percentile(95):.0f}"
            f" | {self.percentile(99):.0f} | {self.errors} | {self.cpu_per_request:.0f} |"
            f" {self.server_cpu / self.seconds:.2f} | {self.client_cpu / self.seconds:.2f} |"
        )


def queries() -> list[str]:
    lines = (ROOT / "tests/eval/queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def policykb(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def start_server(kb: Path, log: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    """`policykb serve` on a free port; returns once every worker answers /health."""
    port = free_port()
    output = log.open("wb")  # the access log too: one line a request
    command = policykb("serve", "--kb", str(kb), "--port", str(port), "--workers", str(workers))
    # A session of its own: killing it (os.killpg) stops the supervisor and its workers.
    server = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=output,
                              start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    seen: set[int] = set()
    while time.monotonic() < deadline and server.poll() is None:
        try:  # a new connection each time: each goes to whichever worker accepts it
            seen.add(httpx.get(f"{url}/health").json()["worker"])
            if len(seen) >= workers:
                return server, url
        except httpx.TransportError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    raise SystemExit(f"the server did not come up:\n{log.read_text()[-2000:]}")


def _stat(pid: int | str | None) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state, ppid, …), [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants: `serve --workers N` runs a supervisor and N workers."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)):
            parents[int(entry.name)] = int(fields[1])
    tree = [pid]
    for member in tree:
        tree += [child for child, parent in parents.items() if parent == member]
    return tree


def cpu_seconds(pid: int | None, tree: bool = False) -> float:
    """User + system CPU seconds of a process (and with ``tree`` its descendants) so far
    (Linux /proc), 0 when unknown."""
    if pid is None:
        return 0.0
    total = 0
    for member in process_tree(pid) if tree else [pid]:
        if fields := _stat(member):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def hammer(url: str, run: Run, paths: list[str], until: threading.Event,
           server: int | None = None) -> Run:  # fmt: skip
    """``run.clients`` threads send requests for ``paths`` in turn until ``until`` is set."""
    lock = threading.Lock()

    def client(offset: int) -> None:
        mine: list[float] = []
        errors = 0
        found: dict[str, str] = {}
        with httpx.Client(base_url=url, timeout=120) as http:
            i = offset
            while not until.is_set():
                started = time.perf_counter()
                try:
                    response = http.get(paths[i % len(paths)])
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    mine.append((time.perf_counter() - started) * 1000)
                    if paths[i % len(paths)].startswith("/search"):
                        results = response.json()["results"]
                        found.update((h["clause_id"], h["text"]) for h in results)
                errors += not ok
                i += 1
        with lock:
            run.latencies += mine
            run.errors += errors
            run.hits.update(found)

    threads = [threading.Thread(target=client, args=(n * 7,)) for n in range(run.clients)]
    own, cpu = cpu_seconds(os.getpid()), cpu_seconds(server, tree=True)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds += time.perf_counter() - started
    run.server_cpu += cpu_seconds(server, tree=True) - cpu
    run.client_cpu += cpu_seconds(os.getpid()) - own
    return run


def timed(seconds: float) -> threading.Event:
    """An event set after ``seconds``."""
    done = threading.Event()
    threading.Timer(seconds, done.set).start()
    return done


def torn(url: str, hits: dict[str, str]) -> int:
    """Hits whose clause no longer resolves to the text the search returned (nothing is
    removed during the run, so every one must)."""
    with httpx.Client(base_url=url, timeout=60) as http:
        return sum(
            http.get(f"/clauses/{cid}").json().get("text") != text for cid, text in hits.items()
        )


def during_ingest(
    url: str, kb: Path, files: list[Path], clients: int, pid: int
) -> tuple[Run, float, str]:
    """Searches while `policykb ingest` runs in another process; the freshness delay."""
    before = httpx.get(f"{url}/health").json()
    paths = [f"/search?q={q}" for q in queries()]
    run = Run("/search during ingest", clients)
    stop = threading.Event()
    load = threading.Thread(target=hammer, args=(url, run, paths, stop, pid))
    load.start()
    ingest = subprocess.run(policykb("ingest", *map(str, files), "--kb", str(kb)),
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    exited = time.perf_counter()
    delay = float("nan")
    while time.perf_counter() - exited < 10:
        if httpx.get(f"{url}/health").json()["generation"] != before["generation"]:
            delay = time.perf_counter() - exited
            break
        time.sleep(0.01)
    time.sleep(1)  # keep searching on the new state a moment
    stop.set()
    load.join()
    summary = ingest.stdout.strip().splitlines()[-1] if ingest.stdout.strip() else ingest.stderr
    return run, delay, summary


def sample_files(count: int) -> list[Path]:
    """``count`` lawrefbook documents spread over the corpus (read from ../shared)."""
    if not LAWREF.exists() or count <= 0:
        return []
    files = sorted(LAWREF.rglob("*.md"))
    return files[:: max(1, len(files) // count)][:count]


def build_kb(folder: Path) -> None:
    if not (folder / "kb.sqlite").exists():
        subprocess.run(policykb("ingest", "corpus", "--kb", str(folder)), cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kb",
        type=Path,
        default=ROOT / ".kb" / "load",
        help="KB of corpus/ to start from (built if missing; copied per run)",
    )
    parser.add_argument("--seconds", type=float, default=5, help="per load level and round")
    parser.add_argument("--rounds", type=int, default=3, help="passes over all levels")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--ingest", type=int, default=5, help="lawrefbook files to ingest")
    parser.add_argument(
        "--ratio",
        type=int,
        default=0,
        help="only /search at this many clients against one, back to back",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="`policykb serve --workers` [default: one per core]")  # fmt: skip
    args = parser.parse_args()
    build_kb(args.kb)
    levels = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb"
        shutil.copytree(args.kb, kb)
        server, url = start_server(kb, Path(tmp) / "server.log", args.workers)
        try:
            if args.ratio:
                ratio(url, args, server.pid)
            else:
                report(url, kb, levels, args, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


def report(url: str, kb: Path, levels: list[int], args, pid: int) -> None:
    health = httpx.get(f"{url}/health").json()
    print(f"# load test: {os.cpu_count()} cores, {args.workers} worker process(es),"
          f" python {platform.python_version()}"
          f", load average before {os.getloadavg()[0]:.1f}; KB of corpus/: {health['documents']}"
          f" documents, {health['clauses']} clauses, {health['vectors']} vectors")  # fmt: skip
    searches = [f"/search?q={q}" for q in queries()]
    pages = [f"/?q={q}" for q in queries()]
    with httpx.Client(base_url=url, timeout=120) as http:  # every query once: torch warms
        for path in searches + pages:  # up per input shape, the first time it sees one
            http.get(path)
    hammer(url, Run("warm-up", 4), searches + pages, timed(3))
    print(
        "| endpoint | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors"
        " | server CPU ms/request | server cores busy | client cores busy |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    runs = {(name, c): Run(name, c) for name in ("/search", "/ (search page)") for c in levels}
    for _ in range(args.rounds):  # levels interleaved: a busy spell weighs on all of them
        for (name, _clients), run in runs.items():
            hammer(url, run, searches if name == "/search" else pages, timed(args.seconds), pid)
    for run in runs.values():
        print(run.row(), flush=True)
    files = sample_files(args.ingest)
    if files:
        run, delay, summary = during_ingest(url, kb, files, 16, pid)
        print(run.row())
        print(f"\nduring ingest: {run.errors} errors, {torn(url, run.hits)} torn of"
              f" {len(run.hits)} distinct hits; new state served {delay * 1000:.0f} ms after"
              f" the ingest exited; ingest: {summary}")  # fmt: skip
    for name in ("/search", "/ (search page)"):
        one, best = (
            runs.get((name, 1)),
            max((r for (n, _), r in runs.items() if n == name), key=lambda r: r.throughput),
        )
        if one and one.throughput:
            print(f"{name}: peak {best.throughput:.1f} req/s at {best.clients} clients ="
                  f" {best.throughput / one.throughput:.2f}× one client")  # fmt: skip
            cheapest = min((r for (n, _), r in runs.items() if n == name),
                           key=lambda r: r.cpu_per_request)  # fmt: skip
            capacity = (os.cpu_count() or 1) * 1000 / max(cheapest.cpu_per_request, 1e-9)
            print(f"{name}: {cheapest.cpu_per_request:.0f} ms of server CPU a request at"
                  f" {cheapest.clients} clients ({one.cpu_per_request:.0f} ms at 1): the"
                  f" {os.cpu_count()} cores, were they free, would serve {capacity:.1f} req/s"
                  f" = {capacity / one.throughput:.2f}× one client")  # fmt: skip
    print(
        f"load average after {os.getloadavg()[0]:.1f}; median latency overall"
        f" {statistics.median(r.percentile(50) for r in runs.values()):.0f} ms"
    )


def ratio(url: str, args, pid: int) -> None:
    """/search at ``args.ratio`` clients against one client, back to back, ``args.rounds``
    times: each round's ratio, then the medians as a table row."""
    print(f"# /search, {args.ratio} clients against 1: {os.cpu_count()} cores,"
          f" {args.workers} worker process(es), load average before"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    searches = [f"/search?q={q}" for q in queries()]
    hammer(url, Run("warm-up", args.ratio), searches, timed(5))
    pairs = []
    for number in range(1, args.rounds + 1):
        one = hammer(url, Run("/search", 1), searches, timed(args.seconds), pid)
        many = hammer(url, Run("/search", args.ratio), searches, timed(args.seconds), pid)
        pairs.append((one, many))
        print(f"round {number}, load average {os.getloadavg()[0]:.1f}:"
              f" {one.throughput:.1f} vs {many.throughput:.1f} req/s ="
              f" {many.throughput / one.throughput:.2f}×; p50/p95 {one.percentile(50):.0f}/"
              f"{one.percentile(95):.0f} vs {many.percentile(50):.0f}/{many.percentile(95):.0f}"
              f" ms; server CPU ms/request {one.cpu_per_request:.0f} vs"
              f" {many.cpu_per_request:.0f}", flush=True)  # fmt: skip

    def median(values) -> float:
        return statistics.median(list(values))

    ratios = median(m.throughput / o.throughput for o, m in pairs)
    cells = []
    for side in (0, 1):
        runs = [pair[side] for pair in pairs]
        cells += [f"{median(r.throughput for r in runs):.1f}",
                  f"{median(r.percentile(50) for r in runs):.0f} / "
                  f"{median(r.percentile(95) for r in runs):.0f}",
                  f"{median(r.cpu_per_request for r in runs):.0f}"]  # fmt: skip
    print(f"median of {len(pairs)}: {args.ratio} clients = {ratios:.2f}× one client;"
          f" load average after {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    print("| workers | 1 client req/s | p50 / p95 ms | CPU ms/req"
          f" | {args.ratio} clients req/s | p50 / p95 ms | CPU ms/req | ratio |")  # fmt: skip
    print(f"| {args.workers} | {' | '.join(cells)} | {ratios:.2f}× |")


if __name__ == "__main__":
    main()
