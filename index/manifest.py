"""A KB folder's manifest.json: how its vectors were built. Opening refuses a mismatch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from importlib.metadata import version
from pathlib import Path

# 2: unit regions and target metrics; 3: cross-level links; 4: extraction (OCR);
# 5: validity and versions (doc_validity, doc_status);
# 6: vector segments and tombstones (vector_segments, vector_deletes; index/vector_index)
# (the passage form is a field of its own: a KB without it embedded its windows' text alone)
FORMAT = 6
FILENAME = "manifest.json"


class ManifestMismatch(RuntimeError):
    """The KB was built with another model, backend, precision, passage form, dimension, index
    or format."""


@dataclass(frozen=True)
class Manifest:
    """What must match for vectors to be comparable, and what built them (for the record)."""

    model: str
    dim: int
    index_type: str
    format: int = FORMAT
    versions: dict | None = None
    backend: str = "torch"  # the engine that ran the model (index/encoders); older KBs: torch
    precision: str = "fp32"  # of the model's weights: int8 vectors are close to fp32, not equal
    passage: str = "text"  # what the model read of a window (index/passages); older KBs: text

    @classmethod
    def current(
        cls, model: str, dim: int, index_type: str, backend: str = "torch", precision: str = "fp32"
    ) -> Manifest:
        packages = ("policykb", "sentence-transformers", "faiss-cpu", "torch", "jieba")
        versions = {p: version(p) for p in packages}
        return cls(model, dim, index_type, FORMAT, versions, backend, precision)

    def requiring(
        self, model: str | None, backend: str | None = None, precision: str | None = None,
        passage: str | None = None,
    ) -> Manifest:  # fmt: skip
        """This manifest with what a request names instead (None: the KB's own)."""
        return replace(
            self,
            model=model or self.model,
            backend=backend or self.backend,
            precision=precision or self.precision,
            passage=passage or self.passage,
        )

    def check(self, other: Manifest, folder: Path) -> None:
        """Raise ManifestMismatch naming every field that differs."""
        differences = [
            f"{name}: KB has {mine!r}, asked for {theirs!r}"
            for name in ("model", "backend", "precision", "passage", "dim", "index_type", "format")
            if (mine := getattr(self, name)) != (theirs := getattr(other, name))
        ]
        if differences:
            raise ManifestMismatch(
                f"{folder}: this KB was built differently ({'; '.join(differences)})."
                " Use the KB's own model (--model), embedding backend (POLICYKB_BACKEND) and"
                " passage form (POLICYKB_PASSAGE),"
                " or build a new KB in another folder."
            )

    def save(self, folder: Path) -> None:
        (folder / FILENAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Manifest | None:
        path = folder / FILENAME
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        fields = {k: data.get(k) for k in ("model", "dim", "index_type", "format", "versions")}
        backend = {k: data[k] for k in ("backend", "precision", "passage") if k in data}
        return cls(**fields, **backend)
