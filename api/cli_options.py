"""Options and helpers every ``policykb`` command that opens a KB shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from api.settings import Settings
from index.embedding import Embedder
from index.encoders.adapter import AdapterError
from index.kb import KnowledgeBase
from index.manifest import ManifestMismatch
from index.rerank import RerankerError

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
        return KnowledgeBase(
            kb or settings.home,
            model or settings.model,
            vector_index=settings.vector_index,
            backend=settings.backend,
            passage=settings.passage,
            query_adapter=settings.query_adapter,
            reranker=settings.reranker,
        )
    except (ManifestMismatch, AdapterError, RerankerError) as error:
        typer.echo(f"policykb: {error}", err=True)
        raise typer.Exit(code=2) from None


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

RayOption = Annotated[
    bool, typer.Option("--ray", help="Embed on a Ray cluster (the `ray` extra must be installed).")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="host:port, ray://host:port or auto: the cluster to join (default:"
        " POLICYKB_RAY_ADDRESS, else a local Ray instance for this job).",
    ),
]
RayActorsOption = Annotated[
    int | None,
    typer.Option("--ray-actors", min=1, help="Actors, one model each (default: one per GPU,"
                 " else one per CPU of the cluster)."),
]  # fmt: skip
RayBatchSizeOption = Annotated[
    int | None, typer.Option("--ray-batch-size", min=1, help="Texts per batch (default: 64).")
]


@dataclass(frozen=True)
class RayOptions:
    """What `ingest --ray …` asked for; ``enabled`` is False without --ray."""

    enabled: bool = False
    address: str | None = None
    actors: int | None = None
    batch_size: int | None = None


@contextmanager
def embedding_cluster(options: RayOptions) -> Iterator[Embedder | None]:
    """The Ray embedder of `ingest --ray` (joined, left after), else None: ray is not imported."""
    if not options.enabled:
        if options.address or options.actors or options.batch_size:
            fail("--ray-address, --ray-actors and --ray-batch-size go with --ray", code=2)
        yield None
        return
    from index.ray_embedding import RayConfig, RayEmbedder, RayEmbeddingError

    address = options.address or Settings().ray_address
    config = RayConfig(address, options.actors, options.batch_size or RayConfig.batch_size)
    try:
        with RayEmbedder(config) as embedder:
            yield embedder
    except RayEmbeddingError as error:
        fail(f"{error}; the KB is unchanged")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``policykb: message`` on stderr and exit with ``code``."""
    typer.echo(f"policykb: {message}", err=True)
    raise typer.Exit(code=code)
