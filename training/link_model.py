"""Fit and measure the link model on labelled local → source clause pairs.

``python -m training.link_model tests/eval --kb DIR`` (part of ``make eval``) prints, for the
labelled local clauses of tests/eval/links.jsonl:

- top-1 precision (of the clauses given a source, the share whose first source is labelled)
  and recall (of the clauses that have a labelled source, the share found first);
- precision and recall of "none" (no source above the threshold).

The "all" row counts the sources the KB would store (``Linker.candidates`` with the shipped
model's threshold), whichever ranking the model says decides.

``--fit`` refits the clause model's weights (logistic regression over the candidates'
evidence, positives being labelled sources) and the threshold (the one that gets most clauses
right) on these 23 clauses alone, writes them as the clause part of
index/data/link_model.json (its article part kept), and also prints the cross-document check:
fitted on one local document, measured on the other. The shipped model is fitted on the 204
lawref articles instead (``make link-model``: ``python -m evals.lawref_links --fit``).

The article ranking (index.links, ranking "articles") is fitted here too (``fit_articles``): a
listwise softmax ranks a local unit's candidate groups (national articles), a pointwise
logistic regression over the same group evidence scores the first, and the threshold on that
score that gets most examples right says "none". With a clause-level ``gate`` (the clause
model, its threshold its own or fitted by ``fit_gate``), a group is given only when one of
its pairs clears the gate, as the KB then stores it (docs/benchmarks.md: not the default).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import astuple, dataclass, field
from pathlib import Path

import numpy as np

import index
from evals.tags import find_by_start
from index.kb import KnowledgeBase
from index.links import (
    FEATURES,
    MODEL_FILE,
    MODEL_FORMAT,
    SOURCES_KEPT,
    Candidate,
    Linker,
    best_by_group,
    link_model,
    link_score,
    rank_score,
    read_model,
)

# The model the runtime links with (index.links.link_model reads it): written here, read there.
MODEL_PATH = Path(index.__file__).parent / MODEL_FILE
# Step of the "none" threshold search, on the fitted clauses: right and wrong first sources
# score close together, and 0.05 steps lost half the gain of ``lexical`` (docs/benchmarks.md).
THRESHOLD_STEP = 0.01
GATE_STEP = 0.05  # of a fitted clause-level gate's threshold (each with the best threshold)
LISTWISE_STEPS = 800  # gradient steps of the listwise ranking (400 and 1,600 rank alike)


@dataclass
class Example:
    """One labelled local clause (or article): its candidates and which of them are labelled
    sources; ``groups``: each candidate's source group (the national article it lies in, or
    the source clause alone), for the article ranking; ``stored``: whether each source the KB
    would store for it is labelled, in order (None: not read)."""

    doc: str
    candidates: list[Candidate]
    positive: list[bool]
    labelled_sources: int = 0
    groups: list[str] = field(default_factory=list)
    stored: list[bool] | None = None


@dataclass
class GroupExample:
    """An Example as the article ranking sees it: its local units (the article, or each
    clause alone), each with its candidate groups (indices into ``features``), a group's
    evidence the best of each feature over its pairs (``pairs``: their own features, which
    a clause-level gate reads)."""

    doc: str
    units: list[list[int]]
    features: list[dict[str, float]]
    positive: list[bool]
    labelled_sources: int = 0
    pairs: list[list[dict[str, float]]] = field(default_factory=list)  # each group's pairs'


def grouped(ex: Example, local_unit: str = "article") -> GroupExample:
    """``ex``'s candidates gathered by local unit ("article": all of them one unit; "clause":
    per local clause) and source group; a group is positive when a pair of it is."""
    units: dict = {}
    features, positive, pairs_of = [], [], []
    keyed: dict = {}
    for c, right, key in zip(ex.candidates, ex.positive, ex.groups, strict=True):
        unit = 0 if local_unit == "article" else c.local
        keyed.setdefault((unit, key), []).append((c, right))
    for (unit, _), pairs in keyed.items():
        units.setdefault(unit, []).append(len(features))
        best = best_by_group([c for c, _ in pairs], [0] * len(pairs))[0]
        features.append(best)
        positive.append(any(right for _, right in pairs))
        pairs_of.append([c.features for c, _ in pairs])
    return GroupExample(ex.doc, list(units.values()), features, positive, ex.labelled_sources,
                        pairs_of)  # fmt: skip


def _find(clauses, start: str):
    return find_by_start(clauses, lambda c: c["text"], start)


def build_examples(kb: KnowledgeBase, labels: list[dict]) -> list[Example]:
    """One example per labelled clause: every candidate pair (ranked by the clause model),
    and what the KB would store for it with the shipped model."""
    docs = {Path(d.source).name: d for d in kb.documents()}
    shipped = link_model()
    linker, storing = Linker(kb.store, clause_ranking(shipped)), Linker(kb.store, shipped)
    threshold = shipped[shipped["ranking"]]["threshold"]

    def doc_of(ref: str):
        return next(d for name, d in sorted(docs.items()) if name.startswith(ref))

    examples, cache = [], {}
    for row in labels:
        doc = doc_of(row["local"]["doc"])
        if doc.doc_id not in cache:
            stored = kb.store.document(doc.doc_id)
            links = linker.stored_links(doc.doc_id)
            kept = storing.candidates(stored, links, SOURCES_KEPT, threshold)[2]
            cache[doc.doc_id] = (*linker.candidates(stored, links), kept)
        local, sources, ranked, kept = cache[doc.doc_id]
        clause = _find(local, row["local"]["clause"])
        if clause is None:
            raise ValueError(f"links.jsonl: no clause of {row['local']['doc']} starts "
                             f"{row['local']['clause']!r}")  # fmt: skip
        wanted = set()
        for source in row["sources"]:
            found = _find(kb.store.clauses_of(doc_of(source["doc"]).doc_id), source["clause"])
            if found is None:
                raise ValueError(f"links.jsonl: no source clause starts {source['clause']!r}")
            wanted.add(found["clause_id"])
        candidates = ranked[local.index(clause)]
        positive = [sources[c.source]["clause_id"] in wanted for c in candidates]
        stored = [sources[c.source]["clause_id"] in wanted for c in kept[local.index(clause)]]
        examples.append(Example(doc.doc_id, candidates, positive, len(wanted), stored=stored))
    return examples


@dataclass
class Tally:
    """Counts behind the link figures, so that folds can be pooled before dividing."""

    given: int = 0  # clauses given a source
    right: int = 0  # ... whose first source is labelled
    sourced: int = 0  # clauses with a labelled source
    none_said: int = 0  # clauses given no source
    none_right: int = 0  # ... that have none labelled
    none_labelled: int = 0  # clauses labelled none

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def metrics(self) -> dict[str, float]:
        """Top-1 precision/recall of the source and precision/recall of "none"."""
        return {
            "top1_precision": self.right / self.given if self.given else 0.0,
            "top1_recall": self.right / self.sourced if self.sourced else 0.0,
            "none_precision": self.none_right / self.none_said if self.none_said else 0.0,
            "none_recall": self.none_right / self.none_labelled if self.none_labelled else 0.0,
        }


def tally(examples: list[Example], model: dict) -> Tally:
    """Each clause's best candidate under ``model``: a source when it clears the threshold."""
    t = Tally()
    for ex in examples:
        scores = [link_score(c.features, model) for c in ex.candidates]
        scored = sorted(zip(scores, ex.positive, strict=True), key=lambda s: -s[0])
        says_none = not scored or scored[0][0] < model["threshold"]
        t.sourced += ex.labelled_sources > 0
        t.none_labelled += ex.labelled_sources == 0
        if says_none:
            t.none_said += 1
            t.none_right += ex.labelled_sources == 0
        else:
            t.given += 1
            t.right += scored[0][1]
    return t


def tally_stored(examples: list[Example]) -> Tally:
    """The counts from the sources the KB would store (``Example.stored``)."""
    t = Tally()
    for ex in examples:
        t.sourced += ex.labelled_sources > 0
        t.none_labelled += ex.labelled_sources == 0
        if not ex.stored:
            t.none_said += 1
            t.none_right += ex.labelled_sources == 0
        else:
            t.given += 1
            t.right += ex.stored[0]
    return t


def _ranked_groups(ex: GroupExample, model: dict) -> list[list[tuple[float, bool, float]]]:
    """Per local unit, its groups in listwise order (ties: the first met), each as (pointwise
    score, labelled, the best score of its pairs under the model's ``gate``; inf without)."""
    gate = model.get("gate")
    found = []
    for unit in ex.units:
        order = sorted(unit, key=lambda g: (-rank_score(ex.features[g], model), g))
        found.append([
            (link_score(ex.features[g], model), ex.positive[g],
             math.inf if gate is None else max(link_score(f, gate) for f in ex.pairs[g]))
            for g in order
        ])  # fmt: skip
    return found


def _answers(ranked: list[list[tuple[float, bool, float]]], threshold: float, gate: float):
    """Each local unit's answer (score, labelled) under ``threshold``: its first group when
    that scores below (the unit says "none"), else the first group scoring ``threshold`` or
    more whose pairs' best gate score is ``gate`` or more, as the KB stores it (-1.0: no
    such group, "none")."""
    found = []
    for groups in ranked:
        if groups and groups[0][0] < threshold:
            found.append(groups[0][:2])
            continue
        given = [(p, right) for p, right, gated in groups if p >= threshold and gated >= gate]
        found.append(given[0] if given else (-1.0, False))
    return found


def _count(ranked: list[tuple[list, bool]], threshold: float, gate: float = -math.inf) -> Tally:
    """The counts when each example's source is its units' given answer scoring most (none
    when no unit's answer clears ``threshold``); ``ranked``: ``_ranked_groups`` of each
    example, and whether it has a labelled source."""
    t = Tally()
    for groups, sourced in ranked:
        given = [a for a in _answers(groups, threshold, gate) if a[0] >= threshold]
        t.sourced += sourced
        t.none_labelled += not sourced
        if not given:
            t.none_said += 1
            t.none_right += not sourced
        else:
            t.given += 1
            t.right += max(given, key=lambda a: a[0])[1]
    return t


def tally_articles(examples: list[GroupExample], model: dict) -> Tally:
    """The counts under an article model (rank_weights, weights, bias, threshold; ``gate``
    when it has one)."""
    ranked = [(_ranked_groups(ex, model), ex.labelled_sources > 0) for ex in examples]
    return _count(ranked, model["threshold"], _gate_threshold(model))


def _gate_threshold(model: dict) -> float:
    return model["gate"]["threshold"] if "gate" in model else -math.inf


def fit_listwise(examples: list[GroupExample], steps: int = LISTWISE_STEPS, l2: float = 0.01):
    """Weights of a softmax over the candidate groups of each local unit holding a labelled
    one (the labelled ones sharing the target), by gradient descent: it ranks, and says
    nothing of "none"."""
    lists = []
    for ex in examples:
        for unit in ex.units:
            target = np.array([ex.positive[g] for g in unit], float)
            if target.sum():
                x = np.array([[ex.features[g][f] for f in FEATURES] for g in unit])
                lists.append((x, target / target.sum()))
    return softmax_descent(lists, len(FEATURES), steps, l2)


def softmax_descent(
    lists: list[tuple[np.ndarray, np.ndarray]], width: int, steps: int, l2: float
) -> np.ndarray:
    """Weights of a softmax over each list's rows (features x, target shares summing to 1)
    by full-batch gradient descent (step 0.5, L2 ``l2``): the listwise ranking loss."""
    w = np.zeros(width)
    for _ in range(steps):
        grad = np.zeros_like(w)
        for x, target in lists:
            z = np.exp(x @ w - (x @ w).max())
            grad += x.T @ (z / z.sum() - target)
        w -= 0.5 * (grad / max(len(lists), 1) + l2 * w)
    return w


def fit_articles(
    examples: list[GroupExample], local_unit: str = "article", gate: dict | None = None
) -> dict:
    """The article ranking: listwise weights (fit_listwise), a pointwise balanced logistic
    regression over every candidate group, and the threshold on the pointwise score of each
    unit's first group that gets most examples right; with ``gate`` (a clause-level pointwise
    model fitted on the same examples), that gate kept and in place while the threshold is
    chosen."""
    rank = fit_listwise(examples)
    x = np.array([[f[name] for name in FEATURES] for ex in examples for f in ex.features])
    y = np.array([p for ex in examples for p in ex.positive], dtype=float)
    w, b = balanced_logistic(x, y)
    model = {"local_unit": local_unit,
             "rank_weights": dict(zip(FEATURES, map(float, np.round(rank, 4)), strict=True)),
             "weights": dict(zip(FEATURES, map(float, np.round(w, 4)), strict=True)),
             "bias": float(round(b, 4)), "threshold": 0.5}  # fmt: skip
    if gate is not None:
        model["gate"] = {k: gate[k] for k in ("weights", "bias", "threshold")}
    ranked = [(_ranked_groups(ex, model), ex.labelled_sources > 0) for ex in examples]
    grid = np.round(np.arange(0.05, 1.0, THRESHOLD_STEP), 2)
    gate_at = _gate_threshold(model)
    model["threshold"] = float(
        max(grid, key=lambda t: _metric_sum(_count(ranked, float(t), gate_at)))
    )
    return model


def fit_gate(examples: list[GroupExample], model: dict) -> dict:
    """``model`` (an article ranking with a ``gate``) with the gate's threshold and then its
    own refitted on ``examples``: on the grid, the gate threshold that gets most examples
    right with the threshold at its best for it."""
    ranked = [(_ranked_groups(ex, model), ex.labelled_sources > 0) for ex in examples]
    grid = [float(t) for t in np.round(np.arange(0.05, 1.0, THRESHOLD_STEP), 2)]
    gates = [float(g) for g in np.round(np.arange(0.05, 1.0, GATE_STEP), 2)]
    best = max((_metric_sum(_count(ranked, t, g)), -g, -t) for g in gates for t in grid)
    gate_at, threshold = -best[1], -best[2]
    return {**model, "threshold": threshold, "gate": {**model["gate"], "threshold": gate_at}}


def _metric_sum(t: Tally) -> float:
    return sum(t.metrics().values())


def evaluate(examples: list[Example], model: dict) -> dict[str, float]:
    """Top-1 precision/recall of the source and precision/recall of "none"."""
    return tally(examples, model).metrics()


def balanced_logistic(
    x: np.ndarray, y: np.ndarray, steps: int = 3000, l2: float = 0.01
) -> tuple[np.ndarray, float]:
    """Weights and bias of a logistic regression by gradient descent, the few positives
    weighted up to balance the negatives."""
    w, b = np.zeros(x.shape[1]), 0.0
    pos_weight = (len(y) - y.sum()) / max(y.sum(), 1)
    sample = np.where(y == 1, pos_weight, 1.0)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad = (p - y) * sample
        w -= 0.5 * (x.T @ grad / len(y) + l2 * w)
        b -= 0.5 * grad.mean()
    return w, b


def fit(examples: list[Example], steps: int = 3000, l2: float = 0.01) -> dict:
    """Logistic regression by gradient descent, then the threshold that gets most clauses right."""
    x = np.array([[c.features[f] for f in FEATURES] for ex in examples for c in ex.candidates])
    y = np.array([p for ex in examples for p in ex.positive], dtype=float)
    w, b = balanced_logistic(x, y, steps, l2)
    model = {"weights": dict(zip(FEATURES, map(float, np.round(w, 4)), strict=True)),
             "bias": float(round(b, 4)), "threshold": 0.5}  # fmt: skip
    best = max(np.arange(0.05, 1.0, THRESHOLD_STEP),
               key=lambda t: _correct(examples, {**model, "threshold": float(t)}))  # fmt: skip
    model["threshold"] = float(round(best, 2))
    return model


def _correct(examples: list[Example], model: dict) -> float:
    m = evaluate(examples, model)
    return m["top1_recall"] + m["top1_precision"] + m["none_precision"] + m["none_recall"]


def save_model(model: dict, written_by: str) -> dict:
    """Write the model the KB links with (index/data/link_model.json, format 2: ``ranking``
    says which part decides), saying what wrote it."""
    model = {"_comment": f"written by {written_by}", "format": MODEL_FORMAT, **model}
    read_model(model, str(MODEL_PATH))  # refuse to write what the runtime would refuse
    MODEL_PATH.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return model


def clause_ranking(model: dict) -> dict:
    """``model`` (format 2) deciding by its clause part: every pair ranked by its own score,
    the candidates the article ranking is fitted on."""
    return {**model, "ranking": "clauses"}


def format_metrics(name: str, metrics: dict[str, float], count: int) -> str:
    keys = ("top1_precision", "top1_recall", "none_precision", "none_recall")
    cells = " | ".join(f"{metrics[k]:.3f}" for k in keys)
    return f"| {name} ({count}) | {cells} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--fit", action="store_true", help="refit and write link_model.json")
    args = parser.parse_args(argv)
    labels = [json.loads(x) for x in (args.eval_dir / "links.jsonl").read_text("utf-8").split("\n")
              if x.strip()]  # fmt: skip
    kb = KnowledgeBase(args.kb)
    examples = build_examples(kb, labels)
    print("| labelled local clauses | top-1 P | top-1 R | none P | none R |")
    print("|---|---|---|---|---|")
    if args.fit:
        shipped = link_model()
        save_model({k: v for k, v in shipped.items() if k not in ("_comment", "format")}
                   | {"clauses": fit(examples)}, "python -m training.link_model --fit")  # fmt: skip
        for held_out in sorted({ex.doc for ex in examples}):
            train = [ex for ex in examples if ex.doc != held_out]
            test = [ex for ex in examples if ex.doc == held_out]
            print(format_metrics(f"{held_out}, fitted on the others", evaluate(test, fit(train)),
                                 len(test)))  # fmt: skip
        link_model.cache_clear()
        examples = build_examples(kb, labels)
    print(format_metrics("all, as the KB stores them", tally_stored(examples).metrics(),
                         len(examples)))  # fmt: skip


if __name__ == "__main__":
    main()
