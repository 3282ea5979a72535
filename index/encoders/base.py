"""The ``Encoder`` seam: text → unit vectors, whatever engine runs the model.

Queries and passages are encoded apart: e5 and bge models are trained with different
prompts for each ("query: " / "passage: "), and the model's own prompts are used.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

# The default model: multilingual-e5-small, rebuilt offline into the model cache by
# ``make model`` (training/offline_model.py), since the Hugging Face hub is out of reach.
MODEL_NAME = "multilingual-e5-small"
MODEL_CACHE = Path(
    os.environ.get("POLICYKB_MODEL_CACHE", Path.home() / ".cache" / "policykb" / "models")
)
DEFAULT_MODEL_PATH = MODEL_CACHE / MODEL_NAME


def default_model() -> str:
    """POLICYKB_MODEL, else the offline model that ``make model`` builds."""
    return os.environ.get("POLICYKB_MODEL") or str(DEFAULT_MODEL_PATH)


def model_id(name_or_path: str) -> str:
    """How a model is recorded in a KB manifest: the folder name for a local path."""
    path = Path(name_or_path).expanduser()
    return path.name if path.exists() else name_or_path


def local_model(name_or_path: str) -> Path | None:
    """The model's folder, None for a hub name; the default model missing says how to build it."""
    path = Path(name_or_path).expanduser()
    if not path.exists() and name_or_path == str(DEFAULT_MODEL_PATH):
        raise FileNotFoundError(f"no model at {path}: run `make model` to build it")
    return path if path.exists() else None


class Encoder(ABC):
    """Encodes texts into L2-normalised float32 vectors of a fixed dimension.

    ``backend`` and ``precision`` go into a KB's manifest: vectors of another engine or
    precision are close but not equal, so one KB keeps to one."""

    name: str
    dim: int
    backend: str = "torch"
    precision: str = "fp32"

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) vectors for search queries."""

    @abstractmethod
    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """(n, dim) vectors for indexed passages; ``progress(k)`` after each k encoded."""


class BatchedEncoder(Encoder):
    """An encoder that runs batches of one prompt: passages sorted by length, less padding."""

    batch_size: int = 32

    @abstractmethod
    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        """(n, dim) normalised vectors of ``texts``, each with ``prompt`` (a prompt name)."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), "query")

    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        texts = list(texts)
        # Sorting by length keeps padding low within a batch; results go back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = self.batch_size * 8
        for start in range(0, len(order), step):
            chunk = order[start : start + step]
            out[chunk] = self._encode([texts[i] for i in chunk], "passage")
            if progress:
                progress(len(chunk))
        return out
