"""Cross-level links: which national (or provincial) clause each local clause carries out.

Document level: a document's citations (《title》, 文号) resolve to documents in the KB; the
relation is "implements" when the title or opening says 落实/贯彻/实施《X》, else "cites".

Clause level, for every clause of a provincial, municipal or county document: candidates are
the clauses of the documents it implements or cites and of the higher-level documents
closest to it (document centroids), ranked by a logistic model over six pieces of evidence:

- ``cosine``: the embeddings' similarity;
- ``overlap``: the share of the local clause's character bigrams found in the source;
- ``alignment``: the Smith-Waterman score over the shorter text's best (index.alignment);
- ``relation``: 1 when the source's document is implemented, 0.5 when cited, else 0;
- ``order``: 1 when the source is the local clause's nearest in the implemented documents and
  the pair lies on the monotone alignment of the two clause sequences;
- ``lexical``: BM25 of the local clause's words against the source, as a share of its best
  candidate's: the IDF comes from the clauses searched, so a law's stock subject
  (县级以上人民政府渔业行政主管部门) weighs little and the terms naming the matter much.

A clause about its own document only (本办法自…起施行, 本办法由…解释, 为实施《X》，结合本市实际，
制定本办法) carries out no clause of X and gets no source, however alike the wording.

How the evidence decides (``ranking`` in index/data/link_model.json, format 2):

- "clauses": each pair is scored by a logistic model over the six, and a clause's sources are
  its best pairs clearing the "none" threshold;
- "articles": a local unit's pairs (its article 第N条, or the clause alone when ``local_unit``
  is "clause" or it lies in no article) are gathered by the source article they reach (a
  source clause in no article alone), each group's evidence the best of each feature over its
  pairs. A listwise (softmax) model ranks the groups, a pointwise logistic model scores them,
  and the unit says "none" when its first group scores below the threshold. Links stay
  clause to clause: each clause's source in a group is its best pair there; with a ``gate``
  (a clause-level pointwise model), only when one of the clause's pairs into the group
  clears the gate's own threshold.

The weights and the "none" threshold are fitted on labelled pairs (training.link_model) and
kept in index/data/link_model.json. The wording evidence of a run's pairs comes from documents
prepared once and kept by content (index.link_evidence), with ``pair_features`` and ``Lexicon``
as the references it equals.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache
from importlib import resources

import numpy as np

from index.alignment import MATCH, Change, differences, smith_waterman
from index.lexical import words
from index.link_evidence import BM25_B, BM25_K1, Prepared, SourceRun, prepared
from index.link_evidence import wording_key as _key
from index.store import Store
from ingest.citations import find_citations
from ingest.text import normalize, normalize_brackets
from ingest.units import Scope

LEVEL_RANK = {"national": 0, "provincial": 1, "municipal": 2, "county": 3}
FEATURES = ("cosine", "overlap", "alignment", "relation", "order", "lexical")
NEAREST_DOCS = 5  # higher-level documents searched besides the implemented and cited ones
NEAREST_MARGIN = 1e-5  # cosine margin by which a document must miss another's nearest
DENSE_CANDIDATES = 20  # source clauses per local clause scored in full
SOURCES_KEPT = 3
MEASURES_KEPT = 128  # documents read for linking kept per KB (a change's relinks and sources)
DIFFS_KEPT = 10_000  # stored diffs kept by their two texts (a relinked document keeps most pairs)
REACH_MARGIN = 1e-6  # of the model's log-odds, for rounding: a pair this far below is never stored
ORDER_MIN_COSINE = 0.85  # a nearest pair this similar may anchor the monotone alignment
OPENING_CLAUSES = 3  # clauses (headings aside) where a document says what it implements
# A verb, then up to 6 characters or the bodies that issued the title (…国务院办公厅《X》).
_IMPLEMENTING = re.compile(
    r"(?:落实|贯彻|实施|执行|根据|依据|依照|按照)"
    r"(?:[^《》。；，,]{0,6}|[^《》。；，,]{0,30}(?:厅|室|部|委|局|院|府|会|印发|发布))$"
)
_QUOTED = re.compile(r"《([^《》]+)》")
# A clause about its own document only: when it takes effect, who interprets it, or that it is
# made to carry out 《X》 (with no aim of its own). It carries out no clause of X.
_OWN_DOCUMENT = re.compile(
    r"^(?:本(?:办法|规定|条例|细则|方案|意见|措施)[^。]{0,40}(?:施行|解释)。?"
    r"|(?:为了?|为)?(?:实施|贯彻|执行|根据|依据)《[^》]+》[^。《》]{0,60}"
    r"(?:《[^》]+》[^。《》]{0,60})*制定本(?:办法|规定|条例|细则|方案|意见|措施)。?)$"
)
# Between two titles of one list: an optional （文号） and a conjunction.
_TITLE_JOIN = re.compile(r"^\s*(?:[（(][^（）()《》]{0,40}[）)])?\s*(?:及|和|与|、|以及)?\s*$")


MODEL_FILE = "data/link_model.json"  # under the index package
MODEL_FORMAT = 2  # link_model.json's "format"; a file without one is format 1
RANKINGS = ("clauses", "articles")  # what decides a clause's sources (link_model.json "ranking")


@cache
def link_model() -> dict:
    """The fitted model the KB links with (index/data/link_model.json), in format 2."""
    text = resources.files("index").joinpath(MODEL_FILE).read_text("utf-8")
    return read_model(json.loads(text), f"index/{MODEL_FILE}")


def read_model(found: dict, where: str) -> dict:
    """A link model in format 2: ``ranking`` (clauses | articles) says which part decides,
    ``clauses`` is the pointwise pair model (weights, bias, threshold), ``articles`` the
    article ranking (rank_weights, weights, bias, threshold, local_unit). A format 1 file
    (weights, bias and threshold alone) is the clause model; any other is refused, naming
    ``where``."""
    if "format" not in found:
        if not {"weights", "bias", "threshold"} <= found.keys():
            raise ValueError(f"{where}: not a link model (no format, weights, bias, threshold)")
        pair = {k: found[k] for k in ("weights", "bias", "threshold")}
        return {"format": MODEL_FORMAT, "ranking": "clauses", "clauses": pair}
    if found["format"] != MODEL_FORMAT or found.get("ranking") not in RANKINGS:
        raise ValueError(
            f"{where}: link model format {found['format']!r}, ranking {found.get('ranking')!r}; "
            f"this code reads format 1 or {MODEL_FORMAT} ({' | '.join(RANKINGS)}): refit it "
            "with `make link-model`"
        )
    if found["ranking"] == "articles" and "articles" not in found:
        raise ValueError(f"{where}: ranking is articles but the file has no articles model")
    return found


def link_score(features: dict[str, float], model: dict | None = None) -> float:
    """A pointwise model's probability that the pair (or article) is a source (the clause
    model by default); a feature the model was fitted without weighs nothing (so a new
    feature can be fitted from the model before it)."""
    model = model or link_model()["clauses"]
    weights = model["weights"]
    z = model["bias"] + sum(weights.get(name, 0.0) * features[name] for name in FEATURES)
    return 1 / (1 + math.exp(-z))


def rank_score(features: dict[str, float], model: dict) -> float:
    """The article ranking's (listwise) score of a pair or an article: higher ranks first."""
    weights = model["rank_weights"]
    return sum(weights.get(name, 0.0) * features[name] for name in FEATURES)


def deciding(model: dict) -> tuple[dict, float]:
    """The part of a format 2 model that decides links, and its "none" threshold."""
    part = model[model["ranking"]]
    return part, part["threshold"]


def kind_of(features: dict[str, float]) -> str:
    """verbatim: the wording is kept (≥ 90% of each text aligns); adapted: most of the local
    text aligns or shares its bigrams; related: the meaning is close, the wording is not."""
    if features["aligned_both"] >= 0.9:
        return "verbatim"
    if features["alignment"] >= 0.5 or features["overlap"] >= 0.6:
        return "adapted"
    return "related"


# --- documents --------------------------------------------------------------------------------


@dataclass
class DocumentLink:
    """A citation of one document, resolved to a document in the KB or not (target None)."""

    title: str | None
    doc_number: str | None
    target: str | None
    relation: str  # implements | cites


def document_links(store: Store, doc_id: str) -> list[DocumentLink]:
    """The document's citations, each once, resolved where the KB holds the cited document."""
    doc = store.document(doc_id)
    clauses = [(c["kind"], c["text"]) for c in store.clauses_of(doc_id)]
    cited = store.all_citations(doc_id)
    related = citation_relations(doc["title"], doc["doc_number"], clauses, cited)
    return [
        DocumentLink(c["title"], c["doc_number"],
                     resolve_citation(store, c["title"], c["doc_number"], doc_id, doc["date"]),
                     relation)
        for c, relation in related
    ]  # fmt: skip


def citation_relations(
    title: str, doc_number: str | None, clauses: list[tuple[str, str]], citations: list[dict]
) -> list[tuple[dict, str]]:
    """Each citation of a document once with its relation (implements | cites), from its text
    alone: ``clauses`` are (kind, text) in order, ``citations`` those of every clause."""
    implemented = implemented_keys(title, clauses)
    own_title = _issued_title(title)
    related: dict[tuple, tuple[dict, str]] = {}
    for citation in [asdict(c) for c in find_citations(title, doc_number)] + citations:
        key = (_title_key(citation["title"] or ""), citation["doc_number"])
        if key in related or (key[0] and _bare(key[0]) == own_title):
            continue  # a notice quoting the title of what it issues does not cite it
        related[key] = (citation, "implements" if key[0] in implemented else "cites")
    return list(related.values())


def implemented_keys(title: str, clauses: list[tuple[str, str]]) -> set[str]:
    """Title keys of what the title or the opening (first clauses other than headings, and the
    first article) says the document implements or is based on: 落实/贯彻/实施/根据《X》, and
    the titles listed with X."""
    opening = [text for kind, text in clauses if kind != "heading"][:OPENING_CLAUSES]
    opening += [text for kind, text in clauses if kind == "article"][:1]
    return {_title_key(t) for text in [title, *opening] for t in _implemented_titles(text)}


def _implemented_titles(text: str) -> list[str]:
    """《X》 after an implementing verb, and each title listed with it (《A》（文号）及《B》)."""
    titles, previous, end = [], False, 0
    for match in _QUOTED.finditer(text):
        joined = previous and _TITLE_JOIN.match(text[end : match.start()])
        previous = bool(joined or _IMPLEMENTING.search(text[: match.start()]))
        if previous:
            titles.append(match.group(1))
        end = match.end()
    return titles


def _issued_title(title: str) -> str:
    """What a notice issues (X of …关于印发X的通知), else the bare title itself."""
    bare = _bare(title)
    issued = re.search(r"印发(.+)的通知$", bare)
    return issued.group(1) if issued else bare


def _bare(title: str) -> str:
    return re.sub(r"[《》〈〉<>\s]", "", normalize(title))


def _title_key(title: str) -> str:
    return normalize(title).replace(" ", "")


def resolve_citation(
    store: Store, title: str | None, number: str | None, own: str, on: str | None = None
) -> str | None:
    """The doc_id a citation names: by 文号, else by title (also 中华人民共和国X法 for X法,
    and the notice that issued it: …关于印发X的通知); when several versions, the one in force
    on ``on`` (the citing document's date), else the newest."""
    if number:
        found = [r for r in store.documents_by_number(number) if r["doc_id"] != own]
        if found:
            return found[0]["doc_id"]
    if not title:
        return None
    key = _title_key(title)
    keys = [key, f"中华人民共和国{key}", f"关于印发{key}的通知", f"关于印发《{key}》的通知"]
    found = [r for r in store.documents_by_title(keys) if r["doc_id"] != own]
    found = found or _issuing_notices(store, key, own)
    return _in_force_then(store, found, on)[0]["doc_id"] if found else None


def may_name(doc, title: str | None, number: str | None) -> bool:
    """Whether ``resolve_citation`` could resolve a citation (title, 文号) to ``doc`` (a
    documents row): its rules for one document, erring towards yes. A new document makes
    only the unresolved citations it may name worth resolving again."""
    own_number = doc["doc_number"]
    if number and own_number and normalize_brackets(own_number) == normalize_brackets(number):
        return True
    if not title:
        return False
    key, doc_key = _title_key(title), normalize(doc["title"])
    if doc_key in (key, f"中华人民共和国{key}", f"关于印发{key}的通知", f"关于印发《{key}》的通知"):
        return True
    return key in doc_key and _issued_title(doc["title"]) == _bare(key)


def _in_force_then(store: Store, rows: list, on: str | None) -> list:
    """Versions in force on ``on`` first (latest start first), drafts last: a local document
    carries out the version of the national text that was in force when it was issued."""
    states = store.statuses([r["doc_id"] for r in rows]) if len(rows) > 1 else {}
    if not states:
        return rows

    def start(row) -> str:
        state = states.get(row["doc_id"])
        return (state["valid_from"] if state else None) or row["date"] or ""

    def draft(row) -> bool:
        return bool(states.get(row["doc_id"]) and states[row["doc_id"]]["draft"])

    then = sorted((r for r in rows if on and start(r) and start(r) <= on), key=start, reverse=True)
    return sorted(then + [r for r in rows if r not in then], key=draft)  # stable: drafts last


def _issuing_notices(store: Store, key: str, own: str) -> list:
    """Notices that issue the cited title under any issuer (北京市人民政府关于印发《X》的通知)."""
    rows = [r for r in store.find_documents(key)
            if r["doc_id"] != own and _issued_title(r["title"]) == _bare(key)]  # fmt: skip
    return sorted(rows, key=lambda r: r["date"] or "", reverse=True)


# --- clauses ----------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A possible source clause of one local clause, with its evidence and score."""

    local: int  # index into the local clauses
    source: int  # index into the source clauses
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


def rank_prepared(
    local: Prepared, local_vectors, sources: list[Prepared], source_vectors, relation_weights,
    top: int | None = None, floor: float | None = None, model: dict | None = None,
    units=None, groups=None,
):  # fmt: skip
    """Score candidate sources for each local clause of prepared documents (the sources'
    clauses in order, the vectors and weights matching); candidates per local clause. A
    clause about its own document only (when it takes effect…) gets no candidates. The
    features are ``pair_features``' and ``Lexicon``'s (the references), the arithmetic the
    same, operation for operation, over every pair of the run at once. ``model`` (format 2,
    ``link_model()`` by default) ranks them: ``_rank_articles`` when its ranking is
    "articles" (``units``, ``groups``: its local units and source groups), else by falling
    pair score. ``top`` and ``floor``: only the first ``top`` candidates of a clause scoring
    ``floor`` or more (what is stored), the others never made; with ``floor``, a pair that
    cannot reach it whatever its wording is not aligned."""
    model = model or link_model()
    cosine = local_vectors @ source_vectors.T
    order = _monotone_pairs(cosine, relation_weights)
    ordered: dict[int, list[int]] = {}
    for a, j in order:
        ordered.setdefault(a, []).append(j)
    closest = _closest(cosine, DENSE_CANDIDATES).tolist() if len(cosine) else []
    chosen = [
        [] if _OWN_DOCUMENT.match(key) else list(dict.fromkeys([*closest[i], *ordered.get(i, [])]))
        for i, key in enumerate(local.keys)
    ]  # fmt: skip
    left = np.array([i for i, found in enumerate(chosen) for _ in found], np.int64)
    right = np.array([j for found in chosen for j in found], np.int64)
    pairs = zip(left.tolist(), right.tolist(), strict=True)
    known = {"cosine": cosine[left, right].astype(np.float64),
             "relation": np.array(relation_weights, np.float64)[right],
             "order": np.array([float(pair in order) for pair in pairs])}  # fmt: skip
    run = SourceRun(sources)
    if model["ranking"] == "articles":
        units = np.arange(len(chosen)) if units is None else np.asarray(units, np.int64)
        groups = np.arange(len(source_vectors)) if groups is None else np.asarray(groups, np.int64)
        grouped = _Groups(left, right, units, groups)
        return _rank_articles(
            local, run, left, right, grouped, known, top, floor, model["articles"]
        )
    pointwise = model["clauses"]
    columns, live = _feature_columns(local, run, left, right, known,
                                     lambda found: _may_reach(found, floor, pointwise))  # fmt: skip
    scores = _link_scores(columns, live, pointwise)  # -inf: below the floor whatever the wording
    # Each clause's candidates by falling score, ties in the order chosen (a stable sort).
    ranked = np.lexsort((np.arange(len(left)), -scores, left))
    if top is not None or floor is not None:
        ranked = ranked[_kept(left[ranked], scores[ranked], top, floor)]
    return _per_local(left, right, ranked, scores, columns, len(chosen))


def _per_local(left, right, ranked, scores, columns: dict, count: int) -> list[list[Candidate]]:
    """The pairs ``ranked`` (indices, each clause's together) as each local clause's
    Candidates, in that order, with ``scores``."""
    rows = zip(left[ranked].tolist(), right[ranked].tolist(), scores[ranked].tolist(),
               *(column[ranked].tolist() for column in columns.values()), strict=True)  # fmt: skip
    candidates = [
        Candidate(i, j, {"cosine": cos, "overlap": ov, "alignment": al, "aligned_both": both,
                         "relation": rel, "order": od, "lexical": lex}, score)
        for i, j, score, cos, ov, al, both, rel, od, lex in rows
    ]  # fmt: skip
    per_local, at = [], 0
    for found in np.bincount(left[ranked], minlength=count).tolist():
        per_local.append(candidates[at : at + found])
        at += found
    return per_local


class _Groups:
    """The pairs of a run (local clause left[p], source clause right[p]) gathered by local
    unit and source group: ``of`` each pair's group, ``first`` each group's first pair (the
    order the candidates were chosen in), ``unit`` each group's local unit."""

    of: np.ndarray
    first: np.ndarray
    unit: np.ndarray
    units: int

    def __init__(self, left, right, units: np.ndarray, groups: np.ndarray):
        keys = units[left] * (int(groups.max(initial=0)) + 1) + groups[right]
        _, self.first, self.of = np.unique(keys, return_index=True, return_inverse=True)
        self.of = self.of.reshape(-1)
        self.unit = units[left][self.first]
        self.units = int(units.max(initial=0)) + 1

    def best(self, values: np.ndarray) -> np.ndarray:
        """The best (largest) of ``values`` over each group's pairs."""
        found = np.full(len(self.first), -np.inf)
        np.maximum.at(found, self.of, values)
        return found

    def leaders(self, rank: np.ndarray) -> np.ndarray:
        """Each unit's first group (falling ``rank``, then the first chosen); -1 for none."""
        order = np.lexsort((self.first, -rank, self.unit))
        lead = np.full(self.units, -1)
        starts = np.r_[True, self.unit[order][1:] != self.unit[order][:-1]]
        lead[self.unit[order][starts]] = order[starts]
        return lead


def _rank_articles(
    local: Prepared,
    run: SourceRun,
    left,
    right,
    grouped: _Groups,
    known: dict,
    top: int | None,
    floor: float | None,
    model: dict,
) -> list[list[Candidate]]:
    """The article ranking: a local unit's (its article, or the clause alone) candidate pairs
    gathered by source group (the national article the source lies in, or the source alone),
    a group's evidence the best of each feature over its pairs. Groups rank by the listwise
    weights; the pointwise model scores them. A clause's candidates are its best pair (by the
    listwise weights over the pair's features) in each group its unit has, in the unit's
    order, each scored by its group; with ``floor``, none in a unit whose first group scores
    below it ("none"), no group scoring below it, and with the model's ``gate`` no group the
    clause's own pairs there all score below the gate's threshold (``_gated``); with ``top``,
    the first ``top`` left."""
    columns, live = _feature_columns(
        local, run, left, right, known, lambda found: _units_may_reach(found, grouped, floor, model)
    )
    best = {name: grouped.best(columns[name]) for name in FEATURES}
    rank = _weighted(model["rank_weights"], best)
    points = _link_scores(best, live[grouped.first], model)  # a unit's groups: all live or none
    pair_rank = _weighted(model["rank_weights"], columns)
    of = grouped.of
    ordered = np.lexsort((np.arange(len(left)), -pair_rank, grouped.first[of], -rank[of], left))
    pair_left, pair_of = left[ordered], of[ordered]
    starts = np.r_[True, (pair_left[1:] != pair_left[:-1]) | (pair_of[1:] != pair_of[:-1])]
    ranked = ordered[starts]  # each clause's best pair of each group, the groups in rank order
    scores = points[of]
    if floor is not None:
        lead = grouped.leaders(rank)
        said = points[np.maximum(lead, 0)] >= floor
        keep = said[grouped.unit[of[ranked]]] & (scores[ranked] >= floor)
        if "gate" in model:
            keep &= _gated(left, grouped, columns, live, model["gate"])[ranked]
        ranked = ranked[keep]
    if top is not None:
        ranked = ranked[_kept(left[ranked], scores[ranked], top, None)]
    return _per_local(left, right, ranked, scores, columns, len(local.keys))


def _gated(left, grouped: _Groups, columns: dict, live: np.ndarray, gate: dict) -> np.ndarray:
    """Which pairs' clause has a pair into their group that the clause-level ``gate`` (a
    pointwise model: weights, bias, threshold) scores at its threshold or more: a clause of a
    linked article links there only when its own wording carries the article's source."""
    scores = _link_scores(columns, live, gate)  # -inf off the live units: never stored
    _, of = np.unique(left * len(grouped.first) + grouped.of, return_inverse=True)
    of = of.reshape(-1)
    best = np.full(int(of.max(initial=-1)) + 1, -np.inf)
    np.maximum.at(best, of, scores)
    return best[of] >= gate["threshold"]


def _weighted(weights: dict[str, float], columns: dict[str, np.ndarray]) -> np.ndarray:
    """The sum of weight × column, feature by feature in FEATURES' order."""
    total = np.zeros(len(columns["cosine"]))
    for k, name in enumerate(FEATURES):
        term = weights.get(name, 0.0) * columns[name]
        total = term if k == 0 else total + term
    return total


def _units_may_reach(known: dict[str, np.ndarray], grouped: _Groups, floor, model) -> np.ndarray:
    """Which pairs lie in a local unit where some group could score ``floor`` or more
    whatever its pairs' wording (a group's overlap and alignment, the best of its pairs', lie
    in [0, 1]): by the pointwise model's log-odds of each group with the best of its pairs'
    ``known`` features. In any other unit every group scores below ``floor``, the first
    too: the unit says "none" whatever the ranking, so its pairs need no alignment."""
    count = len(known["cosine"])
    if floor is None or not 0 < floor < 1:
        return np.ones(count, bool)
    best = {name: grouped.best(values) for name, values in known.items()}
    weights = model["weights"]
    z = model["bias"] + sum(max(weights.get(f, 0.0), 0.0) for f in FEATURES if f not in known)
    z = z + sum(weights.get(name, 0.0) * values for name, values in best.items())
    reach = z >= math.log(floor / (1 - floor)) - REACH_MARGIN
    unit_live = np.zeros(grouped.units, bool)
    unit_live[grouped.unit[reach]] = True
    return unit_live[grouped.unit[grouped.of]]


def _closest(cosine: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(-cosine, axis=1)[:, :k]``: from a partial sort where a row's k + 1 largest
    are distinct (then any sort orders its first k alike), the full sort's on the other rows
    (ties, which it breaks its own way)."""
    negative = -cosine
    if negative.shape[1] <= k + 1:
        return np.argsort(negative, axis=1)[:, :k]
    part = np.argpartition(negative, k, axis=1)[:, : k + 1]
    values = np.take_along_axis(negative, part, axis=1)
    order = np.argsort(values, axis=1)
    part, values = np.take_along_axis(part, order, 1), np.take_along_axis(values, order, 1)
    ties = ~np.all(np.diff(values, axis=1) > 0, axis=1)
    if ties.any():
        part[ties] = np.argsort(negative[ties], axis=1)[:, : k + 1]
    return part[:, :k]


def _kept(left: np.ndarray, scores: np.ndarray, top: int | None, floor: float | None):
    """Which pairs (sorted by clause, then by falling score) are among their clause's first
    ``top`` and score ``floor`` or more."""
    starts = np.searchsorted(left, left)  # where each pair's clause begins
    keep = np.ones(len(left), bool)
    if top is not None:
        keep &= np.arange(len(left)) - starts < top
    if floor is not None:
        keep &= scores >= floor
    return keep


def _feature_columns(local: Prepared, run: SourceRun, left, right, known: dict, reach):
    """Each pair's features (local clause left[p], source clause right[p]) in the order
    ``candidates`` lists them, from the ``known`` cosine, relation and order, with which pairs
    ``reach`` says may be stored (the others' wording is left at 0, not aligned); ``reach``
    reads the known features and ``lexical``: BM25 over the best of the local clause's
    candidates (0 when none shares a word)."""
    bm25 = run.lexical(local, left, right)
    best = np.zeros(len(local.keys))
    np.maximum.at(best, left, bm25)
    best = best[left]
    lexical = np.where(best > 0, bm25 / np.where(best > 0, best, 1.0), 0.0)
    live = reach(known | {"lexical": lexical})
    aligned, shared = np.zeros(len(left), np.int64), np.zeros(len(left), np.int64)
    aligned[live], shared[live] = run.wording(local, left[live], right[live])
    wording = _wording_columns(local, run, left, right, aligned, shared)
    return {"cosine": known["cosine"], **wording, "relation": known["relation"],
            "order": known["order"], "lexical": lexical}, live  # fmt: skip


def _may_reach(known: dict[str, np.ndarray], floor: float | None, model: dict | None = None):
    """Which pairs could score ``floor`` or more whatever their wording (overlap and
    alignment lie in [0, 1]), by the pointwise ``model``'s log-odds (the clause model by
    default) with the others' features ``known``."""
    count = len(known["cosine"])
    if floor is None or not 0 < floor < 1:
        return np.ones(count, bool)
    model = model or link_model()["clauses"]
    weights = model["weights"]
    z = model["bias"] + sum(max(weights.get(f, 0.0), 0.0) for f in FEATURES if f not in known)
    z = z + sum(weights.get(name, 0.0) * values for name, values in known.items())
    return z >= math.log(floor / (1 - floor)) - REACH_MARGIN


def _wording_columns(local: Prepared, run: SourceRun, left, right, aligned, shared) -> dict:
    """``pair_features``' overlap, alignment and aligned_both of each pair, from the
    Smith-Waterman scores and shared bigram counts."""
    a = np.diff(local.code_starts)[left]
    b = run.key_lengths[right]
    grams = np.diff(local.gram_starts)[left]
    shorter, longer = np.minimum(a, b), np.maximum(a, b)
    shorter[shorter == 0], longer[longer == 0] = 1, 1
    return {"overlap": np.where(grams > 0, shared / np.maximum(grams, 1), 0.0),
            "alignment": np.minimum(aligned / (MATCH * shorter), 1.0),
            "aligned_both": aligned / (MATCH * longer)}  # fmt: skip


def _link_scores(columns: dict[str, np.ndarray], live: np.ndarray, model: dict) -> np.ndarray:
    """``link_score`` of each ``live`` row under the pointwise ``model``: the same sum,
    feature by feature in FEATURES' order, and the same ``math.exp``; -inf for the others."""
    total = _weighted(model["weights"], columns)
    scores = np.full(len(total), -np.inf)
    z = (model["bias"] + total)[live]
    scores[live] = [1 / (1 + math.exp(-v)) for v in z.tolist()]
    return scores


class Lexicon:
    """BM25 of a local clause against the source clauses of one linking run (jieba words of
    index.lexical; IDF and mean length over those sources): the reference that
    ``index.link_evidence.SourceRun`` computes the ``lexical`` feature as."""

    def __init__(self, source_texts: list[str], source_words: list[tuple] | None = None):
        """``source_words``: each text's ``index.lexical.words`` when known (stored), else cut."""
        source_words = source_words or [_words(text) for text in source_texts]
        self.counts = [Counter(found) for found in source_words]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.mean_length = (sum(self.lengths) / len(self.lengths) if self.lengths else 0) or 1.0
        frequency = Counter(w for c in self.counts for w in c)
        n = len(source_texts)
        self.idf = {w: math.log(1 + (n - k + 0.5) / (k + 0.5)) for w, k in frequency.items()}

    def score(self, query: set[str], j: int) -> float:
        tf = self.counts[j]
        norm = BM25_K1 * (1 - BM25_B + BM25_B * self.lengths[j] / self.mean_length)
        return sum(self.idf[w] * tf[w] * (BM25_K1 + 1) / (tf[w] + norm) for w in query if w in tf)

    def relative_scores(
        self, text: str, sources: list[int], text_words: tuple | None = None
    ) -> list[float]:
        """Each source's BM25 for the clause, over the best of them (0 when none shares a word)."""
        query = set(_words(text) if text_words is None else text_words)
        scores = [self.score(query, j) for j in sources]
        best = max(scores, default=0.0)
        return [s / best if best > 0 else 0.0 for s in scores]


@lru_cache(maxsize=50_000)
def _words(text: str) -> tuple[str, ...]:
    """Jieba words of a clause, cached: the same sources are read for every local document."""
    return tuple(words(text))


def pair_features(local: str, source: str, cosine: float) -> dict[str, float]:
    """The wording evidence of a pair; ``aligned_both`` (the alignment's share of the longer
    text) is not a model feature, it tells verbatim from adapted. One pair at a time: the
    reference that ``rank_prepared``' batched path (``_feature_columns``) is tested against."""
    a, b = _key(local), _key(source)
    grams = _bigrams(a)
    overlap = len(grams & _bigrams(b)) / len(grams) if grams else 0.0
    aligned = smith_waterman(a, b)
    return {"cosine": cosine, "overlap": overlap,
            "alignment": min(aligned.coverage(min(len(a), len(b)) or 1), 1.0),
            "aligned_both": aligned.coverage(max(len(a), len(b)) or 1)}  # fmt: skip


def _monotone_pairs(cosine: np.ndarray, relation_weights: list[float]) -> set[tuple[int, int]]:
    """Pairs on the best order-keeping alignment of the local clauses with each implemented
    document's clauses (sources are contiguous per document, in document order); several local
    clauses may carry out one source. Only a local clause's nearest source may anchor it, by its
    lead over the runner-up: one model's cosines sit in a narrow band (unrelated clauses reach
    0.9 with e5), and over a fixed floor the alignment threaded through unrelated pairs."""
    implemented = [j for j, w in enumerate(relation_weights) if w == 1.0]
    if not implemented:
        return set()
    columns = np.array(implemented)
    sims = cosine[:, columns]
    runner_up = np.sort(sims, axis=1)[:, -2:-1] if len(columns) > 1 else 0.0
    gain = np.maximum(sims - np.maximum(ORDER_MIN_COSINE, runner_up), 0.0)
    n, m = gain.shape
    best = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):  # best[i, j] = max(best[i, j - 1], best[i - 1, j] + gain): all ≥ 0
        best[i, 1:] = np.maximum.accumulate(best[i - 1, 1:] + gain[i - 1])
    pairs, i, j = set(), n, m
    while i and j:
        if best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            if gain[i - 1, j - 1] > 0:
                pairs.add((i - 1, int(columns[j - 1])))
            i -= 1
    return pairs


def _higher_key(doc) -> tuple[int, str | None]:
    """What decides the documents above ``doc``: its level's rank and its province."""
    return _rank_and_province(doc["level"], doc["region"])


@lru_cache(maxsize=4096)
def _rank_and_province(level: str, region: str | None) -> tuple[int, str | None]:
    """Cached: a change asks it of every local document (``Scope.of`` reads the places)."""
    return LEVEL_RANK.get(level, 0), Scope.of(region).province


def _measures(clauses: list, vectors: np.ndarray) -> tuple[list, np.ndarray]:
    keep = [i for i, c in enumerate(clauses) if c["kind"] != "heading"]
    return [clauses[i] for i in keep], vectors[keep] if keep else vectors[:0]


@lru_cache(maxsize=DIFFS_KEPT)
def _diff_json(local: str, source: str) -> str:
    """A link's stored diff (``differences`` as JSON), kept by its two texts: a document
    relinked again mostly keeps its pairs."""
    diff = [_change_dict(d) for d in differences(local, source)]
    return json.dumps(diff, ensure_ascii=False)


def _change_dict(change: Change) -> dict:
    """``asdict(change)`` without its deep copy: the diff of a link, as stored."""
    return {"kind": change.kind, "local": change.local, "source": change.source,
            "local_text": change.local_text, "source_text": change.source_text}  # fmt: skip


def _bigrams(text: str) -> set[str]:
    return {text[k : k + 2] for k in range(len(text) - 1)}


def is_own_document_clause(text: str) -> bool:
    """本办法自…起施行, 本办法由…解释, 为实施《X》，结合本市实际，制定本办法."""
    return bool(_OWN_DOCUMENT.match(_key(text)))


def article_labels(clauses: list) -> dict[str, str]:
    """clause_id → the label of the article (第N条) it lies in, for the clauses inside one."""
    by_id = {c["clause_id"]: c for c in clauses}
    found: dict[str, str] = {}
    for clause in clauses:
        node = clause
        while node is not None and node["kind"] != "article":
            node = by_id.get(node["parent_id"])
        if node is not None:
            found[clause["clause_id"]] = node["label"]
    return found


def article_keys(clauses: list) -> list[str]:
    """Per clause, the clause_id of the article (第N条) it lies in, else its own: the unit the
    article ranking gathers pairs by."""
    by_id = {c["clause_id"]: c for c in clauses}
    found = []
    for clause in clauses:
        node = clause
        while node is not None and node["kind"] != "article":
            node = by_id.get(node["parent_id"])
        found.append((node or clause)["clause_id"])
    return found


def _article_indices(clauses: list) -> np.ndarray:
    """``article_keys`` numbered in the order first met."""
    numbers: dict[str, int] = {}
    return np.array([numbers.setdefault(k, len(numbers)) for k in article_keys(clauses)], np.int64)


def best_by_group(candidates: list[Candidate], keys: list) -> dict:
    """Per group (``keys``: each candidate's), in the order first met, the best of each
    feature over its candidates: a group's evidence under the article ranking (the reference
    ``rank_prepared`` computes it as, and what its models are fitted on)."""
    found: dict = {}
    for candidate, key in zip(candidates, keys, strict=True):
        best = found.setdefault(key, {name: -math.inf for name in FEATURES})
        for name in FEATURES:
            best[name] = max(best[name], candidate.features[name])
    return found


# --- computing and storing -----------------------------------------------------------------------


_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Store → its kept measures


def _kept_measures(store: Store) -> OrderedDict:
    """The documents read for linking from ``store``'s KB, kept across changes: doc_id →
    (content hash, clauses, vectors, prepared). A document's rows never change while its
    content hash stays (a change drops the documents it adds, replaces or removes)."""
    return _KEPT.setdefault(store, OrderedDict())


class Linker:
    """Computes and stores links for documents of one KB, inside the caller's transaction.
    One Linker per change: it keeps documents and centroids as it first reads them; what it
    reads of a document for linking stays kept for the KB across changes (``_kept_measures``)."""

    def __init__(self, store: Store, model: dict | None = None):
        """``model``: the link model (format 2) to link with, ``link_model()`` by default."""
        self.store = store
        self.model = model or link_model()
        self.documents = {d["doc_id"]: d for d in store.document_rows()}
        self.centroids = store.doc_vectors()
        self._higher: dict[tuple, set[str]] = {}  # (level rank, province) → documents above
        self._stacks: dict[tuple, tuple] = {}  # the same key → (documents, their centroids)
        self._ranks: list[tuple[str, int, bool, str]] | None = None  # documents' rank, region
        self._rows: tuple[dict[str, int], np.ndarray] | None = None  # the centroids stacked
        self._measured = _kept_measures(store)

    def refresh(self, changed: set[str], removed: dict[str, str]) -> int:
        """After documents were added or replaced (``changed``) or removed (doc_id → level):
        the citations that may now resolve differently, then the clause sources they affect."""
        for doc_id in changed | removed.keys():
            self._measured.pop(doc_id, None)  # its rows are new or gone
        for doc_id in changed & self.documents.keys():
            clauses, vectors = self.store.clause_vectors(doc_id)
            if clauses:
                centroid = vectors.mean(axis=0)
                self.centroids[doc_id] = centroid / (np.linalg.norm(centroid) + 1e-12)
                self.store.save_doc_vector(doc_id, self.centroids[doc_id])
        retargeted = self._resolve_citations(changed, removed)
        count = 0
        for group in self._relink_groups(self._to_relink(changed, removed, retargeted)):
            for doc_id, links in group:
                doc = self.documents[doc_id]
                rows = self._clause_link_rows(doc, links)
                self.store.replace_clause_links(doc_id, rows)
                self.store.save_doc_sources(doc_id, sorted(self.source_documents(doc, links)))
                count += len(rows)
        return count

    def _relink_groups(self, doc_ids: list[str]) -> Iterator[list[tuple[str, list]]]:
        """The documents to relink, in order, with their stored links, in groups whose
        documents and sources fit MEASURES_KEPT: each group's are read in one batch first."""
        group: list[tuple[str, list]] = []
        needed: set[str] = set()
        for doc_id in doc_ids:
            links = self.stored_links(doc_id)
            wants = {doc_id, *self.source_documents(self.documents[doc_id], links)}
            if group and len(needed | wants) > MEASURES_KEPT:
                self._read_measures(needed)
                yield group
                group, needed = [], set()
            group.append((doc_id, links))
            needed |= wants
        if group:
            self._read_measures(needed)
            yield group

    def _resolve_citations(self, changed: set[str], removed: dict[str, str]) -> set[str]:
        """Resolve the stale documents' citations again; returns those whose citations now
        resolve elsewhere or to a changed document (a same-level implementing one must be
        relinked then, as no level rule covers it)."""
        retargeted = set()
        for doc_id in self._stale_citations(changed, removed) & self.documents.keys():
            before = {lk.target for lk in self.stored_links(doc_id)}
            rows = [(lk.title, lk.doc_number, lk.target, lk.relation)
                    for lk in document_links(self.store, doc_id)]  # fmt: skip
            self.store.replace_doc_links(doc_id, rows)
            after = {row[2] for row in rows}
            if before != after or after & (changed | removed.keys()):
                retargeted.add(doc_id)
        return retargeted

    def _stale_citations(self, changed: set[str], removed: dict[str, str]) -> set[str]:
        """Documents whose citations may resolve differently: the changed ones, those citing a
        changed or removed document (or an older version of a changed one), and those with an
        unresolved citation a document that came may name."""
        stale = set(changed)
        targets = set(changed) | set(removed)
        for doc_id in changed & self.documents.keys():
            title = self.documents[doc_id]["title"]
            targets |= {r["doc_id"] for r in self.store.documents_by_title([_title_key(title)])}
        for target in targets:
            stale.update(self.store.linked_from(target))
        came = [self.documents[d] for d in changed if d in self.documents]
        stale.update(
            doc_id for doc_id, title, number in self.store.unresolved_citations()
            if any(may_name(doc, title, number) for doc in came)
        )  # fmt: skip
        return stale

    def stored_links(self, doc_id: str) -> list[DocumentLink]:
        return [DocumentLink(r["title"], r["doc_number"], r["target"], r["relation"])
                for r in self.store.doc_links(doc_id)]  # fmt: skip

    def _to_relink(self, changed: set[str], removed: dict[str, str], retargeted: set[str]):
        """The changed local documents, those whose citations now resolve elsewhere or to a
        changed document (``retargeted``), and those below a document that came, changed or
        went whose sources it is or was among: a document's clause links depend only on its
        clauses and its source documents' (``source_documents``), recorded when it is linked.
        A document linked before sources were recorded is relinked when anything above it
        moves."""
        moved = changed | removed.keys()
        levels = {self.documents[d]["level"] for d in changed if d in self.documents}
        top = min((LEVEL_RANK.get(lv, 3) for lv in levels | set(removed.values())), default=3)
        recorded = self.store.doc_sources() if moved else {}
        named = changed | retargeted
        local = [(d, doc) for d, doc in self.documents.items() if doc["level"] != "national"]
        below = [(d, doc, recorded.get(d)) for d, doc in local
                 if d not in named and LEVEL_RANK.get(doc["level"], 0) > top]  # fmt: skip
        return sorted(named.intersection(d for d, _ in local) | self._sources_moved(below, moved))

    def _sources_moved(self, below: list[tuple], moved: set[str]) -> set[str]:
        """Which documents (doc_id, row, recorded sources) have a moved document among their
        source documents, now or when they were linked."""
        found, checks = set(), []
        for doc_id, doc, before in below:
            if before is None or before & moved:
                found.add(doc_id)
            elif moved & (higher := self._higher_documents(doc)):  # else nothing moved above it
                checks.append((doc_id, before & higher, moved & higher))
        kept = self._nearest_kept_all(checks)
        recorded = {doc_id: before for doc_id, _, before in below}
        return found | {
            doc_id for doc_id, _, _ in checks if doc_id not in kept
            and set(self.source_documents(self.documents[doc_id], self.stored_links(doc_id)))
            != recorded[doc_id]
        }  # fmt: skip

    def _nearest_kept(self, doc_id: str, before: set[str], came: set[str]) -> bool:
        """Whether documents that came or changed above ``doc_id`` (none of its sources) all
        stay out of its nearest: each less like it than the least of the NEAREST_DOCS closest
        among its recorded sources (its nearest then, which nothing moved has displaced), by a
        margin for rounding. Only dot products with those documents, not with every one above
        (exact ties aside, which the order of a set breaks either way)."""
        return doc_id in self._nearest_kept_all([(doc_id, before, came)])

    def _nearest_kept_all(self, checks: list[tuple[str, set[str], set[str]]]) -> set[str]:
        """``_nearest_kept`` of each (doc_id, recorded sources above it, documents that came
        above it): the documents it holds for, with one gather of centroids for them all."""
        ids, matrix = self._centroid_rows()
        owners, rows, new_owners, new_rows = [], [], [], []
        for k, (doc_id, before, came) in enumerate(checks):
            kept = [ids[d] for d in before if d in ids]
            if doc_id in ids and len(kept) >= NEAREST_DOCS:
                owners += [k] * len(kept)
                rows += kept
                found = [ids[d] for d in came if d in ids]
                new_owners += [k] * len(found)
                new_rows += found
        if not owners:
            return set()
        centre = np.array([ids.get(doc_id, 0) for doc_id, _, _ in checks])
        sims = np.einsum("ij,ij->i", matrix[rows], matrix[centre[owners]])
        order = np.lexsort((-sims, owners))  # each document's sources, closest first
        starts = np.searchsorted(np.array(owners)[order], np.arange(len(checks)))
        held = np.unique(owners)
        least = np.full(len(checks), np.inf)
        least[held] = sims[order][starts[held] + NEAREST_DOCS - 1]
        best_new = np.full(len(checks), -np.inf)
        if new_rows:
            new = np.einsum("ij,ij->i", matrix[new_rows], matrix[centre[new_owners]])
            np.maximum.at(best_new, new_owners, new)
        return {checks[k][0] for k in held.tolist() if best_new[k] < least[k] - NEAREST_MARGIN}

    def _centroid_rows(self) -> tuple[dict[str, int], np.ndarray]:
        """Every document's centroid stacked, with each doc_id's row: once per Linker (after
        the changed documents' centroids are set)."""
        if self._rows is None:
            ids = {d: k for k, d in enumerate(self.centroids)}
            vectors = list(self.centroids.values())
            self._rows = ids, np.vstack(vectors) if vectors else np.zeros((1, 1), np.float32)
        return self._rows

    def source_documents(self, doc, links: list[DocumentLink]) -> dict[str, float]:
        """Higher-level documents to search, and those of its own level it says it implements
        (a 办公厅 measure carrying out the 市政府 plan), with their relation weight (1
        implements, .5 cites)."""
        higher = self._higher_documents(doc)
        allowed = higher | self._implemented_peers(doc, links)
        related: dict[str, float] = {}
        for link in links:
            if link.target in allowed:
                weight = 1.0 if link.relation == "implements" else 0.5
                related[link.target] = max(related.get(link.target, 0.0), weight)
        nearest = self._nearest(doc)
        return related | {d: 0.0 for d in nearest if d not in related}

    def _higher_documents(self, doc) -> set[str]:
        """National documents, and for a city or county those of its own province too."""
        key = _higher_key(doc)
        if key not in self._higher:
            self._higher[key] = self._higher_of(*key)
        return self._higher[key]

    def _higher_of(self, rank: int, province: str | None) -> set[str]:
        if self._ranks is None:  # once per Linker: a change asks for each level and province
            self._ranks = [
                (d, LEVEL_RANK.get(r["level"], 0), r["level"] == "national", r["region"] or "")
                for d, r in self.documents.items()
            ]
        return {
            d for d, other_rank, national, region in self._ranks
            if other_rank < rank and (national or bool(province and region.startswith(province)))
        }  # fmt: skip

    def _implemented_peers(self, doc, links: list[DocumentLink]) -> set[str]:
        """Documents of the same level that this one implements (resolved in the KB)."""
        return {
            lk.target for lk in links
            if lk.relation == "implements" and lk.target in self.documents
            and lk.target != doc["doc_id"] and self.documents[lk.target]["level"] == doc["level"]
        }  # fmt: skip

    def _nearest(self, doc) -> list[str]:
        """The NEAREST_DOCS documents above ``doc`` closest to it by centroid."""
        others, matrix = self._stacked(doc)
        if doc["doc_id"] not in self.centroids or not others:
            return []
        sims = matrix @ self.centroids[doc["doc_id"]]
        return [others[i] for i in np.argsort(-sims)[:NEAREST_DOCS]]

    def _stacked(self, doc) -> tuple[list[str], np.ndarray | None]:
        """The documents above ``doc`` that have a centroid, in their set's order, and those
        centroids stacked: once per level and province and Linker (the centroids are set)."""
        key = _higher_key(doc)
        if key not in self._stacks:
            others = [d for d in self._higher_documents(doc) if d in self.centroids]
            matrix = np.vstack([self.centroids[d] for d in others]) if others else None
            self._stacks[key] = (others, matrix)
        return self._stacks[key]

    def candidates(self, doc, links: list[DocumentLink], top=None, floor=None):
        """(local clauses, source clauses, ranked candidates per local clause); headings
        (第一章 总则, （一）推动形成…) organise measures and are not linked. ``top``, ``floor``:
        ``rank_prepared``'s (only the candidates that may be stored)."""
        local, local_vectors, local_prepared = self._measures_of(doc["doc_id"])
        sources, vectors, weights, prepared_sources = [], [], [], []
        for source_doc, weight in self.source_documents(doc, links).items():
            clauses, matrix, ready = self._measures_of(source_doc)
            sources += clauses
            vectors.append(matrix)
            weights += [weight] * len(clauses)
            prepared_sources.append(ready)
        if not local or not sources:
            return local, sources, [[] for _ in local]
        units = groups = None
        if self.model["ranking"] == "articles":
            groups = _article_indices(sources)
            if self.model["articles"].get("local_unit") == "article":
                units = _article_indices(local)
        ranked = rank_prepared(local_prepared, local_vectors, prepared_sources,
                               np.vstack(vectors), weights, top, floor, self.model, units,
                               groups)  # fmt: skip
        return local, sources, ranked

    def _measures_of(self, doc_id: str) -> tuple[list, np.ndarray, Prepared]:
        """A document's clauses (headings aside), their vectors, and their texts prepared for
        linking with their jieba words (those the BM25 table holds: ``index.lexical.words`` of
        the text; kept by content across Linkers), kept for the last MEASURES_KEPT documents
        read from this KB: the documents one change relinks share their sources."""
        if not self._fresh(doc_id):
            self._read_measures([doc_id])
        self._measured.move_to_end(doc_id)
        return self._measured[doc_id][1:]

    def _fresh(self, doc_id: str) -> bool:
        """Whether the document is kept as read at its current content hash."""
        kept, stamp = self._measured.get(doc_id), self._stamp(doc_id)
        return kept is not None and stamp is not None and kept[0] == stamp

    def _stamp(self, doc_id: str) -> str | None:
        doc = self.documents.get(doc_id)
        return doc["content_hash"] if doc is not None else None

    def _read_measures(self, doc_ids) -> None:
        """Read, in one batch, the documents of ``doc_ids`` not kept as they are, and keep
        them (the least recently used beyond MEASURES_KEPT go)."""
        missing = sorted(d for d in doc_ids if not self._fresh(d))
        if not missing:
            return
        read = self.store.clause_vectors_of(missing)
        measured = {d: _measures(*read[d]) for d in missing}
        ids, stored = self.store.bm25_rows([c["id"] for m in measured.values() for c in m[0]])
        by_id = dict(zip(ids.tolist(), stored, strict=True))
        for doc_id, (clauses, vectors) in measured.items():
            found = [tuple(by_id[c["id"]].split()) if c["id"] in by_id else _words(c["text"])
                     for c in clauses]  # fmt: skip
            ready = prepared([c["text"] for c in clauses], found)
            self._measured[doc_id] = (self._stamp(doc_id), clauses, vectors, ready)
            self._measured.move_to_end(doc_id)
            if len(self._measured) > MEASURES_KEPT:
                self._measured.popitem(last=False)

    def _clause_link_rows(self, doc, links: list[DocumentLink]) -> list[tuple]:
        threshold = deciding(self.model)[1]
        local, sources, ranked = self.candidates(doc, links, SOURCES_KEPT, threshold)
        rows = []
        for clause, candidates in zip(local, ranked, strict=True):
            kept = [c for c in candidates if c.score >= threshold][:SOURCES_KEPT]
            for rank, cand in enumerate(kept):
                source = sources[cand.source]
                rows.append((
                    clause["clause_id"], source["clause_id"], source["doc_id"], rank,
                    round(cand.score, 4), kind_of(cand.features),
                    _diff_json(clause["text"], source["text"]),
                ))  # fmt: skip
        return rows
