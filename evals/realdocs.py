"""Parsing quality on real government documents with hand-checked gold (../shared/realdocs).

``python -m evals.realdocs ../shared/realdocs`` (part of ``make eval``) parses every file of
the set and prints per-field accuracy (title, 文号, issuers, date, level, region) overall, by
format and by level, then unit and target precision and recall on the gold samples, then how
many of the gold ``implements`` titles the document cites at all (any citation: an upper bound
for the "implements" relation, which evals.realdocs_links measures).

How a field counts as right: text fields compare on the normalised form with all whitespace
removed and brackets folded (〔〕 = ()); issuers as a set; a region also when ours names the
gold one with its city (淮安市洪泽区 for 洪泽区) or by its short name (德宏州). A file the
parser refuses is wrong on every field. Samples are samples: precision counts only the tags
we put on sampled clauses, and a tag is right when the gold lists its name with its role
(配合 counts as responsible, as the gold has it). A gold ``implements`` title is recalled when
a citation has the same title once whitespace is removed and 〈〉/《》 and brackets are folded.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from evals.tags import find_by_start
from ingest.models import Clause, ParsedDocument, Role
from ingest.pipeline import parse_file
from ingest.readers.base import IngestError
from ingest.regions import short_name
from ingest.text import normalize_brackets

FIELDS = ("title", "doc_number", "issuers", "date", "level", "region")
_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\ufeff]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_QUOTES = str.maketrans("〈〉", "《》")
# Gold roles: lead, or responsible for everyone else named as acting (负责/配合/指导).
_GOLD_ROLE = {Role.LEAD: "lead"}


@dataclass
class DocResult:
    """How one real document parsed against its gold."""

    file: str
    format: str
    level: str
    fields: dict[str, bool]
    found: dict[str, object]
    error: str | None = None
    seconds: float = 0.0
    # Tag counts, each [found on sampled clauses, labelled, recalled, right].
    units: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    targets: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    implements: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # gold titles cited


def key(text: str) -> str:
    """The form two spellings of one name or title share."""
    return _INVISIBLE.sub("", normalize_brackets(_INVISIBLE.sub("", text)))


def same_field(name: str, found: object, gold: object) -> bool:
    """Whether a parsed metadata field agrees with the gold."""
    if gold is None or found is None:
        return not gold and not found
    if name == "issuers":
        return {key(i) for i in found} == {key(i) for i in gold}
    if name == "region":
        return _same_region(str(found), str(gold))
    return key(str(found)) == key(str(gold))


def _same_region(found: str, gold: str) -> bool:
    found, gold = key(found), key(gold)
    if found == gold or found.endswith(gold):
        return True
    return short_name(found) == short_name(gold) or short_name(found) == gold[:-1]


def evaluate(folder: Path) -> list[DocResult]:
    """Parse every file of the gold set and score it."""
    results = []
    for gold in load_gold(folder):
        path = folder / "files" / gold["file"]
        started = time.perf_counter()
        try:
            parsed: ParsedDocument | None = parse_file(path)
            error = None
        except IngestError as exc:
            parsed, error = None, exc.reason
        result = _score_document(gold, parsed, error)
        result.seconds = time.perf_counter() - started
        results.append(result)
    return results


def load_gold(folder: Path) -> list[dict]:
    lines = (folder / "gold.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _score_document(gold: dict, parsed: ParsedDocument | None, error: str | None) -> DocResult:
    document = parsed.document if parsed else None
    found = {name: getattr(document, name, None) for name in FIELDS}
    if document:
        found["level"] = document.level.value
    result = DocResult(
        file=gold["file"],
        format=gold["format"],
        level=gold["level"],
        fields={
            name: parsed is not None and same_field(name, found[name], gold[name])
            for name in FIELDS
        },
        found=found,
        error=error,
    )
    result.units = _score_units(parsed, gold["units_sample"])
    result.targets = _score_targets(parsed, gold["targets_sample"])
    result.implements = score_titles(cited_titles(parsed) if parsed else [], gold["implements"])
    return result


def clause_of(clauses: list, start: str, text_of=lambda c: c.label + c.text):
    """The clause a gold start names (label + text, whitespace removed), or None; ``text_of``
    reads another clause shape (stored rows)."""
    return find_by_start(clauses, text_of, _INVISIBLE.sub("", start))


def title_key(title: str) -> str:
    """The form a gold title and a citation of it share: 〈〉 as 《》, brackets folded."""
    return key(title.translate(_QUOTES))


def cited_titles(parsed: ParsedDocument) -> list[str]:
    """Titles of every document the clauses cite, in order."""
    return [c.title for clause in parsed.clauses for c in clause.citations if c.title]


def score_titles(found: list[str], gold: list[str]) -> list[int]:
    """[found, labelled, recalled, right] of cited titles against the gold ``implements``."""
    ours, wanted = {title_key(t) for t in found}, {title_key(t) for t in gold}
    return [len(ours), len(wanted), len(ours & wanted), len(ours & wanted)]


def _names_match(found: str, gold: str) -> bool:
    a, b = key(found), key(gold)
    return a == b or (min(len(a), len(b)) >= 3 and (a in b or b in a))


def _score_units(parsed: ParsedDocument | None, samples: list[dict]) -> list[int]:
    """[found on sampled clauses, labelled, recalled, right]: name and role must both agree."""
    labelled = [
        (row["clause_start"], name, row["role"]) for row in samples for name in row["units"]
    ]
    if parsed is None:
        return [0, len(labelled), 0, 0]
    by_clause: dict[str, list[tuple[str, str]]] = defaultdict(list)
    clauses: dict[str, Clause | None] = {}
    for start, name, role in labelled:
        clauses[start] = clause_of(parsed.clauses, start)
        by_clause[start].append((name, role))
    found = right = recalled = 0
    seen: set[str] = set()
    for start, clause in clauses.items():
        if clause is None or clause.clause_id in seen:
            continue
        seen.add(clause.clause_id)
        tags = [
            (t.name, _GOLD_ROLE.get(t.role, "responsible"))
            for t in clause.units
            if t.role is not Role.MENTIONED
        ]
        gold = by_clause[start]
        found += len(tags)
        right += sum(any(_names_match(n, g) and r == gr for g, gr in gold) for n, r in tags)
        recalled += sum(any(_names_match(n, g) and r == gr for n, r in tags) for g, gr in gold)
    return [found, len(labelled), recalled, right]


def _gold_value(text: str) -> float | None:
    match = _NUMBER.search(text.replace(",", ""))
    return float(match.group(0)) if match else None


def _score_targets(parsed: ParsedDocument | None, samples: list[dict]) -> list[int]:
    """[found on sampled clauses, labelled, recalled, right]: value and unit must agree."""
    if parsed is None:
        return [0, len(samples), 0, 0]
    by_clause: dict[str, list[dict]] = defaultdict(list)
    for row in samples:
        by_clause[row["clause_start"]].append(row)
    found = right = recalled = 0
    for start, gold in by_clause.items():
        clause = clause_of(parsed.clauses, start)
        if clause is None:
            continue
        ours = [(t.value, key(t.unit)) for t in clause.targets]
        wanted = [(_gold_value(row["value"]), key(row["unit"])) for row in gold]
        found += len(ours)
        right += sum(any(_same_target(o, w) for w in wanted) for o in ours)
        recalled += sum(any(_same_target(o, w) for o in ours) for w in wanted)
    return [found, len(samples), recalled, right]


def _same_target(ours: tuple[float, str], gold: tuple[float | None, str]) -> bool:
    return gold[0] is not None and abs(ours[0] - gold[0]) < 1e-6 and ours[1] == gold[1]


def tag_scores(results: list[DocResult]) -> dict[str, tuple[float, float]]:
    """(precision, recall) of unit and target tags over all samples, and of implements titles
    over every document's gold."""
    scores = {}
    for name in ("units", "targets", "implements"):
        found = sum(getattr(r, name)[0] for r in results)
        labelled = sum(getattr(r, name)[1] for r in results)
        recalled = sum(getattr(r, name)[2] for r in results)
        right = sum(getattr(r, name)[3] for r in results)
        scores[name] = (right / found if found else 0.0, recalled / labelled if labelled else 0.0)
    return scores


def field_accuracy(results: list[DocResult], group: str | None = None) -> dict[str, dict]:
    """Share of documents with each field right, overall or per value of ``group``."""
    groups: dict[str, list[DocResult]] = defaultdict(list)
    for result in results:
        groups[getattr(result, group) if group else "all"].append(result)
    return {
        name: {f: sum(r.fields[f] for r in rows) / len(rows) for f in FIELDS} | {"n": len(rows)}
        for name, rows in sorted(groups.items())
    }


def format_accuracy(table: dict[str, dict], title: str) -> str:
    lines = [f"| {title} | n | " + " | ".join(FIELDS) + " |", "|---" * (len(FIELDS) + 2) + "|"]
    for name, row in table.items():
        cells = " | ".join(f"{row[f]:.2f}" for f in FIELDS)
        lines.append(f"| {name} | {row['n']} | {cells} |")
    return "\n".join(lines)


def format_errors(results: list[DocResult], gold: dict[str, dict]) -> str:
    """One line per wrong field: what we found and what the gold says."""
    lines = []
    for result in results:
        if result.error:
            lines.append(f"{result.file}: refused: {result.error}")
            continue
        for name in FIELDS:
            if not result.fields[name]:
                want = gold[result.file][name]
                lines.append(f"{result.file}: {name}: {result.found[name]!r} ≠ {want!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the realdocs folder (gold.jsonl, files/)")
    parser.add_argument("--errors", action="store_true", help="list every wrong field")
    args = parser.parse_args(argv)
    results = evaluate(args.folder)
    print(format_accuracy(field_accuracy(results), "documents"))
    print()
    print(format_accuracy(field_accuracy(results, "format"), "format"))
    print()
    print(format_accuracy(field_accuracy(results, "level"), "level"))
    print()
    print("| tags | precision | recall |\n|---|---|---|")
    for name, (precision, recall) in tag_scores(results).items():
        label = "implements titles (any citation)" if name == "implements" else name
        print(f"| {label} | {precision:.3f} | {recall:.3f} |")
    seconds = sorted(r.seconds for r in results)
    print(f"\nparsed {len(results)} files, median {seconds[len(seconds) // 2]:.2f} s per file")
    if args.errors:
        print(format_errors(results, {g["file"]: g for g in load_gold(args.folder)}))


if __name__ == "__main__":
    main()
