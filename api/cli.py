"""The ``policykb`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    """PolicyKB (政策知识库): parse Chinese policy documents into tagged clause trees."""


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


if __name__ == "__main__":
    sys.exit(app())
