"""The torch backend: any sentence-transformers model (hub name or local folder), fp32."""

from __future__ import annotations

import numpy as np

from index.encoders.base import BatchedEncoder, local_model, model_id


class SentenceTransformerEncoder(BatchedEncoder):
    """A sentence-transformers model run by torch on the CPU in float32."""

    backend, precision = "torch", "fp32"

    def __init__(self, name_or_path: str, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

        path = local_model(name_or_path)
        self.model = SentenceTransformer(str(path) if path else name_or_path, device="cpu")
        self.name = model_id(name_or_path)
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size

    def _prompt_name(self, prompt: str) -> str | None:
        names = ("query",) if prompt == "query" else ("document", "passage")
        return next((n for n in names if n in self.model.prompts), None)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            prompt_name=self._prompt_name(prompt),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
