"""Fit and measure the link model on labelled local → source clause pairs.

``python -m training.link_model tests/eval --kb DIR`` (part of ``make eval``) prints, for the
labelled local clauses of tests/eval/links.jsonl:

- top-1 precision (of the clauses given a source, the share whose first source is labelled)
  and recall (of the clauses that have a labelled source, the share found first);
- precision and recall of "none" (no source above the threshold).

``--fit`` refits the weights (logistic regression over the candidates' evidence, positives
being labelled sources) and the threshold (the one that gets most clauses right) on these 23
clauses alone, writes index/data/link_model.json, and also prints the cross-document check:
fitted on one local document, measured on the other. The shipped model is fitted on the 204
lawref articles instead (``python -m evals.lawref_links --fit``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

import index
from evals.tags import find_by_start
from index.kb import KnowledgeBase
from index.links import FEATURES, Candidate, Linker, link_score

# The model the runtime links with (index.links.link_model reads it): written here, read there.
MODEL_PATH = Path(index.__file__).parent / "data" / "link_model.json"
# Step of the "none" threshold search, on the fitted clauses: right and wrong first sources
# score close together, and 0.05 steps lost half the gain of ``lexical`` (docs/benchmarks.md).
THRESHOLD_STEP = 0.01


@dataclass
class Example:
    """One labelled local clause: its candidates and which of them are labelled sources."""

    doc: str
    candidates: list[Candidate]
    positive: list[bool]
    labelled_sources: int = 0


def _find(clauses, start: str):
    return find_by_start(clauses, lambda c: c["text"], start)


def build_examples(kb: KnowledgeBase, labels: list[dict]) -> list[Example]:
    docs = {Path(d.source).name: d for d in kb.documents()}
    linker = Linker(kb.store)

    def doc_of(ref: str):
        return next(d for name, d in sorted(docs.items()) if name.startswith(ref))

    examples, cache = [], {}
    for row in labels:
        doc = doc_of(row["local"]["doc"])
        if doc.doc_id not in cache:
            stored = kb.store.document(doc.doc_id)
            cache[doc.doc_id] = linker.candidates(stored, linker.stored_links(doc.doc_id))
        local, sources, ranked = cache[doc.doc_id]
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
        examples.append(Example(doc.doc_id, candidates, positive, len(wanted)))
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
    """Write the model the KB links with (index/data/link_model.json), saying what wrote it."""
    model = {"_comment": f"written by {written_by}", **model}
    MODEL_PATH.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return model


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
    model = json.loads(MODEL_PATH.read_text("utf-8"))
    print("| labelled local clauses | top-1 P | top-1 R | none P | none R |")
    print("|---|---|---|---|---|")
    if args.fit:
        model = save_model(fit(examples), "python -m training.link_model --fit")
        for held_out in sorted({ex.doc for ex in examples}):
            train = [ex for ex in examples if ex.doc != held_out]
            test = [ex for ex in examples if ex.doc == held_out]
            print(format_metrics(f"{held_out}, fitted on the others", evaluate(test, fit(train)),
                                 len(test)))  # fmt: skip
    print(format_metrics("all", evaluate(examples, model), len(examples)))


if __name__ == "__main__":
    main()
