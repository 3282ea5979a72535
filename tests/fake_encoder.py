"""A deterministic stand-in for the model, for unit tests of index mechanics only."""

from __future__ import annotations

import hashlib
from itertools import pairwise

import numpy as np

from index.encoder import Encoder


class FakeEncoder(Encoder):
    """Hashed character bigrams: texts sharing wording get similar vectors."""

    def __init__(self, name: str = "fake-bigrams", dim: int = 64):
        self.name, self.dim = name, dim
        self.passages_encoded = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for a, b in pairwise(text):
            vector[int(hashlib.md5((a + b).encode()).hexdigest(), 16) % self.dim] += 1
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def encode_queries(self, texts):
        return np.vstack([self._vector(t) for t in texts])

    def encode_passages(self, texts, progress=None):
        self.passages_encoded += len(texts)
        return np.vstack([self._vector(t) for t in texts])
