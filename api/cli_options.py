"""Options and helpers every ``policykb`` command that opens a KB shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from api.settings import Settings
from index.kb import KnowledgeBase
from index.manifest import ManifestMismatch

KbOption = Annotated[
    Path | None,
    typer.Option("--kb", help="KB folder [default: POLICYKB_HOME, else ~/.local/share/policykb]."),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="sentence-transformers model name or path [default: the KB's own, else"
        " POLICYKB_MODEL, else the offline multilingual-e5-small of `make model`].",
    ),
]


def open_kb(kb: Path | None, model: str | None = None) -> KnowledgeBase:
    """The KB of --kb (else the settings' home); a manifest mismatch exits with its message."""
    settings = Settings()
    try:
        return KnowledgeBase(kb or settings.home, model or settings.model)
    except ManifestMismatch as error:
        typer.echo(f"policykb: {error}", err=True)
        raise typer.Exit(code=2) from None


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``policykb: message`` on stderr and exit with ``code``."""
    typer.echo(f"policykb: {message}", err=True)
    raise typer.Exit(code=code)
