"""Who embeds the window texts the vector cache lacks: the seam, and the local implementation.

The KB keeps the cache and the one atomic write; an ``Embedder`` only turns texts into
vectors, chunk by chunk, so that each chunk is cached as soon as it comes back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.encoder import Encoder


@dataclass(frozen=True)
class KbModel:
    """The model a KB records: where to load it, and the encoder checked against the manifest."""

    source: str  # a model name or local folder, as load_encoder takes it
    encoder: Encoder


class Embedder(Protocol):
    """Turns {text hash: text} into {text hash: vector} chunks, streamed as they are ready."""

    def embed(self, texts: Mapping[str, str], model: KbModel) -> Iterator[dict[str, np.ndarray]]:
        """Chunks that together cover every hash of ``texts`` once, vectors from ``model``."""
        ...


@dataclass(frozen=True)
class LocalEmbedder:
    """Embeds in this process with the KB's own encoder, ``chunk`` texts at a time."""

    chunk: int = 512

    def embed(self, texts: Mapping[str, str], model: KbModel) -> Iterator[dict[str, np.ndarray]]:
        """The texts in order, one chunk per encoder call."""
        hashes = list(texts)
        for start in range(0, len(hashes), self.chunk):
            chunk = hashes[start : start + self.chunk]
            vectors = model.encoder.encode_passages([texts[h] for h in chunk])
            yield dict(zip(chunk, vectors, strict=True))
