"""Dense, BM25, exact-wording and hybrid search over a KnowledgeBase.

Dense search ranks windows by cosine and keeps each clause's best window. BM25 ranks
clauses by their jieba words, scored in memory as SQLite FTS5 would (index/lexical_index).
Hybrid fuses the two rankings by weighted reciprocal rank fusion, reordered by the KB's
second stage when it has one (index/rerank.py); clauses that contain the query's exact wording
go first for wording queries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from index.filters import Filters
from index.kb import KnowledgeBase, Snapshot
from index.lexical import (
    QUERY_STOPWORDS,
    bm25_match,
    match_spans,
    phrase_key,
    phrase_match,
    quoted_phrase,
    words,
)
from index.records import ClauseCitation
from index.windows import Span, sentences
from ingest.text import normalize
from ingest.units import UnitResolver

MODES = ("hybrid", "dense", "bm25", "phrase")
RRF_K = 60  # the constant of Cormack et al. (2009): damps the top ranks' dominance
# Weight of each retriever's list in the fusion (a list not named weighs 1). They sum to 2,
# so a clause first in both lists scores 2 / (RRF_K + 1) whatever the split.
# Dense leans 0.6 : 0.4: best on STARD's train split among the weights that keep the policy
# seeds' hybrid R@5 (docs/benchmarks.md, "Fusion on the corrected lists").
FUSION_WEIGHTS = {"dense": 1.2, "bm25": 0.8}
MAX_QUERY_CHARS = 500
MAX_HIGHLIGHT_CHARS = 20_000  # characters of one hit's text scanned for marks
_QUESTION = re.compile(r"[?？]|吗$|哪些|什么|怎么|如何|是否")


class QueryError(ValueError):
    """A query that cannot be searched: empty, too long, or an unknown mode."""


@dataclass
class Highlight:
    """Offsets into the clause text: the best-matching sentence and the matched words."""

    sentence: tuple[int, int] | None
    spans: list[tuple[int, int]]


@dataclass
class SearchHit(ClauseCitation):
    """One clause in a result list, with what a reader needs to cite it."""

    label: str
    path: list[str]
    text: str
    units: list[dict]
    targets: list[dict]
    score: float
    highlight: Highlight
    matched_by: dict[str, int] = field(default_factory=dict)  # retriever → 1-based rank


@dataclass
class _Candidate:
    clause: int  # clauses.id
    score: float = 0.0
    ranks: dict[str, int] = field(default_factory=dict)
    window: Span | None = None


class Searcher:
    """Runs queries against one KB, or one snapshot of it: each search reads one state."""

    def __init__(self, kb: KnowledgeBase | Snapshot):
        self.kb = kb

    def search(
        self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[SearchHit]:
        """The top_k clauses for the query; a fully quoted query is an exact-wording query."""
        query = _checked(query, mode)
        with self.kb.reading() as snapshot:
            return Searcher(snapshot)._search(query, top_k, filters or Filters(), mode)

    def ranking(
        self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[int]:
        """The clauses.id of what ``search`` returns, without building the hits: for
        evaluations that run thousands of queries (evals/)."""
        query = _checked(query, mode)
        with self.kb.reading() as snapshot:
            ranked, _ = Searcher(snapshot)._ranked(query, top_k, filters or Filters(), mode)
            return [c.clause for c in ranked]

    def _search(self, query: str, top_k: int, filters: Filters, mode: str) -> list[SearchHit]:
        ranked, terms = self._ranked(query, top_k, filters, mode)
        return self._hits(ranked, terms)

    def _ranked(self, query: str, top_k: int, filters: Filters, mode: str):
        """The top_k candidates, best first, and the terms their highlights mark."""
        units = self.unit_names(filters.unit) if filters.unit else []
        phrase = quoted_phrase(query)
        if phrase or mode == "phrase":
            return self._phrase(phrase or query, top_k, filters, units), [phrase or query]
        reranker = self.kb.reranker if mode == "hybrid" else None
        depth = max(100, top_k * 5, reranker.depth if reranker else 0)
        lists = {}
        if mode in ("hybrid", "dense"):
            lists["dense"] = self._dense(query, depth, filters, units)
        if mode in ("hybrid", "bm25"):
            lists["bm25"] = self._bm25(query, depth, filters, units)
        ranked = _fuse(lists) if mode == "hybrid" else lists[mode]
        if reranker:  # opt-in, with a query adapter (index.rerank)
            ranked = reranker.rerank(self.kb, query, lists, ranked, filters)
        if mode == "hybrid" and _is_wording(query):
            ranked = self._wording_first(query, ranked, depth, filters, units)
        return ranked[:top_k], _highlight_terms(query)

    # --- retrievers ---------------------------------------------------------------------

    def _dense(self, query: str, depth: int, filters: Filters, units: list[str]):
        vector = self.kb.encode_query(query)
        allowed = self.kb.allowed_windows(filters, units) if filters.masks else None
        window_hits = self.kb.vectors.search(vector, depth * 3, allowed)
        if filters.empty:  # the default keeps current versions: drop superseded ones here
            hidden = self.kb.store.superseded_windows([w for w, _ in window_hits])
            window_hits = [(w, score) for w, score in window_hits if w not in hidden]
        located = self.kb.store.windows_of([w for w, _ in window_hits])
        best: dict[int, _Candidate] = {}
        for window_id, score in window_hits:
            clause, span = located[window_id]
            if clause not in best:
                best[clause] = _Candidate(clause, score, window=span)
        return _ranked(list(best.values())[:depth], "dense")

    def _bm25(self, query: str, depth: int, filters: Filters, units: list[str]):
        match = bm25_match(query)
        if match is None:
            return []
        allowed = self.kb.allowed_clauses(filters, units) if filters.masks else None
        found = self.kb.bm25.search(match, depth, allowed, hide=not filters.everything)
        if found is None:  # a term FTS5 reads as a phrase of several tokens: FTS5 ranks it
            found = self.kb.store.fts("clauses_bm25", match, depth, filters, units)
        return _ranked([_Candidate(c, s) for c, s in found], "bm25")

    def _phrase(self, phrase: str, depth: int, filters: Filters, units: list[str]):
        """Clauses containing the wording, in document order within the best documents."""
        match = phrase_match(phrase)
        if match:
            # a trigram phrase query matches consecutive trigrams: a true substring
            found = self.kb.store.fts("clauses_phrase", match, depth, filters, units)
        else:
            clauses = self.kb.store.substring_matches(phrase_key(phrase), depth, filters, units)
            found = [(c, 1.0) for c in clauses]
        return _ranked([_Candidate(c, s) for c, s in found], "phrase")

    def _wording_first(self, query, ranked, depth, filters, units):
        """Clauses holding the query verbatim first, keeping the fused order among them."""
        verbatim = {c.clause: c for c in self._phrase(query, depth, filters, units)}
        if not verbatim:
            return ranked
        first = [c for c in ranked if c.clause in verbatim]
        seen = {c.clause for c in first}
        first += [c for c in verbatim.values() if c.clause not in seen]
        for candidate in first:
            candidate.ranks["phrase"] = verbatim[candidate.clause].ranks["phrase"]
        rest = [c for c in ranked if c.clause not in verbatim]
        return first + rest

    # --- units and results --------------------------------------------------------------

    def unit_names(self, name: str) -> list[str]:
        """Canonical names a unit filter stands for: as typed, and as each region reads it."""
        names = {normalize(name)}
        for region in [None, *self.kb.store.regions()]:
            names.add(UnitResolver(region, []).canonical(name)[0])
        return sorted(names)

    def _hits(self, ranked: list[_Candidate], terms: list[str]) -> list[SearchHit]:
        ids = [c.clause for c in ranked]
        rows = self.kb.store.clause_rows(ids)
        units = self.kb.store.units_of(ids)
        hits = []
        for candidate in ranked:
            row = rows[candidate.clause]
            hits.append(
                SearchHit(
                    clause_id=row["clause_id"], doc_id=row["doc_id"], doc_title=row["doc_title"],
                    doc_number=row["doc_number"], level=row["level"], region=row["region"],
                    label=row["label"], path=json.loads(row["path"]), text=row["text"],
                    units=units[candidate.clause], targets=json.loads(row["targets"]),
                    score=round(candidate.score, 6),
                    highlight=_highlight(row["text"], terms, candidate.window),
                    matched_by=dict(candidate.ranks),
                )
            )  # fmt: skip
        return hits


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # no query needs them; FTS5 chokes


def _checked(query: str, mode: str) -> str:
    if mode not in MODES:
        raise QueryError(f"mode: {mode[:MAX_QUERY_CHARS]!r} is not one of {', '.join(MODES)}")
    query = _CONTROL.sub(" ", query).strip()
    if not query:
        raise QueryError("query: empty")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query: {len(query)} characters, over the limit of {MAX_QUERY_CHARS}")
    return query


def _ranked(candidates: list[_Candidate], name: str) -> list[_Candidate]:
    for rank, candidate in enumerate(candidates, 1):
        candidate.ranks[name] = rank
    return candidates


def _fuse(
    lists: dict[str, list[_Candidate]],
    weights: dict[str, float] | None = None,
    k: int | None = None,
) -> list[_Candidate]:
    """Weighted reciprocal rank fusion: score = Σ w_list / (k + rank) over the lists a clause
    is in (Cormack et al. 2009 with per-list weights; FUSION_WEIGHTS and RRF_K unless given)."""
    weights = FUSION_WEIGHTS if weights is None else weights
    k = RRF_K if k is None else k
    fused: dict[int, _Candidate] = {}
    for candidates in lists.values():
        for candidate in candidates:
            merged = fused.setdefault(candidate.clause, _Candidate(candidate.clause))
            merged.ranks.update(candidate.ranks)
            merged.window = merged.window or candidate.window
    for merged in fused.values():
        merged.score = sum(
            weights.get(name, 1.0) / (k + rank) for name, rank in merged.ranks.items()
        )
    return sorted(fused.values(), key=lambda c: -c.score)


def _is_wording(query: str) -> bool:
    """A query that reads as wording to find rather than a question to answer."""
    return len(phrase_key(query)) >= 2 and not _QUESTION.search(query)


def _highlight_terms(query: str) -> list[str]:
    terms = [w for w in words(query) if w not in QUERY_STOPWORDS]
    long_terms = [w for w in terms if len(w) >= 2]
    return [query, *(long_terms or terms)]


def _highlight(text: str, terms: list[str], window: Span | None) -> Highlight:
    """Matched words, and the sentence to mark: in the best window, the one most matched.

    Only MAX_HIGHLIGHT_CHARS of the text are scanned (from the best window on, in a text
    longer than that): the work per hit is bounded whatever a document holds.
    """
    offset = window.start if window and window.end > MAX_HIGHLIGHT_CHARS else 0
    scope = text[offset : offset + MAX_HIGHLIGHT_CHARS]
    spans = [(s + offset, e + offset) for s, e in match_spans(scope, terms)]
    candidates = [Span(s.start + offset, s.end + offset) for s in sentences(scope)]
    if window:
        inside = [s for s in candidates if window.start <= s.start and s.end <= window.end]
        candidates = inside or candidates
    if not candidates:
        return Highlight(None, spans)

    def covered(sentence: Span) -> int:
        return sum(min(e, sentence.end) - max(s, sentence.start)
                   for s, e in spans if s < sentence.end and sentence.start < e)  # fmt: skip

    best = max(candidates, key=covered)
    if not covered(best) and not window:
        best = candidates[0]
    return Highlight((best.start, best.end), spans)
