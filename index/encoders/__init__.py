"""Embedding backends behind the ``Encoder`` seam, one module each, chosen by ``load_encoder``.

- ``torch``: sentence-transformers in float32 (any model, the reference vectors);
- ``openvino``: the model's int8 OpenVINO form, built offline by ``make model``.

A KB records its backend and precision in manifest.json and reopens with the same.
"""

from __future__ import annotations

import os

from index.encoders.base import Encoder, default_model, model_id

BACKENDS = {"torch": "fp32", "openvino": "int8"}  # backend → the precision its vectors have
DEFAULT_BACKEND = "torch"


def default_backend() -> str:
    """POLICYKB_BACKEND, else torch (int8 is no faster on AVX2-only CPUs: docs/benchmarks.md)."""
    return os.environ.get("POLICYKB_BACKEND") or DEFAULT_BACKEND


def precision_of(backend: str) -> str:
    """The precision of a backend's vectors; an unknown backend is refused by name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}: one of {', '.join(BACKENDS)}")
    return BACKENDS[backend]


def load_encoder(name_or_path: str | None = None, backend: str | None = None) -> Encoder:
    """The encoder of a model (``default_model()``) on a backend (``default_backend()``)."""
    backend = backend or default_backend()
    precision_of(backend)
    source = name_or_path or default_model()
    if backend == "openvino":
        from index.encoders.openvino import OpenVinoEncoder

        return OpenVinoEncoder(source)
    from index.encoders.torch import SentenceTransformerEncoder

    return SentenceTransformerEncoder(source)


__all__ = [
    "BACKENDS",
    "Encoder",
    "default_backend",
    "default_model",
    "load_encoder",
    "model_id",
    "precision_of",
]
