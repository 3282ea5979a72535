"""Embedding on a Ray cluster through Ray Data: an actor pool, one model per actor.

Only the texts the KB's vector cache lacks are sent. Every actor loads the model the KB
records and proves it (name, dimension and the vector of a probe text) before it embeds;
vectors stream back, keyed by text hash, and the KB caches them chunk by chunk. Importing
this module imports ray: the command line does so only for ``ingest --ray``.
"""

from __future__ import annotations

import logging
import re
import socket
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import ray
import ray.data
from ray.util.annotations import RayDeprecationWarning

from index.embedding import KbModel
from index.encoder import Encoder, SentenceTransformerEncoder, load_encoder

PROBE_TEXT = "为深入贯彻落实党中央、国务院关于深化产教融合的决策部署，制定本方案。"
PROBE_MIN_COSINE = 0.999
MAX_ACTOR_RESTARTS = 3  # a killed actor is started again this often, its batches retried
MAX_TASK_RETRIES = 3
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_BLOCKS = 10_000  # input blocks of one job: a block is one batch, up to this many
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$")


class RayEmbeddingError(RuntimeError):
    """The cluster cannot be reached, or the embedding job failed on it."""


@dataclass(frozen=True)
class RayConfig:
    """Where and how wide to embed: the cluster address, actors and rows per batch."""

    address: str | None = None  # None: a local Ray instance, started for the job
    actors: int | None = None  # None: one per GPU of the cluster, else one per CPU
    batch_size: int = 64


@dataclass(frozen=True)
class ModelCheck:
    """What an actor's model must match: the KB's model name, backend, dimension and a probe
    vector."""

    source: str
    name: str
    dim: int
    probe: tuple[float, ...]
    backend: str = "torch"

    @classmethod
    def of(cls, model: KbModel) -> ModelCheck:
        """The check for the KB's model, its probe vector computed by the KB's encoder."""
        probe = model.encoder.encode_passages([PROBE_TEXT])[0]
        encoder = model.encoder
        return cls(model.source, encoder.name, encoder.dim, tuple(probe.tolist()), encoder.backend)

    def verify(self, encoder: Encoder, node: str) -> None:
        """Raise RayEmbeddingError when ``encoder`` is not the KB's model."""
        if (encoder.name, encoder.dim, encoder.backend) != (self.name, self.dim, self.backend):
            raise RayEmbeddingError(
                f"node {node}: model {encoder.name} ({encoder.dim}d, {encoder.backend}) is not"
                f" the KB's {self.name} ({self.dim}d, {self.backend})"
            )
        cosine = float(encoder.encode_passages([PROBE_TEXT])[0] @ np.asarray(self.probe))
        if cosine < PROBE_MIN_COSINE:
            raise RayEmbeddingError(
                f"node {node}: the model at {self.source} is not the KB's"
                f" {self.name} (probe cosine {cosine:.4f})"
            )


class PassageEncoder:
    """The actor of the pool: loads the KB's model once, then encodes batches of texts."""

    def __init__(self, check: ModelCheck):
        self.encoder = load_encoder(check.source, check.backend)
        _use_gpu_if_any(self.encoder)
        check.verify(self.encoder, ray.util.get_node_ip_address())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_passages([str(t) for t in batch["text"]])
        return {"hash": batch["hash"], "vector": vectors}


def _use_gpu_if_any(encoder: Encoder) -> None:
    """Move the model to the GPU Ray gave this actor, if any."""
    import torch

    if torch.cuda.is_available() and isinstance(encoder, SentenceTransformerEncoder):
        encoder.model.to("cuda")


class RayEmbedder:
    """An ``Embedder`` on a Ray cluster; ``with`` joins (or starts) the cluster, then leaves."""

    def __init__(self, config: RayConfig):
        self.config = config
        self.texts_sent = 0  # texts handed to the cluster, over every embed call

    def __enter__(self) -> RayEmbedder:
        connect(self.config.address)
        return self

    def __exit__(self, *exc_info) -> None:
        ray.shutdown()  # leaves a cluster it joined; stops the local instance it started

    def embed(self, texts: Mapping[str, str], model: KbModel) -> Iterator[dict[str, np.ndarray]]:
        """Vectors for ``texts`` from the actor pool, one chunk per batch as it comes back."""
        if not ray.is_initialized():
            raise RayEmbeddingError("RayEmbedder.embed needs the cluster: use it in a `with`")
        if not texts:
            return
        dataset = self._dataset(texts, ModelCheck.of(model))
        self.texts_sent += len(texts)
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                yield dict(zip((str(h) for h in batch["hash"]), batch["vector"], strict=True))
        except ray.exceptions.RayError as error:
            raise RayEmbeddingError(f"embedding on Ray failed: {_reason(error)}") from None

    def _dataset(self, texts: Mapping[str, str], check: ModelCheck) -> ray.data.Dataset:
        """The texts, shortest first (less padding per batch), mapped by the actor pool."""
        ordered = sorted(texts, key=lambda h: len(texts[h]))
        batch_size = self.config.batch_size
        items = [{"hash": h, "text": texts[h]} for h in ordered]
        blocks = min(MAX_BLOCKS, -(-len(items) // batch_size))
        gpus = ray.cluster_resources().get("GPU", 0)
        placement = {"num_gpus": 1} if gpus >= 1 else {"num_cpus": 1}
        with warnings.catch_warnings():
            # Ray 2.60 sets actor restarts only through **ray_remote_args, now deprecated.
            warnings.simplefilter("ignore", RayDeprecationWarning)
            return ray.data.from_items(items, override_num_blocks=blocks).map_batches(
                PassageEncoder,
                fn_constructor_kwargs={"check": check},
                batch_size=batch_size,
                compute=ray.data.ActorPoolStrategy(size=self._pool_size(gpus)),
                max_restarts=MAX_ACTOR_RESTARTS,
                max_task_retries=MAX_TASK_RETRIES,
                **placement,
            )

    def _pool_size(self, gpus: float) -> int:
        """The configured actors, else one per GPU, else one per CPU of the cluster."""
        return self.config.actors or max(1, int(gpus or ray.cluster_resources().get("CPU", 1)))


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (host:port, ray://host:port, auto), else start one here."""
    if address:
        _check_reachable(address)
    ray.data.DataContext.get_current().enable_progress_bars = False  # ours is the CLI's bar
    local = {} if address else {"include_dashboard": False}
    try:
        ray.init(
            address=address or "local", logging_level=logging.WARNING, log_to_driver=False, **local
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayEmbeddingError(
            f"cannot join the Ray cluster at {address or 'a new local instance'}: {_reason(error)}"
        ) from None
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # after init: its INFO lines


def _check_reachable(address: str) -> None:
    """Fail fast on an address nothing listens at: ray.init would retry for many minutes."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayEmbeddingError(
            f"Ray address {address!r}: expected host:port, ray://host:port or auto"
        )
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise RayEmbeddingError(f"cannot reach the Ray cluster at {address}: {reason}") from None


def _reason(error: BaseException) -> str:
    """One line saying why: the exception raised on the cluster where Ray's message holds it."""
    cause = getattr(error, "cause", None)  # a RayTaskError carries the task's own exception
    if isinstance(cause, BaseException) and cause is not error:
        return _reason(cause)
    lines = [_ANSI.sub("", line).strip() for line in str(error).splitlines()]
    raised = [m for line in lines if (m := _RAISED.match(line))]
    if raised:  # the last line of a remote traceback: "module.SomeError: message"
        name, message = raised[-1].groups()
        return message if name == RayEmbeddingError.__name__ else f"{name}: {message}"
    return next((line for line in lines if line), type(error).__name__)
