"""A KB folder's manifest.json: how its vectors were built. Opening refuses a mismatch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

FORMAT = 4  # 2: unit regions and target metrics; 3: cross-level links; 4: extraction (OCR)
FILENAME = "manifest.json"


class ManifestMismatch(RuntimeError):
    """The KB was built with another model, dimension, index type or format."""


@dataclass(frozen=True)
class Manifest:
    """What must match for vectors to be comparable, and what built them (for the record)."""

    model: str
    dim: int
    index_type: str
    format: int = FORMAT
    versions: dict | None = None

    @classmethod
    def current(cls, model: str, dim: int, index_type: str) -> Manifest:
        packages = ("policykb", "sentence-transformers", "faiss-cpu", "torch", "jieba")
        return cls(model, dim, index_type, FORMAT, {p: version(p) for p in packages})

    def requiring(self, model: str | None) -> Manifest:
        """This manifest with another model, for checking a request against it."""
        return self if model is None else Manifest(model, self.dim, self.index_type, self.format)

    def check(self, other: Manifest, folder: Path) -> None:
        """Raise ManifestMismatch naming every field that differs."""
        differences = [
            f"{name}: KB has {mine!r}, asked for {theirs!r}"
            for name in ("model", "dim", "index_type", "format")
            if (mine := getattr(self, name)) != (theirs := getattr(other, name))
        ]
        if differences:
            raise ManifestMismatch(
                f"{folder}: this KB was built differently ({'; '.join(differences)})."
                " Use the KB's own model (--model), or build a new KB in another folder."
            )

    def save(self, folder: Path) -> None:
        (folder / FILENAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Manifest | None:
        path = folder / FILENAME
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(**{k: data.get(k) for k in ("model", "dim", "index_type", "format", "versions")})
