"""Search filters, and their translation to SQL over ``clauses c JOIN documents d``."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from ingest.models import Level
from ingest.text import normalize, normalize_brackets

MAX_FILTER_CHARS = 200  # a region, document or unit name: titles are far shorter
YEARS = (1000, 9999)  # what a year filter may be: four digits


class FilterError(ValueError):
    """A filter value that cannot be used, e.g. an unknown level."""


def check_year(name: str, year: int | None) -> None:
    """A year filter must be a four-digit year: SQLite cannot even compare a 100-digit one."""
    if year is not None and not YEARS[0] <= year <= YEARS[1]:
        shown = str(year) if len(str(year)) <= 20 else f"a {len(str(year))}-digit number"
        raise FilterError(f"{name}: {shown} is not a year ({YEARS[0]}–{YEARS[1]})")


def _check_text(name: str, value: str | None) -> None:
    if value is not None and len(value) > MAX_FILTER_CHARS:
        raise FilterError(f"{name}: {len(value)} characters, over the limit of {MAX_FILTER_CHARS}")


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
        for name in ("region", "doc", "unit"):
            _check_text(name, getattr(self, name))
        if self.level is not None and self.level not in {lv.value for lv in Level}:
            known = ", ".join(lv.value for lv in Level)
            raise FilterError(f"level: {self.level[:MAX_FILTER_CHARS]!r} is not one of {known}")
        for name in ("year_from", "year_to"):
            check_year(name, getattr(self, name))
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
            conditions.append("(d.region = ? OR d.region LIKE ? || '%' ESCAPE '\\')")
            params += [region, re.sub(r"([\\%_])", r"\\\1", region)]
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
