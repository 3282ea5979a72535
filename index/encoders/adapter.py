"""A query adapter: a learned linear map applied to query vectors before search.

Lay questions and the statutes that answer them are worded apart ("老公出轨能离婚吗" against
"配偶者与他人同居"). A query vector moved by q' = normalise(q + qA), with A fitted on labelled
question → clause pairs (training/query_adapter.py), lands nearer the clauses that answer
such questions. Passages are untouched, so a KB needs no re-embedding to use one, and an
adapter is tied only to the model whose vector space it was fitted in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "policykb-query-adapter/1"


class AdapterError(ValueError):
    """An adapter file that cannot be used: missing, malformed, or of another model."""


@dataclass(frozen=True)
class QueryAdapter:
    """The matrix A of q' = normalise(q + qA), and how it was fitted (``about``)."""

    matrix: np.ndarray  # (dim, dim) float32
    model: str  # model_id of the encoder whose vectors it was fitted on
    about: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.matrix.shape[0]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """The adapted query vectors, unit length again."""
        moved = vectors + vectors @ self.matrix
        norms = np.linalg.norm(moved, axis=1, keepdims=True)
        return (moved / np.maximum(norms, 1e-12)).astype(np.float32)

    def check(self, model: str, dim: int, path: Path | str) -> None:
        """Refuse an adapter fitted in another model's vector space."""
        if (self.model, self.dim) != (model, dim):
            raise AdapterError(
                f"{path}: fitted on {self.model} ({self.dim} dimensions), but the KB's model"
                f" is {model} ({dim} dimensions)"
            )

    def save(self, path: Path) -> None:
        meta = json.dumps({"format": FORMAT, "model": self.model, "about": self.about})
        with Path(path).open("wb") as sink:  # np.savez would append .npz to a bare name
            np.savez(sink, matrix=self.matrix.astype(np.float32), meta=np.array(meta))

    @classmethod
    def load(cls, path: Path | str) -> QueryAdapter:
        """Read an adapter file; AdapterError names the file and what is wrong with it."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                matrix, meta = data["matrix"], json.loads(str(data["meta"]))
        except FileNotFoundError as error:
            raise AdapterError(f"{path}: no such file") from error
        except (OSError, ValueError, KeyError) as error:
            raise AdapterError(f"{path}: not a query adapter ({error})") from error
        if meta.get("format") != FORMAT:
            raise AdapterError(f"{path}: format {meta.get('format')!r}, expected {FORMAT}")
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise AdapterError(f"{path}: matrix of shape {matrix.shape}, expected square")
        return cls(matrix.astype(np.float32), meta["model"], meta.get("about", {}))
