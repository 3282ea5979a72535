"""Versions and validity against hand labels (tests/eval/versions): precision and recall of
version grouping (over pairs of documents) and of each status, and the accuracy of article
alignment between versions.

    python -m evals.versions tests/eval/versions [--corpus ../shared/corpora/lawrefbook]

Documents are parsed as ingest parses them (sidecar, catalogue, text) and resolved by the
same code the KB runs after every write (index.versions.resolve); no model is needed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

from index.versions import align_units, resolve, status_on, units_from
from ingest import validity
from ingest.pipeline import parse_file

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "lawrefbook"


@dataclass
class Scores:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0

    def line(self, name: str) -> str:
        return (f"{name:<22} P {self.precision:.3f}  R {self.recall:.3f}"
                f"  (tp {self.true_positive}, fp {self.false_positive},"
                f" fn {self.false_negative})")  # fmt: skip


def evaluate_documents(gold: dict, corpus: Path) -> dict:
    """Grouping (pairs in one group) and status (per status, on gold's as_of) scores."""
    labelled = gold["documents"]
    parsed = [parse_file(corpus / d["file"]).document for d in labelled]
    documents = [{"doc_id": p.doc_id, "title": p.title, "date": p.date, "region": p.region,
                  "status": p.status} for p in parsed]  # fmt: skip
    states = {s.doc_id: s for s in resolve(documents, {p.doc_id: asdict(p.validity)
                                                       for p in parsed})}  # fmt: skip
    groups, statuses = Scores(), {}
    for (a, pa), (b, pb) in combinations(zip(labelled, parsed, strict=True), 2):
        same_gold = a["group"] == b["group"]
        same_found = states[pa.doc_id].group_id == states[pb.doc_id].group_id
        groups.true_positive += same_gold and same_found
        groups.false_positive += same_found and not same_gold
        groups.false_negative += same_gold and not same_found
    wrong = []
    for label, doc in zip(labelled, parsed, strict=True):
        if label["status"] is None:
            continue
        found = status_on(states[doc.doc_id], gold["as_of"])
        statuses.setdefault(found, Scores())
        statuses.setdefault(label["status"], Scores())
        if found == label["status"]:
            statuses[found].true_positive += 1
        else:
            statuses[found].false_positive += 1
            statuses[label["status"]].false_negative += 1
            state = states[doc.doc_id]
            wrong.append(f"{label['file']}: {found}, labelled {label['status']}"
                         f" ({state.to_reason or state.from_reason})")  # fmt: skip
    return {"groups": groups, "statuses": statuses, "wrong": wrong,
            "labelled": sum(1 for d in labelled if d["status"] is not None)}  # fmt: skip


def evaluate_alignments(gold: list[dict], corpus: Path) -> list[dict]:
    """Per law: articles whose pairing (or dropping, or adding) matches the labels."""
    results = []
    for law in gold:
        old, new = (units_from([asdict(c) for c in parse_file(corpus / law[k]).clauses])
                    for k in ("old", "new"))  # fmt: skip
        found_old: dict[str, str | None] = {}
        found_new: dict[str, str | None] = {}
        for i, j, _ in align_units(old, new):
            if i is not None:
                found_old[old[i].label] = new[j].label if j is not None else None
            if j is not None:
                found_new[new[j].label] = old[i].label if i is not None else None
        right, total, misses = 0, 0, []
        for label, wanted in law["pairs"].items():
            accepted = wanted if isinstance(wanted, list) else [wanted]
            total += 1
            if found_old.get(label) in accepted:
                right += 1
            else:
                misses.append(f"{label} → {found_old.get(label)}, labelled {wanted}")
        for label in law["added"]:
            total += 1
            if found_new.get(label) is None:
                right += 1
            else:
                misses.append(f"{label} added, paired with {found_new[label]}")
        results.append({"law": law["law"], "right": right, "total": total, "misses": misses})
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gold", type=Path, help="folder of documents.json and alignments.json")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--verbose", action="store_true", help="list every mistake")
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="ignore LawRefBook's catalogue: the texts' own evidence alone",
    )
    args = parser.parse_args(argv)
    validity.READ_CATALOGUES = not args.text_only
    docs = evaluate_documents(json.loads((args.gold / "documents.json").read_text()), args.corpus)
    evidence = "text only" if args.text_only else "catalogue and text"
    print(
        f"versions and validity ({evidence}): {docs['labelled']} documents with a status,"
        f" statuses on {json.loads((args.gold / 'documents.json').read_text())['as_of']}"
    )
    print(docs["groups"].line("grouping (pairs)"))
    correct = sum(s.true_positive for s in docs["statuses"].values())
    share = correct / docs["labelled"]
    print(f"{'status accuracy':<22} {share:.3f} ({correct}/{docs['labelled']})")
    for name, scores in sorted(docs["statuses"].items()):
        print(scores.line(f"status {name}"))
    for line in docs["wrong"]:
        print(f"  wrong: {line}")
    laws = evaluate_alignments(json.loads((args.gold / "alignments.json").read_text()),
                               args.corpus)  # fmt: skip
    right, total = sum(x["right"] for x in laws), sum(x["total"] for x in laws)
    print(f"article alignment: accuracy {right / total:.3f} ({right}/{total} articles)")
    for law in laws:
        print(f"  {law['law']}: {law['right']}/{law['total']}")
        for miss in law["misses"] if args.verbose else law["misses"][:5]:
            print(f"    {miss}")


if __name__ == "__main__":
    main()
