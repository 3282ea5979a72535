"""Text → unit vectors. A small base class, and the sentence-transformers backend.

Queries and passages are encoded apart: e5 and bge models are trained with different
prompts for each ("query: " / "passage: "), and the model's own prompts are used.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.offline_model import DEFAULT_MODEL_PATH


def default_model() -> str:
    """POLICYKB_MODEL, else the offline model that ``make model`` builds."""
    return os.environ.get("POLICYKB_MODEL") or str(DEFAULT_MODEL_PATH)


def model_id(name_or_path: str) -> str:
    """How a model is recorded in a KB manifest: the folder name for a local path."""
    path = Path(name_or_path).expanduser()
    return path.name if path.exists() else name_or_path


class Encoder(ABC):
    """Encodes texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) vectors for search queries."""

    @abstractmethod
    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """(n, dim) vectors for indexed passages; ``progress(k)`` after each k encoded."""


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model: a hub name or a local folder."""

    def __init__(self, name_or_path: str, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

        path = Path(name_or_path).expanduser()
        if not path.exists() and name_or_path == str(DEFAULT_MODEL_PATH):
            raise FileNotFoundError(f"no model at {path}: run `make model` to build it")
        self.model = SentenceTransformer(str(path) if path.exists() else name_or_path, device="cpu")
        self.name = model_id(name_or_path)
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size

    def _prompt(self, *names: str) -> str | None:
        return next((n for n in names if n in self.model.prompts), None)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self._prompt("query"))

    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        texts = list(texts)
        prompt = self._prompt("document", "passage")
        # Sorting by length keeps padding low within a batch; results go back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = self.batch_size * 8
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            out[chunk] = self._encode([texts[i] for i in chunk], prompt)
            if progress:
                progress(len(chunk))
        return out

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_encoder(name_or_path: str | None = None) -> Encoder:
    """The encoder for a model name or path (default: ``default_model()``)."""
    return SentenceTransformerEncoder(name_or_path or default_model())
