"""Tagging quality against hand-labelled seeds: units and targets, precision and recall.

``python -m evals.tags tests/eval corpus`` (part of ``make eval``) parses the seeds and
compares their tags with ``units.jsonl`` (per clause: canonical unit → role) and
``targets.jsonl`` (per seed: metric, value, unit, qualifier, year).

- Units: a (clause, canonical name) pair is right when the labels have it; roles are scored
  on the pairs found. A labelled clause is found by the start of its text.
- Targets: a found target is right when the seed's labels have one of the same value and unit
  (each label used once). The metric is right when one metric contains the other, once level
  words are dropped (产教融合实训基地 in 高水平、专业化、开放型产教融合实训基地).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from ingest.models import ParsedDocument
from ingest.pipeline import parse_file
from ingest.targets import metric_key
from ingest.text import normalize


@dataclass(frozen=True)
class Score:
    """Counts behind precision and recall, and how many matched pairs agree on a detail."""

    found: int
    labelled: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.labelled if self.labelled else 0.0


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def parse_seeds(corpus: Path) -> dict[str, ParsedDocument]:
    """Seed number (the file name's first three characters) → parsed document."""
    return {p.name[:3]: parse_file(p) for p in sorted(corpus.iterdir()) if p.is_file()}


def _key(text: str) -> str:
    return "".join(normalize(text).split())


def find_by_start(items: list, text_of, start: str):
    """The item whose text starts with ``start`` (else has it near its start), as labels
    name clauses; None when there is none."""
    start = _key(start)
    keys = [(_key(text_of(item)), item) for item in items]
    exact = [item for k, item in keys if k.startswith(start)]
    return (exact or [item for k, item in keys if start in k[:60]] or [None])[0]


def find_clause(parsed: ParsedDocument, start: str):
    """The clause of a parsed document that a label's text start names."""
    return find_by_start(parsed.clauses, lambda c: c.text, start)


def score_units(seeds: dict[str, ParsedDocument], labels: list[dict]) -> tuple[Score, Score]:
    """(units, roles): pairs found vs labelled over the labelled seeds, and roles on matches."""
    expected: set[tuple[str, str, str]] = set()
    roles: dict[tuple[str, str], str] = {}
    for row in labels:
        clause = find_clause(seeds[row["seed"]], row["clause"])
        if clause is None:
            raise ValueError(
                f"units.jsonl: no clause of seed {row['seed']} starts {row['clause']!r}"
            )
        for canonical, role in row["units"].items():
            expected.add((clause.clause_id, canonical, role))
            roles[(clause.clause_id, canonical)] = role
    found = {
        (c.clause_id, u.canonical, u.role.value)
        for seed in {row["seed"] for row in labels}
        for c in seeds[seed].clauses
        for u in c.units
    }
    pairs = {(c, u) for c, u, _ in found}
    right = pairs & roles.keys()
    role_right = sum(1 for c, u, r in found if roles.get((c, u)) == r)
    return Score(len(pairs), len(roles), len(right)), Score(len(right), len(right), role_right)


def score_targets(seeds: dict[str, ParsedDocument], labels: list[dict]) -> dict[str, Score]:
    """Targets (value + unit), and on the matched ones: metric, qualifier, year."""
    counts = {"targets": [0, len(labels), 0], "metric": 0, "qualifier": 0, "year": 0}
    for seed, parsed in seeds.items():
        pending = [row for row in labels if row["seed"] == seed]
        for clause in parsed.clauses:
            for target in clause.targets:
                counts["targets"][0] += 1
                label = _best_label(target, pending)
                if label is None:
                    continue
                pending.remove(label)
                counts["targets"][2] += 1
                counts["metric"] += same_metric(target.metric, label["metric"])
                counts["qualifier"] += target.qualifier == label["qualifier"]
                counts["year"] += target.year == label["year"]
    matched = counts["targets"][2]
    return {
        "targets": Score(*counts["targets"]),
        **{k: Score(matched, matched, counts[k]) for k in ("metric", "qualifier", "year")},
    }


def _best_label(target, pending: list[dict]) -> dict | None:
    same = [r for r in pending if r["value"] == target.value and r["unit"] == target.unit]
    right = [r for r in same if same_metric(target.metric, r["metric"])]
    return (right or same or [None])[0]


def same_metric(found: str | None, labelled: str) -> bool:
    if not found:
        return False
    a, b = metric_key(found), metric_key(labelled)
    return a in b or b in a


def format_scores(rows: dict[str, Score]) -> str:
    lines = [
        "| tags | found | labelled | right | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in rows.items():
        counts = f"{s.found} | {s.labelled} | {s.correct}"
        lines.append(f"| {name} | {counts} | {s.precision:.3f} | {s.recall:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("corpus", type=Path)
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.corpus)
    units, roles = score_units(seeds, load_jsonl(args.eval_dir / "units.jsonl"))
    targets = score_targets(seeds, load_jsonl(args.eval_dir / "targets.jsonl"))
    rows = {"units": units, "unit roles (on right units)": roles}
    rows |= {("targets" if k == "targets" else f"target {k} (on right targets)"): v
             for k, v in targets.items()}  # fmt: skip
    print(format_scores(rows))


if __name__ == "__main__":
    main()
