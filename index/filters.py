"""Search filters, and their translation to SQL over ``clauses c JOIN documents d``."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import date

from ingest.dates import checked_date
from ingest.models import Level
from ingest.text import normalize, normalize_brackets

# Validity on a day (index.versions.STATUS_NAMES); "current" (the default) keeps each document's
# newest version, whatever its status; "all" every version.
STATUSES = ("in_force", "amended", "repealed", "not_yet", "draft", "expired")
VERSION_CHOICES = (*STATUSES, "current", "all")
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
    status: str | None = None  # one of VERSION_CHOICES; None = current versions only
    in_force_on: str | None = None  # ISO date: what was in force then (the day status is read)

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
        if self.status is not None and self.status not in VERSION_CHOICES:
            shown = self.status[:MAX_FILTER_CHARS]
            raise FilterError(f"status: {shown!r} is not one of {', '.join(VERSION_CHOICES)}")
        if self.in_force_on is not None:
            try:
                object.__setattr__(self, "in_force_on", checked_date(self.in_force_on[:40]))
            except ValueError as error:
                raise FilterError(f"in_force_on: {error}") from None

    @property
    def empty(self) -> bool:
        """No restriction but the default one: each document's current version."""
        return all(
            getattr(self, f.name) in (None, "", "current") if f.name == "status"
            else getattr(self, f.name) in (None, "")
            for f in fields(self)
        )  # fmt: skip

    @property
    def everything(self) -> bool:
        """Every version of every clause (status "all" and nothing else): no mask needed."""
        return self.status == "all" and replace(self, status=None).empty

    @property
    def masks(self) -> bool:
        """Whether a search must read the ids this filter allows: not for the default
        (current versions, hidden by the indexes themselves) nor for every version."""
        return not (self.empty or self.everything)

    def validity(self) -> tuple[str, str] | str | None:
        """What the filter asks of versions: None (every version: all), "current" (each
        document's newest version, the default), or (a status, the day it holds on:
        in_force_on, else today)."""
        if self.status == "all" and not self.in_force_on:
            return None
        if self.status in (None, "current") and not self.in_force_on:
            return "current"
        wanted = self.status if self.status in STATUSES else "in_force"
        return wanted, self.in_force_on or date.today().isoformat()

    def _versions(self) -> tuple[str | None, list]:
        """The condition on versions and validity (``validity``) in SQL."""
        rule = self.validity()
        if rule is None:
            return None, []
        if rule == "current":
            return ("NOT EXISTS (SELECT 1 FROM doc_status s WHERE s.doc_id = d.doc_id"
                    " AND s.superseded_by IS NOT NULL)"), []  # fmt: skip
        wanted, day = rule
        case, params = status_sql(day)
        condition = f"EXISTS (SELECT 1 FROM doc_status s WHERE s.doc_id = d.doc_id AND {case} = ?)"
        return condition, [*params, wanted]

    def sql(self, unit_names: list[str]) -> tuple[str, list]:
        """A WHERE condition and its parameters; ``unit_names`` are the unit's resolved names."""
        where, params = self.document_sql()
        unit, unit_params = self.unit_sql(unit_names)
        if not unit:
            return where, params
        return (unit if where == "1" else f"{where} AND {unit}"), [*params, *unit_params]

    def document_sql(self) -> tuple[str, list]:
        """The conditions on ``documents d`` alone (all but the unit): they select documents,
        which index.doc_map turns into clause and window ids."""
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
        if self.year_from:
            conditions.append("d.year >= ?")
            params.append(self.year_from)
        if self.year_to:
            conditions.append("d.year <= ?")
            params.append(self.year_to)
        versions, version_params = self._versions()
        if versions:
            conditions.append(versions)
            params += version_params
        return " AND ".join(conditions) or "1", params

    def unit_sql(self, unit_names: list[str]) -> tuple[str, list]:
        """The unit condition on ``clauses c`` ("" without a unit): clause-level, and selective."""
        if not self.unit:
            return "", []
        named, params = unit_condition(unit_names)
        return f"EXISTS (SELECT 1 FROM clause_units u WHERE u.clause = c.id AND {named})", params


def unit_condition(unit_names: list[str]) -> tuple[str, list]:
    """A ``clause_units u`` row naming the unit: by canonical name or as written."""
    marks = ",".join("?" * len(unit_names))
    return f"(u.canonical IN ({marks}) OR u.name IN ({marks}))", unit_names * 2


def status_sql(day: str) -> tuple[str, list]:
    """A document's status on ``day`` as SQL over ``doc_status s``: index.versions.status_on."""
    return (
        "(CASE WHEN s.draft THEN 'draft'"
        " WHEN s.valid_from IS NOT NULL AND ? < s.valid_from THEN 'not_yet'"
        " WHEN s.ended_by IS NOT NULL AND (s.valid_to IS NULL OR ? > s.valid_to) THEN"
        " (CASE s.ended_by WHEN 'version' THEN 'amended' WHEN 'repeal' THEN 'repealed'"
        " ELSE 'expired' END)"
        " ELSE 'in_force' END)",
        [day, day],
    )
