"""The ``policykb`` command line."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from api import cli_links, cli_owners, cli_tokens, cli_versions
from api.cli_options import (
    KbOption,
    ModelOption,
    RayActorsOption,
    RayAddressOption,
    RayBatchSizeOption,
    RayOption,
    RayOptions,
    embedding_cluster,
    open_kb,
)
from api.settings import Settings
from index.filters import FilterError, Filters
from index.kb import IngestReport
from index.manifest import FILENAME as MANIFEST
from index.search import QueryError, Searcher, SearchHit
from ingest.models import ParsedDocument
from ingest.pipeline import parse_file
from ingest.readers import SUFFIXES
from ingest.readers.base import IngestError

app = typer.Typer(
    help="PolicyKB (政策知识库): a knowledge base of Chinese policy documents.",
    no_args_is_help=True,
)


@app.callback()
def main() -> None:
    """PolicyKB (政策知识库): parse, ingest, search and serve Chinese policy documents."""


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders expanded to the supported files inside them, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
            )
        else:
            files.append(path)
    return files


@app.command()
def parse(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt .md .pdf .docx).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file, one per line.")
    ] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="One line per file: counts only.")
    ] = False,
) -> None:
    """Parse policy documents into clause trees tagged with units, targets and citations.

    Bad files are reported on stderr, one line each naming the file and the reason; the
    others are still parsed, and the exit status is 1.
    """
    failed = 0
    for path in expand_paths(paths):
        try:
            parsed = parse_file(path)
        except IngestError as error:
            failed += 1
            typer.echo(f"policykb: {error}", err=True)
            continue
        if as_json:
            typer.echo(json.dumps(parsed.to_dict(), ensure_ascii=False))
        elif summary:
            typer.echo(summary_line(parsed))
        else:
            typer.echo(outline(parsed))
    if failed:
        raise typer.Exit(code=1)


def summary_line(parsed: ParsedDocument) -> str:
    doc = parsed.document
    units = {u.canonical for c in parsed.clauses for u in c.units}
    targets = sum(len(c.targets) for c in parsed.clauses)
    citations = sum(len(c.citations) for c in parsed.clauses)
    where = doc.region or "全国"
    return (
        f"{Path(doc.source).name}\t{doc.title}\t{doc.doc_number or '-'}\t"
        f"{doc.level.value}/{where}\t"
        f"clauses={len(parsed.clauses)} units={len(units)} targets={targets} citations={citations}"
    )


def outline(parsed: ParsedDocument) -> str:
    """A readable outline: metadata, then the clause tree with tags."""
    doc = parsed.document
    lines = [
        f"# {doc.title}",
        f"  文号 {doc.doc_number or '-'} | {doc.level.value} {doc.region or '全国'}"
        f" | {doc.date or '-'} | {doc.status}",
    ]
    if doc.issuers:
        lines.append("  发文: " + "、".join(doc.issuers))
    for clause in parsed.clauses:
        indent = "  " * (clause.depth + 1)
        text = clause.text.replace("\n", " ")
        lines.append(f"{indent}{clause.label} {text[:60]}{'…' if len(text) > 60 else ''}")
        for unit in clause.units:
            lines.append(f"{indent}    @ {unit.canonical} ({unit.role.value})")
        for target in clause.targets:
            year = f" by {target.year}" if target.year else ""
            lines.append(
                f"{indent}    # {target.value}{target.unit} {target.qualifier or ''}{year}"
            )
        for citation in clause.citations:
            lines.append(f"{indent}    《{citation.title or ''}》{citation.doc_number or ''}")
    return "\n".join(lines)


# --- the knowledge base -------------------------------------------------------------------


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt .md .pdf .docx).")],
    kb: KbOption = None,
    model: ModelOption = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    ray_actors: RayActorsOption = None,
    ray_batch_size: RayBatchSizeOption = None,
) -> None:
    """Add documents to the KB, or update changed ones; unchanged ones are skipped.

    All or nothing: on a failure or Ctrl-C the KB stays as it was. Files that cannot be
    parsed are reported on stderr and the others go in; the exit status is then 1.
    """
    knowledge_base = open_kb(kb, model)
    cluster = RayOptions(ray, ray_address, ray_actors, ray_batch_size)
    with embedding_cluster(cluster) as embedder, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            report = knowledge_base.ingest(expand_paths(paths), progress, embedder)
        except KeyboardInterrupt:
            typer.echo("policykb: interrupted; the KB is unchanged", err=True)
            raise typer.Exit(code=130) from None
    for path, reason in report.failed:
        typer.echo(f"policykb: {path}: {reason}", err=True)
    typer.echo(ingest_summary(report))
    if report.failed:
        raise typer.Exit(code=1)


def ingest_summary(report: IngestReport) -> str:
    seconds = ", ".join(f"{stage} {s:.1f}s" for stage, s in report.seconds.items())
    return (
        f"added {len(report.added)}, updated {len(report.updated)},"
        f" unchanged {len(report.unchanged)}, failed {len(report.failed)};"
        f" {report.clauses} clauses, {report.windows_embedded} windows embedded,"
        f" {report.windows_cached} from cache ({seconds})"
    )


@app.command()
def remove(
    doc_id: Annotated[str, typer.Argument(help="The doc_id of the document to remove.")],
    kb: KbOption = None,
) -> None:
    """Remove a document, its clauses and vectors from the KB."""
    if not open_kb(kb).remove(doc_id):
        typer.echo(f"policykb: no document {doc_id!r} in the KB", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"removed {doc_id}")


@app.command()
def merge(kb: KbOption = None) -> None:
    """Merge the KB's index segments that are due (a server does it in the background)."""
    folder = kb or Settings().home
    if not (folder / MANIFEST).exists():
        typer.echo(f"policykb: {folder}: not a KB (no {MANIFEST})", err=True)
        raise typer.Exit(code=2)
    knowledge_base, merged, started = open_kb(folder), Counter(), time.perf_counter()
    while (report := knowledge_base.merge()).merged:  # a merge may make another due
        merged.update(vectors=report.vector_merges, bm25=report.lexical_merges, rows=report.rows)
    if report.busy and not merged:
        typer.echo("policykb: another process is merging this KB; try again later", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"merged {merged['vectors']} vector and {merged['bm25']} BM25 segments"
               f" ({merged['rows']:,} rows) in {time.perf_counter() - started:.1f}s")  # fmt: skip


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Question, keywords, or a quoted exact phrase.")],
    kb: KbOption = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", "-k", min=1, max=100, help="[default: 10]")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | dense | bm25 | phrase")] = "hybrid",
    level: Annotated[
        str | None, typer.Option("--level", help="national | provincial | municipal | county")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="重庆 or 重庆市")] = None,
    doc: Annotated[
        str | None, typer.Option("--doc", help="doc_id, 文号 or part of the title")
    ] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="canonical name or alias")] = None,
    year_from: Annotated[int | None, typer.Option("--year-from")] = None,
    year_to: Annotated[int | None, typer.Option("--year-to")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="current (default: newest versions) | all | in_force | amended | repealed"
            " | not_yet | draft | expired",
        ),
    ] = None,
    in_force_on: Annotated[
        str | None, typer.Option("--in-force-on", help="What was in force on a day: 2020-01-01")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The JSON of GET /search.")] = False,
    model: ModelOption = None,
) -> None:
    """Search the KB: dense + BM25 fused, exact wording first; "quoted" = phrase only."""
    searcher = Searcher(open_kb(kb, model))
    try:
        filters = Filters(level, region, doc, unit, year_from, year_to, status, in_force_on)
        hits = searcher.search(query, top_k or Settings().top_k, filters, mode)
    except (QueryError, FilterError) as error:
        typer.echo(f"policykb: {error}", err=True)
        raise typer.Exit(code=2) from None
    results = searcher.kb.versions.with_validity([asdict(h) for h in hits], filters.in_force_on)
    if as_json:
        typer.echo(
            json.dumps({"query": query, "mode": mode, "results": results}, ensure_ascii=False)
        )
        return
    console = Console()
    for rank, (hit, result) in enumerate(zip(hits, results, strict=True), 1):
        console.print(render_hit(rank, hit, (result.get("validity") or {}).get("status_name")))


def render_hit(rank: int, hit: SearchHit, status: str | None = None) -> Text:
    """A result for the terminal: citation line (with the document's status, 现行有效 or
    已废止…), then the text with matches in bold."""
    where = " ".join(x for x in (hit.level, hit.region) if x)
    path = " > ".join([*hit.path, hit.label] if hit.label else hit.path)
    out = Text(f"{rank}. {hit.doc_title}", style="bold")
    if status:
        out.append(f" 〔{status}〕", style="yellow")
    out.append(f" {hit.doc_number or ''} [{where}] {path}  ({hit.score:.4f})\n", style="dim")
    body = Text(hit.text.replace("\n", " "))
    if hit.highlight.sentence:
        body.stylize("underline", *hit.highlight.sentence)
    for start, end in hit.highlight.spans:
        body.stylize("bold red", start, end)
    out.append_text(body)
    if hit.units:
        out.append(
            "\n   @ " + "、".join(dict.fromkeys(u["canonical"] for u in hit.units)), style="cyan"
        )
    return out


WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, max=64, help="worker processes, each with its own"
                 " interpreter, KB and model [default: POLICYKB_WORKERS, else one per core]."),
]  # fmt: skip


@app.command()
def serve(
    kb: KbOption = None,
    host: Annotated[str | None, typer.Option("--host", help="[default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="[default: 8000]")] = None,
    model: ModelOption = None,
    workers: WorkersOption = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) with uvicorn, in one or more processes."""
    overrides = {"home": kb and kb.resolve(), "host": host, "port": port, "model": model,
                 "workers": workers}  # fmt: skip
    overrides = {name: value for name, value in overrides.items() if value is not None}
    settings = Settings().model_copy(update=overrides)
    knowledge_base = open_kb(settings.home, settings.model)  # a wrong model exits here, once
    if settings.workers == 1:
        import uvicorn

        from api.app import create_app

        uvicorn.run(create_app(settings, knowledge_base), host=settings.host, port=settings.port)
        return
    knowledge_base.close()
    # Each worker is a fresh interpreter (spawned) that builds its own app from POLICYKB_*.
    os.environ.update({f"POLICYKB_{name.upper()}": str(v) for name, v in overrides.items()})
    _serve_workers(settings)


def _serve_workers(settings: Settings) -> None:
    """uvicorn's supervisor and ``settings.workers`` workers on one listening socket.

    What ``uvicorn.run(..., workers=N)`` does, with the socket fixed: uvicorn binds it with
    protocol 0, so asyncio never sets TCP_NODELAY on the connections it accepts, and every
    keep-alive response waits about 40 ms for the client's delayed ACK (uvicorn issue #3149).
    A worker that misses the supervisor's ping is killed and restarted: on a busy machine a
    loaded worker may answer late, so it gets 30 s, not uvicorn's 5.
    """
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("api.app:create_app", factory=True, workers=settings.workers,
                            host=settings.host, port=settings.port,
                            timeout_worker_healthcheck=30)  # fmt: skip
    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, bound.detach())
    Multiprocess(config, sockets=[listener]).run()  # signals stop it and its workers


for command in (
    cli_owners.tasks, cli_owners.units, cli_owners.matrix, cli_owners.targets,
    cli_links.links, cli_links.derived, cli_links.coverage,
    cli_versions.versions, cli_versions.history,
):  # fmt: skip
    app.command()(command)

app.add_typer(cli_tokens.app, name="token")

if __name__ == "__main__":
    sys.exit(app())
