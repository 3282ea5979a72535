"""Who owns what: units as officials name them, their tasks, and a document's ownership matrix.

A unit is a canonical name from the ingestion tags (国家税务总局重庆市税务局) with the region it
serves. Officials type what they say every day (市发改委, 人社局); ``resolve`` reads that the way
each region's documents do, and refuses to guess when two regions both have such a unit.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from index.store import Store
from ingest.text import normalize, normalize_brackets, tidy
from ingest.units import UnitResolver

ROLES = ("lead", "responsible", "supporting", "mentioned")
ROLE_FILTERS = ("lead", "responsible", "supporting", "any")
TASK_ROLES = ("lead", "responsible", "supporting")
_LOCAL_PREFIXES = (
    "省",
    "市",
    "区",
    "县",
    "州",
)  # what the matrix shows: who must act, not who is named


def unit_id(canonical: str) -> str:
    """A short stable id for URLs: the same canonical name always gets the same id."""
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:12]


def in_region(unit_region: str | None, region: str) -> bool:
    """重庆 matches 重庆市, and a city matches its counties (淮安市 → 淮安市洪泽区)."""
    return bool(unit_region) and unit_region.startswith(normalize(region))


@dataclass
class Unit:
    """A canonical unit with the names documents call it and how many clauses name it."""

    unit_id: str
    canonical: str
    region: str | None
    kind: str
    aliases: list[str] = field(default_factory=list)
    roles: Counter = field(default_factory=Counter)  # role → clauses

    @property
    def tasks(self) -> int:
        return sum(self.roles[role] for role in TASK_ROLES)

    def summary(self) -> dict:
        return {"id": self.unit_id, "name": self.canonical, "canonical": self.canonical,
                "region": self.region, "kind": self.kind}  # fmt: skip


@dataclass
class Task:
    """A clause that names a unit, with the unit's role and the other units on it."""

    clause_id: str
    doc_id: str
    doc_title: str
    doc_number: str | None
    region: str | None
    label: str
    path: list[str]
    text: str
    role: str
    co_units: list[dict]


class UnitNotFound(LookupError):
    """No unit by that name; ``suggestions`` are the closest known ones."""

    def __init__(self, name: str, suggestions: list[Unit]):
        self.suggestions = suggestions
        names = "、".join(u.canonical for u in suggestions)
        hint = f"; did you mean {names}" if suggestions else ""
        super().__init__(f"unit: no unit is called {name!r}{hint}")


class AmbiguousUnit(LookupError):
    """The name means different units in different regions; ``candidates`` lists them."""

    def __init__(self, name: str, candidates: list[Unit]):
        self.candidates = candidates
        listed = "、".join(f"{u.canonical}（{u.region or '全国'}）" for u in candidates)
        super().__init__(f"unit: {name!r} may mean {listed}; give a region")


class UnitDirectory:
    """Every unit in a KB, with the names each is known by."""

    def __init__(self, store: Store):
        self.store = store
        self.by_canonical: dict[str, Unit] = {}
        self.by_name: dict[str, set[str]] = defaultdict(set)
        for row in store.unit_names():
            unit = self.by_canonical.setdefault(
                row["canonical"],
                Unit(unit_id(row["canonical"]), row["canonical"], row["region"], row["kind"]),
            )
            unit.roles[row["role"]] += row["clauses"]
            if row["name"] != row["canonical"] and row["name"] not in unit.aliases:
                unit.aliases.append(row["name"])
            for name in (row["name"], row["canonical"]):
                self.by_name[_key(name)].add(row["canonical"])
        self.by_id = {u.unit_id: u for u in self.by_canonical.values()}
        self._readers = self._region_readers()

    def _region_readers(self) -> list[UnitResolver]:
        """One resolver per region in the KB, with that region's issuers, plus a national one."""
        issuers: dict[str | None, list[str]] = defaultdict(list)
        for doc in self.store.document_rows():
            issuers[doc["region"]] += json.loads(doc["issuers"])
        issuers.setdefault(None, [])
        return [UnitResolver(region, names) for region, names in issuers.items()]

    # --- finding units ------------------------------------------------------------------------

    def units(self, query: str | None = None, region: str | None = None) -> list[Unit]:
        """Units whose canonical name or an alias contains the query, most tasks first."""
        found = list(self.by_canonical.values())
        if query:
            key = _key(query)
            resolved = self._candidates(query)
            found = [u for u in found if u.canonical in resolved or _matches(key, u)]
        if region:
            found = [u for u in found if in_region(u.region, region)]
        return sorted(found, key=lambda u: (-u.tasks, -sum(u.roles.values()), u.canonical))

    def get(self, ref: str) -> Unit | None:
        """A unit by id or exact canonical name."""
        return self.by_id.get(ref) or self.by_canonical.get(normalize_brackets(tidy(ref)))

    def resolve(self, name: str, region: str | None = None) -> Unit:
        """The one unit a typed name means (within ``region`` if given)."""
        candidates = [self.by_canonical[c] for c in sorted(self._candidates(name))]
        if region:
            local = [u for u in candidates if in_region(u.region, region)]
            candidates = local or [u for u in candidates if u.region is None]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise AmbiguousUnit(name, candidates)
        raise UnitNotFound(name, self.suggestions(name, region))

    def _candidates(self, name: str) -> set[str]:
        """Canonical names the name is written as, or reads as in some region of the KB."""
        key = _key(name)
        found = set(self.by_name.get(key, ()))
        local_name = key[:1] in _LOCAL_PREFIXES  # 市发改委 never means the national body
        for reader in self._readers:
            if local_name and reader.scope.own is None:
                continue
            canonical = reader.canonical(name)[0]
            if canonical in self.by_canonical:
                found.add(canonical)
        return found

    def suggestions(self, name: str, region: str | None = None, limit: int = 5) -> list[Unit]:
        """The known units whose names look most like ``name``."""
        key = _key(name)
        pool = self.units(region=region) if region else list(self.by_canonical.values())

        def likeness(unit: Unit) -> float:
            return max(difflib.SequenceMatcher(None, key, _key(n)).ratio() for n in _names(unit))

        scored = sorted(((likeness(u), u.canonical, u) for u in pool), key=lambda s: (-s[0], s[1]))
        return [u for score, _, u in scored[:limit] if score >= 0.3]

    # --- what a unit does -------------------------------------------------------------------------

    def tasks(self, unit: Unit, role: str = "any", region: str | None = None) -> list[Task]:
        """The clauses naming the unit, newest document first; a national unit's can be scoped."""
        if role not in ROLE_FILTERS:
            raise ValueError(f"role: {role!r} is not one of {', '.join(ROLE_FILTERS)}")
        scope = region if region and unit.region is None else None
        rows = [r for r in self.store.unit_clauses(unit.canonical, scope)
                if role == "any" or r["role"] == role]  # fmt: skip
        units = self.store.units_of([r["id"] for r in rows])
        return [
            Task(
                clause_id=r["clause_id"], doc_id=r["doc_id"], doc_title=r["doc_title"],
                doc_number=r["doc_number"], region=r["region"], label=r["label"],
                path=json.loads(r["path"]), text=r["text"], role=r["role"],
                co_units=[{"canonical": u["canonical"], "role": u["role"]}
                          for u in units[r["id"]] if u["canonical"] != unit.canonical],
            )
            for r in rows
        ]  # fmt: skip


def task_json(task: Task) -> dict:
    """A task as JSON, its path ending with the clause's own label as people cite it."""
    return {**asdict(task), "path": [*task.path, task.label] if task.label else task.path}


@dataclass
class MatrixRow:
    """One clause of the matrix: which unit leads it and which share it."""

    clause_id: str
    doc_id: str
    label: str
    path: list[str]
    text: str
    roles: dict[str, str]  # canonical → lead | responsible | supporting


@dataclass
class Matrix:
    """Clauses × units, with roles: how a document (or a region's documents) splits the work."""

    title: str
    units: list[Unit]
    rows: list[MatrixRow]

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "units": [u.summary() for u in self.units],
            "rows": [
                {"clause_id": r.clause_id, "doc_id": r.doc_id, "label": r.label,
                 "path": r.path, "text": r.text, "roles": r.roles}
                for r in self.rows
            ],
        }  # fmt: skip

    def csv_rows(self) -> list[list[str]]:
        """A header and one row per clause; cells say 牵头, 责任 or 配合 as a spreadsheet reader
        would."""
        names = {"lead": "牵头", "responsible": "责任", "supporting": "配合"}
        header = ["条款", "内容", *(u.canonical for u in self.units)]
        body = [
            ["/".join([*r.path, r.label]), r.text,
             *(names.get(r.roles.get(u.canonical, ""), "") for u in self.units)]
            for r in self.rows
        ]  # fmt: skip
        return [header, *body]


def ownership_matrix(directory: UnitDirectory, doc_ids: list[str], title: str) -> Matrix:
    """The matrix of the given documents' clauses that give some unit a task."""
    store = directory.store
    rows: list[MatrixRow] = []
    for doc_id in doc_ids:
        clauses = store.clauses_of(doc_id)
        units = store.units_of([c["id"] for c in clauses])
        for clause in clauses:
            roles = {u["canonical"]: u["role"] for u in units[clause["id"]]
                     if u["role"] in TASK_ROLES}  # fmt: skip
            if roles:
                rows.append(
                    MatrixRow(clause["clause_id"], doc_id, clause["label"],
                              json.loads(clause["path"]), clause["text"], roles)
                )  # fmt: skip
    leads = Counter(c for r in rows for c, role in r.roles.items() if role == "lead")
    cells = Counter(c for r in rows for c in r.roles)
    order = sorted(cells, key=lambda c: (-leads[c], -cells[c], c))
    return Matrix(title, [directory.by_canonical[c] for c in order], rows)


def _key(name: str) -> str:
    return normalize_brackets(tidy(name))


def _matches(key: str, unit: Unit) -> bool:
    """A listing query matches a name it is part of, or whose characters it keeps in order
    (发改 → 发展和改革委员会), as abbreviations are made."""
    return any(key in _key(n) or _in_order(key, _key(n)) for n in _names(unit))


def _in_order(short: str, full: str) -> bool:
    chars = iter(full)
    return len(short) >= 2 and all(ch in chars for ch in short)


def _names(unit: Unit) -> list[str]:
    return [unit.canonical, *unit.aliases]
