"""``policykb token create|list|revoke``: the tokens that allow writes over HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api.cli_options import KbOption, fail
from api.settings import Settings
from index.tokens import TokenError, TokenStore

app = typer.Typer(
    help="Tokens for writes over HTTP (POST/DELETE /documents, the web page's upload).",
    no_args_is_help=True,
)


def _store(kb: Path | None) -> TokenStore:
    return TokenStore(kb or Settings().home)


@app.command()
def create(
    kb: KbOption = None,
    name: Annotated[
        str | None, typer.Option("--name", help="a name to list and revoke it by [token-N]")
    ] = None,
) -> None:
    """Make a token; it is printed once, on the last line, and stored only as a hash."""
    try:
        info, token = _store(kb).create(name)
    except TokenError as error:
        fail(str(error))
    typer.echo(f"token {info.name} created; it is shown only now, keep it secret:")
    typer.echo(token)


@app.command("list")
def list_tokens(kb: KbOption = None) -> None:
    """The tokens of the KB: name and creation time (never the token itself)."""
    for info in _store(kb).list():
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created))
        typer.echo(f"{info.name}\t{created}")


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="the token's name, as `token list` shows it")],
    kb: KbOption = None,
) -> None:
    """Revoke a token: writes with it are refused from the next request on."""
    if not _store(kb).revoke(name):
        fail(f"no token named {name!r} in {_store(kb).path}")
    typer.echo(f"revoked {name}")
