"""Which document each clause and each window belongs to, in memory, for filtered search.

A filter's conditions but the unit select documents (Filters.document_sql): few rows even at
1M clauses (about 12,000 documents). ``DocFacts`` holds what those conditions read of each
document and evaluates them with numpy. ``Members`` holds each document's clause ids, and
its window ids, as runs of consecutive ids (a document is written at once: one run each),
so the chosen documents become the allowed ids at the cost of the ids returned, instead of
a SQL join over every allowed row (160–230 ms at 100k clauses for a broad filter, more
under load). The unit condition is clause-level and selective: its clauses or windows come
from SQLite and are kept when their document passes. ``Store.allowed_clauses`` and
``Store.allowed_windows`` (one SQL join) stay the reference; tests/test_doc_map.py checks
that both give the same ids.

One map per KB generation, shared by readers; a change derives the next generation's from
the last one (``DocMap.changed``) instead of reading every clause and window again.
"""

from __future__ import annotations

import string
import sys
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from index.filters import Filters
from index.masks import sorted_ids  # a change may list an id twice: SQLite reuses the highest
from ingest.text import normalize, normalize_brackets

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # SQLite's LIKE


@dataclass(frozen=True)
class DocFacts:
    """What Filters.document_sql reads of each document, as columns (one row per document):
    the same conditions evaluated with numpy, microseconds per thousand documents instead of
    SQLite's scan and a doc_status lookup per document (10–30 ms at 12,000 documents)."""

    rowids: np.ndarray  # documents.rowid
    doc_ids: np.ndarray  # the columns below are object arrays: str, or None for NULL
    levels: np.ndarray
    regions: np.ndarray
    number_keys: np.ndarray
    title_keys: list[str]
    years: np.ndarray  # int64, 0 for NULL (has_year tells)
    has_year: np.ndarray
    has_status: np.ndarray  # a doc_status row exists (versions.refresh has seen the document)
    superseded: np.ndarray
    draft: np.ndarray
    valid_from: np.ndarray  # str ("" for NULL: has_from tells)
    has_from: np.ndarray
    valid_to: np.ndarray
    has_to: np.ndarray
    ended_by: np.ndarray

    @classmethod
    def of_rows(cls, rows: list[tuple]) -> DocFacts:
        """From Store.document_facts' rows."""
        cols = list(zip(*rows, strict=True)) if rows else [()] * 13

        def objects(values) -> np.ndarray:
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out

        def text(values) -> np.ndarray:
            return np.array([v if v is not None else "" for v in values], dtype=str)

        def present(values) -> np.ndarray:
            return np.array([v is not None for v in values], dtype=bool)

        return cls(
            rowids=np.array(cols[0], dtype=np.int64), doc_ids=objects(cols[1]),
            levels=objects(cols[2]), regions=objects(cols[3]), number_keys=objects(cols[4]),
            title_keys=list(cols[5]), years=np.array([y or 0 for y in cols[6]], dtype=np.int64),
            has_year=present(cols[6]), has_status=np.array(cols[7], dtype=bool),
            superseded=np.array(cols[8], dtype=bool),
            draft=np.array([bool(d) for d in cols[9]], dtype=bool),
            valid_from=text(cols[10]), has_from=present(cols[10]),
            valid_to=text(cols[11]), has_to=present(cols[11]), ended_by=objects(cols[12]),
        )  # fmt: skip

    def passing(self, filters: Filters) -> np.ndarray:
        """documents.rowid of the documents that pass Filters.document_sql (the same rules)."""
        keep = np.ones(len(self.rowids), dtype=bool)
        if filters.level:
            keep &= self.levels == filters.level
        if filters.region:
            keep &= self._in_region(normalize(filters.region))
        if filters.doc:
            doc = normalize(filters.doc)
            named = np.fromiter((doc in t for t in self.title_keys), bool, len(self.title_keys))
            keep &= (self.doc_ids == doc) | (self.number_keys == normalize_brackets(doc)) | named
        if filters.year_from:
            keep &= self.has_year & (self.years >= filters.year_from)
        if filters.year_to:
            keep &= self.has_year & (self.years <= filters.year_to)
        rule = filters.validity()
        if rule == "current":
            keep &= ~self.superseded
        elif rule is not None:
            keep &= self.has_status & (self._status_on(rule[1]) == rule[0])
        return self.rowids[keep]

    def _in_region(self, region: str) -> np.ndarray:
        """``d.region = ? OR d.region LIKE ? || '%'``: equal, or a prefix matched as LIKE does
        (ASCII letters in any case), decided once per distinct region."""
        names, codes = self._region_codes
        prefix = region.translate(_ASCII_LOWER)
        fits = [n is not None and (n == region or n.translate(_ASCII_LOWER).startswith(prefix))
                for n in names]  # fmt: skip
        return np.array(fits, dtype=bool)[codes]

    @cached_property
    def _region_codes(self) -> tuple[list[str | None], np.ndarray]:
        """The distinct regions (None for NULL), and each document's index among them."""
        names = list(dict.fromkeys(self.regions.tolist()))
        index = {n: i for i, n in enumerate(names)}
        return names, np.array([index[r] for r in self.regions.tolist()], dtype=np.int64)

    def _status_on(self, day: str) -> np.ndarray:
        """Each document's status on ``day``: filters.status_sql's CASE, row by row."""
        ended = (self.ended_by != None) & (~self.has_to | (self.valid_to < day))  # noqa: E711
        return np.select(
            [self.draft, self.has_from & (day < self.valid_from),
             ended & (self.ended_by == "version"), ended & (self.ended_by == "repeal"), ended],
            ["draft", "not_yet", "amended", "repealed", "expired"], "in_force",
        )  # fmt: skip

    @property
    def nbytes(self) -> int:
        """Bytes held: the arrays, and the strings the object columns point to."""
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        strings = [*self.title_keys, *self.doc_ids, *self.number_keys]
        return sum(a.nbytes for a in arrays) + sum(sys.getsizeof(t) for t in strings if t)


@dataclass(frozen=True)
class Members:
    """Ids as runs of consecutive ids of one document (``documents.rowid``), in id order.
    A document's clauses, and its windows, are written together: about one run per document,
    so a mask costs what it returns, and memory is per document, not per clause."""

    lows: np.ndarray  # int64: each run's first id, ascending
    sizes: np.ndarray  # int64: ids in each run
    docs: np.ndarray  # int64: each run's document

    @classmethod
    def of_rows(cls, ids: np.ndarray, docs: np.ndarray) -> Members:
        """From ids (sorted) and the document of each."""
        ids, docs = np.asarray(ids, dtype=np.int64), np.asarray(docs, dtype=np.int64)
        if not len(ids):
            return cls(ids, ids, docs)
        starts = np.flatnonzero(np.r_[True, (np.diff(ids) != 1) | (np.diff(docs) != 0)])
        return cls(ids[starts], np.diff(np.r_[starts, len(ids)]), docs[starts])

    @classmethod
    def of_ranges(cls, ranges: list[tuple[int, int, int, int]]) -> Members | None:
        """From (document, lowest id, highest id, ids) per document; None unless every
        document's ids are its whole range (then no other document's id lies inside)."""
        docs, lows, highs, sizes = np.array(ranges, dtype=np.int64).reshape(-1, 4).T
        if not np.array_equal(highs - lows + 1, sizes):
            return None
        order = np.argsort(lows)
        return cls(lows[order], sizes[order], docs[order])

    @property
    def ids(self) -> np.ndarray:
        """Every id, sorted."""
        return _expanded(self.lows, self.sizes)

    @property
    def owners(self) -> np.ndarray:
        """The document of each id (aligned with ``ids``)."""
        return np.repeat(self.docs, self.sizes)

    def of(self, chosen: np.ndarray) -> np.ndarray:
        """The ids whose document is chosen (``chosen``: a bool per documents.rowid), sorted."""
        keep = chosen[self.docs]
        return _expanded(self.lows[keep], self.sizes[keep])

    def among(self, ids: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """Those of ``ids`` (sorted) held here whose document is chosen."""
        if not len(ids) or not len(self.lows):
            return ids[:0]
        run = np.searchsorted(self.lows, ids, side="right") - 1
        held = (run >= 0) & (ids < (self.lows + self.sizes)[run.clip(min=0)])
        return ids[held & chosen[self.docs[run.clip(min=0)]]]

    def changed(self, removed: np.ndarray, added: tuple[np.ndarray, np.ndarray]) -> Members:
        """These members less ``removed`` ids (sorted), plus ``added`` (ids sorted, their
        documents): only the runs a removal touches are taken apart."""
        lows, sizes, docs = self.lows, self.sizes, self.docs
        run = np.searchsorted(lows, removed, side="right") - 1
        held = np.zeros(len(removed), dtype=bool)  # an empty map holds none of them
        if len(lows):
            held = (run >= 0) & (removed < (lows + sizes)[run.clip(min=0)])
        touched = np.unique(run[held])
        if len(touched):
            apart = Members(lows[touched], sizes[touched], docs[touched])
            ids, owners = apart.ids, apart.owners
            left = ~np.isin(ids, removed)
            rest = Members.of_rows(ids[left], owners[left])
            kept = np.ones(len(lows), dtype=bool)
            kept[touched] = False
            lows, sizes, docs = (np.r_[a[kept], b] for a, b in zip(
                (lows, sizes, docs), (rest.lows, rest.sizes, rest.docs), strict=True))  # fmt: skip
        new = Members.of_rows(*added)
        lows, sizes, docs = np.r_[lows, new.lows], np.r_[sizes, new.sizes], np.r_[docs, new.docs]
        order = np.argsort(lows, kind="stable")
        return Members._joined(lows[order], sizes[order], docs[order])

    @classmethod
    def _joined(cls, lows: np.ndarray, sizes: np.ndarray, docs: np.ndarray) -> Members:
        """Runs in id order with a run that continues the one before (same document, next
        id) joined to it: the form ``of_rows`` gives."""
        if not len(lows):  # every id removed (the KB's last document)
            return cls(lows, sizes, docs)
        continues = np.r_[False, (docs[1:] == docs[:-1]) & (lows[1:] == lows[:-1] + sizes[:-1])]
        starts = np.flatnonzero(~continues)
        summed = np.add.reduceat(sizes, starts)
        return cls(lows[starts], summed.astype(np.int64), docs[starts])

    @property
    def nbytes(self) -> int:
        return self.lows.nbytes + self.sizes.nbytes + self.docs.nbytes


def _expanded(lows: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The ids of runs (first id, size), in run order."""
    starts = np.cumsum(sizes) - sizes  # where each run begins in the output
    return np.arange(int(sizes.sum()), dtype=np.int64) + np.repeat(lows - starts, sizes)


@dataclass(frozen=True)
class DocMap:
    """Every clause's and every window's document, and what filters read of the documents,
    as one generation of the KB holds them."""

    clauses: Members
    windows: Members
    documents: DocFacts

    @classmethod
    def load(cls, store) -> DocMap:
        """Read from SQLite (``store`` sees the generation this map is for): as one id range
        per document, which is how documents are written (a third of the time of reading
        every id at 100k clauses), else id by id."""
        clauses = Members.of_ranges(store.clause_ranges())
        windows = Members.of_ranges(store.window_ranges()) if clauses else None
        documents = DocFacts.of_rows(store.document_facts())
        return cls(
            clauses or Members.of_rows(*store.clause_documents()),
            windows or Members.of_rows(*store.window_documents()),
            documents,
        )

    def changed(self, store, clauses: tuple[list[int], list[int]], windows) -> DocMap:
        """The map after a change: ``clauses`` and ``windows`` are (ids removed, ids added);
        ``store`` sees the change (the added rows' documents are read from it)."""
        added_clauses = store.clause_documents(sorted_ids(clauses[1]).tolist())
        added_windows = store.window_documents(sorted_ids(windows[1]).tolist())
        return DocMap(
            self.clauses.changed(sorted_ids(clauses[0]), added_clauses),
            self.windows.changed(sorted_ids(windows[0]), added_windows),
            DocFacts.of_rows(store.document_facts()),  # statuses of others may have changed
        )

    def allowed_clauses(self, store, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """clauses.id that pass the filters, sorted: Store.allowed_clauses' ids."""
        chosen = self._chosen(self.documents.passing(filters))
        if filters.unit:
            return self.clauses.among(store.clauses_naming(unit_names), chosen)
        return self.clauses.of(chosen)

    def allowed_windows(self, store, filters: Filters, unit_names: list[str]) -> np.ndarray:
        """Window ids that pass the filters, sorted: Store.allowed_windows' ids."""
        chosen = self._chosen(self.documents.passing(filters))
        if filters.unit:
            return self.windows.among(store.windows_naming(unit_names), chosen)
        return self.windows.of(chosen)

    def _chosen(self, documents: np.ndarray) -> np.ndarray:
        """A bool per documents.rowid: whether it is one of ``documents``."""
        chosen = np.zeros(max(self._top, int(documents.max(initial=0))) + 1, dtype=bool)
        chosen[documents] = True
        return chosen

    @cached_property
    def _top(self) -> int:
        """The highest documents.rowid held."""
        return int(max(self.clauses.docs.max(initial=0), self.windows.docs.max(initial=0)))

    @property
    def nbytes(self) -> int:
        return self.clauses.nbytes + self.windows.nbytes + self.documents.nbytes


class DocMaps:
    """The DocMap of each recent generation, loaded once and shared by all readers."""

    KEEP = 2  # the newest and the one before, as index.vectors.VectorCache keeps

    def __init__(self):
        self._maps: dict[int, DocMap] = {}
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # one load at a time: a second reader waits for it

    def get(self, generation: int, store) -> DocMap:
        """The map of ``generation``; ``store`` must see that generation."""
        found = self.held(generation)
        if found is None:
            with self._loading:
                found = self.held(generation)
                if found is None:
                    found = DocMap.load(store)
                    self.put(generation, found)
        return found

    def held(self, generation: int) -> DocMap | None:
        """The map of ``generation`` if one is loaded (a change derives the next from it)."""
        with self._lock:
            return self._maps.get(generation)

    def put(self, generation: int, doc_map: DocMap) -> None:
        with self._lock:
            self._maps[generation] = doc_map
            for old in sorted(self._maps)[: -self.KEEP]:
                del self._maps[old]
