"""Typed records passed between ingestion stages and on to the index."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Level(StrEnum):
    """Administrative level of the body that issued a document."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"
    COUNTY = "county"


class Role(StrEnum):
    """How a unit relates to a clause, strongest first."""

    LEAD = "lead"
    RESPONSIBLE = "responsible"
    SUPPORTING = "supporting"  # 配合/协助/协办/参与: helps the lead or responsible units
    MENTIONED = "mentioned"

    @property
    def strength(self) -> int:
        return {"lead": 4, "responsible": 3, "supporting": 2, "mentioned": 1}[self.value]


@dataclass(frozen=True)
class UnitTag:
    """A unit named by a clause: the words used, its canonical name and its role."""

    name: str
    canonical: str
    role: Role
    kind: str = "unit"  # "unit", or "class" for a class of units such as 各区、县（市）政府
    region: str | None = None  # the region the unit serves; None for a national body


@dataclass(frozen=True)
class Target:
    """A quantitative target: 50个左右 by 2025."""

    value: float
    unit: str
    qualifier: str | None
    year: int | None
    text: str
    metric: str | None = None  # what is counted: 产教融合型企业, 双师型教师比例


@dataclass(frozen=True)
class Citation:
    """A document cited by title, by 文号, or both."""

    title: str | None
    doc_number: str | None


@dataclass
class Clause:
    """One node of a document's clause tree, with its tags."""

    clause_id: str
    label: str
    path: list[str]
    text: str
    position: int
    depth: int
    kind: str  # heading | item | article | paragraph | attachment | table_row
    parent_id: str | None = None
    units: list[UnitTag] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True)
class Repeal:
    """A document this one says it repeals (《X》同时废止), with the sentence that says so."""

    title: str
    sentence: str
    dates: tuple[str, ...] = ()  # dates written before the title: which version it was


@dataclass
class Validity:
    """What a document's sidecar, catalogue or own text says of when it is in force; each
    date keeps the reason (``source: sentence``). The KB resolves statuses from this."""

    valid_from: str | None = None  # ISO; first day in force (施行)
    valid_to: str | None = None  # ISO; last day in force (有效期, 2023—2025年)
    from_reason: str | None = None
    to_reason: str | None = None
    expired: bool = False  # a sidecar or catalogue says it is no longer in force
    expired_reason: str | None = None
    repeals: list[Repeal] = field(default_factory=list)


@dataclass
class Document:
    """Metadata of one policy document."""

    doc_id: str
    title: str
    doc_number: str | None
    issuers: list[str]
    date: str | None  # ISO 8601
    level: Level
    region: str | None
    status: str  # "issued" or "draft"
    source: str
    content_hash: str
    extraction: str = "text"  # "ocr" when some of the text was read off page images
    validity: Validity = field(default_factory=Validity)  # see ingest.validity


@dataclass
class ParsedDocument:
    """A document with its clauses in document order."""

    document: Document
    clauses: list[Clause]

    def to_dict(self) -> dict:
        """The JSON shape printed by ``policykb parse --json``."""
        doc = asdict(self.document)
        return {"document": doc, "clauses": [asdict(c) for c in self.clauses]}
