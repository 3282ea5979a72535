"""Search filters, and their translation to SQL over ``clauses c JOIN documents d``."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ingest.models import Level
from ingest.text import normalize, normalize_brackets


class FilterError(ValueError):
    """A filter value that cannot be used, e.g. an unknown level."""


@dataclass(frozen=True)
class Filters:
    """What a search is restricted to. Every field is optional; all given must hold."""

    level: str | None = None
    region: str | None = None  # 重庆 or 重庆市: the region of the document
    doc: str | None = None  # doc_id, 文号, or part of the title
    unit: str | None = None  # canonical name or alias, e.g. 市发改委
    year_from: int | None = None
    year_to: int | None = None

    def __post_init__(self):
        if self.level is not None and self.level not in {lv.value for lv in Level}:
            known = ", ".join(lv.value for lv in Level)
            raise FilterError(f"level: {self.level!r} is not one of {known}")
        if self.year_from and self.year_to and self.year_from > self.year_to:
            raise FilterError(f"year: {self.year_from} is after {self.year_to}")

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) in (None, "") for f in fields(self))

    def sql(self, unit_names: list[str]) -> tuple[str, list]:
        """A WHERE condition and its parameters; ``unit_names`` are the unit's resolved names."""
        conditions: list[str] = []
        params: list = []
        if self.level:
            conditions.append("d.level = ?")
            params.append(self.level)
        if self.region:
            region = normalize(self.region)
            conditions.append("(d.region = ? OR d.region LIKE ? || '%')")
            params += [region, region]
        if self.doc:
            doc = normalize(self.doc)
            conditions.append("(d.doc_id = ? OR d.doc_number_key = ? OR instr(d.title_key, ?) > 0)")
            params += [doc, normalize_brackets(doc), doc]
        if self.unit:
            marks = ",".join("?" * len(unit_names))
            conditions.append(
                "EXISTS (SELECT 1 FROM clause_units u WHERE u.clause = c.id"
                f" AND (u.canonical IN ({marks}) OR u.name IN ({marks})))"
            )
            params += unit_names * 2
        if self.year_from:
            conditions.append("d.year >= ?")
            params.append(self.year_from)
        if self.year_to:
            conditions.append("d.year <= ?")
            params.append(self.year_to)
        return " AND ".join(conditions) or "1", params
