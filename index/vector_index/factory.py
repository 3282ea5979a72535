"""Which vector index a KB uses, keyed on manifest.json's ``index_type``: a policy naming
the exact backend for small segments and, past a size, the approximate one."""

from __future__ import annotations

from dataclasses import dataclass

from index.vector_index.base import VectorIndex
from index.vector_index.flat import FlatIndex
from index.vector_index.hnsw import HnswIndex
from index.vector_index.ivf import IvfIndex

BACKENDS: dict[str, type[VectorIndex]] = {
    index.kind: index for index in (FlatIndex, HnswIndex, IvfIndex)
}
APPROX_FROM = 50_000  # "auto": a segment this big is approximate (exact search would be slow)
SMALL = 4_096  # "hnsw", "ivf": smaller segments stay exact all the same (too few to pay)


class UnknownIndex(ValueError):
    """An index type or backend this version does not know."""


@dataclass(frozen=True)
class Policy:
    """A KB's vector index: exact segments, approximate (``approx``) ones from ``approx_from``
    vectors on."""

    name: str
    approx: str | None
    approx_from: int

    @property
    def index_type(self) -> str:
        """What manifest.json records."""
        return f"segments/{self.name}"

    def kind_for(self, rows: int) -> str:
        """The backend of a segment of ``rows`` vectors."""
        return self.approx if self.approx and rows >= self.approx_from else FlatIndex.kind


POLICIES = {
    "auto": Policy("auto", HnswIndex.kind, APPROX_FROM),
    "flat": Policy("flat", None, 0),
    "hnsw": Policy("hnsw", HnswIndex.kind, SMALL),
    "ivf": Policy("ivf", IvfIndex.kind, SMALL),  # measured below the recall goal: not default
}
DEFAULT = POLICIES["auto"]


def policy(name: str | None) -> Policy:
    """The policy a setting names (None: the default)."""
    if name is None:
        return DEFAULT
    if name not in POLICIES:
        raise UnknownIndex(f"vector index: {name!r} is not one of {', '.join(POLICIES)}")
    return POLICIES[name]


def policy_of(index_type: str) -> Policy:
    """The policy a manifest's ``index_type`` records; refuses one this version cannot read."""
    for known in POLICIES.values():
        if known.index_type == index_type:
            return known
    listed = ", ".join(p.index_type for p in POLICIES.values())
    raise UnknownIndex(f"index_type {index_type!r} is not one of {listed}")


def backend(kind: str) -> type[VectorIndex]:
    if kind not in BACKENDS:
        raise UnknownIndex(f"vector segment kind {kind!r} is not one of {', '.join(BACKENDS)}")
    return BACKENDS[kind]
