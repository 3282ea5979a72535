"""Kept for importers: the ``Encoder`` seam and its backends live in index/encoders/."""

from __future__ import annotations

from index.encoders import default_backend, load_encoder
from index.encoders.base import Encoder, default_model, model_id
from index.encoders.torch import SentenceTransformerEncoder

__all__ = [
    "Encoder",
    "SentenceTransformerEncoder",
    "default_backend",
    "default_model",
    "load_encoder",
    "model_id",
]
