"""Cross-level linking on real documents: the implementing pairs of ../shared/realdocs.

``python -m evals.realdocs_links ../shared/realdocs --kb DIR`` (part of ``make eval``)
ingests the 14 files of the 7 pairs (pairs.jsonl) into the KB at DIR with the real model —
a KB holding other documents is refused; one holding these is relinked with the current code —
and prints, per pair and overall:

- link top-1: for each gold measure, whether the local clause's first source, as the KB stores
  it (index.link_views), is the gold upper-level clause; R@3: whether one of its (up to three)
  stored sources is; none: measures whose clause got no source at all; ranked@1/@3: whether
  the gold clause is among the first candidates before the "none" threshold (ranking vs.
  threshold); unlinked: the local document's clauses (headings aside) without any source;
- implements: whether the KB links the local document to the upper-level one as "implements".

Then, over all 70 documents and from parsing alone, precision and recall of the gold
``implements`` titles: against the citations the KB would call "implements"
(index.links.citation_relations) and against any citation. Titles match once whitespace is
removed and 〈〉/《》 and brackets are folded (evals.realdocs.title_key).

Which clause is right: the clause the gold start names (label + text, whitespace removed, as
evals.realdocs finds it); when no clause starts so, the clause whose text holds the start (a
paragraph our parser keeps inside its article: "依照前款…" is in 第二十四条). A source is right
when it is that clause or one of its descendants (an item of the article the gold names).
Ancestors do not count: an item's parent item is a broader measure, not the one carried out.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evals.realdocs import cited_titles, clause_of, key, load_gold, score_titles
from index import link_views
from index.kb import KnowledgeBase
from index.links import Linker, citation_relations
from ingest.models import ParsedDocument
from ingest.pipeline import parse_file
from ingest.readers.base import IngestError

TOP_K = 3  # sources the KB keeps per clause
SCORES = ("top1", "recall@3", "none", "ranked@1", "ranked@3")


def _row_text(row) -> str:
    """A stored clause as gold starts read it: label then text."""
    return row["label"] + row["text"]


@dataclass
class MeasureResult:
    """One gold measure: the sources the KB stores for its local clause, and where the gold
    upper-level clause ranks."""

    local_start: str
    national_start: str
    found: bool  # both clauses located
    sources: list[dict] = field(default_factory=list)  # label, text, score, right
    ranked: int | None = None  # first right candidate, before the threshold

    @property
    def top1(self) -> bool:
        """The first stored source is right."""
        return bool(self.sources) and self.sources[0]["right"]

    @property
    def at3(self) -> bool:
        """One of the stored sources (at most three) is right."""
        return any(s["right"] for s in self.sources[:TOP_K])


@dataclass
class PairResult:
    """One implementing pair: its measures, the document link and the unlinked clauses."""

    local: str
    national: str
    measures: list[MeasureResult]
    implements: bool
    clauses: int  # local clauses other than headings
    unlinked: int  # of those, without any source

    def scores(self) -> dict[str, float]:
        """The pair's measure scores (measure_scores)."""
        return measure_scores(self.measures)


def measure_scores(measures: list[MeasureResult]) -> dict[str, float]:
    """Top-1, R@3, share without a source, and ranked@1/@3 over ``measures``."""
    n = len(measures) or 1
    return {
        "top1": sum(m.top1 for m in measures) / n,
        "recall@3": sum(m.at3 for m in measures) / n,
        "none": sum(not m.sources for m in measures) / n,
        "ranked@1": sum(m.ranked == 0 for m in measures) / n,
        "ranked@3": sum(m.ranked is not None and m.ranked < TOP_K for m in measures) / n,
    }


def load_pairs(folder: Path) -> list[dict]:
    """pairs.jsonl: {local, national, measures: [{local_start, national_start}]} per pair."""
    lines = (folder / "pairs.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def pair_files(folder: Path, pairs: list[dict]) -> list[Path]:
    """The files of every pair, each once."""
    names = sorted({p[side] for p in pairs for side in ("local", "national")})
    return [folder / "files" / name for name in names]


def build_kb(folder: Path, kb_dir: Path) -> KnowledgeBase:
    """Ingest the pairs' files; relink when they were there already, so links follow the code."""
    kb = KnowledgeBase(kb_dir)
    paths = pair_files(folder, load_pairs(folder))
    report = kb.ingest(paths)
    if report.failed:
        raise SystemExit(f"realdocs_links: could not ingest {report.failed}")
    sources = {Path(d.source).name for d in kb.documents()}
    if sources != {p.name for p in paths}:
        raise SystemExit(f"realdocs_links: {kb_dir} holds other documents; give a fresh --kb")
    if report.unchanged:
        with kb.store.transaction():
            Linker(kb.store).refresh({d.doc_id for d in kb.documents()}, {})
    return kb


def upper_clause(rows: list, start: str):
    """The upper-level clause a gold start names, else the clause whose text holds it."""
    found = clause_of(rows, start, _row_text)
    if found is not None:
        return found
    wanted = key(start)
    return next((r for r in rows if wanted in key(_row_text(r))), None)


def _descendants(rows: list, clause_id: str) -> set[str]:
    """The clause and every clause under it."""
    children: dict[str, list[str]] = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row["clause_id"])
    found, todo = set(), [clause_id]
    while todo:
        current = todo.pop()
        found.add(current)
        todo += children.get(current, [])
    return found


def evaluate_pairs(kb: KnowledgeBase, folder: Path) -> list[PairResult]:
    """Score every pair of pairs.jsonl against the links stored in ``kb``."""
    docs = {Path(d.source).name: d.doc_id for d in kb.documents()}
    linker = Linker(kb.store)
    return [_evaluate_pair(kb, linker, docs, pair) for pair in load_pairs(folder)]


def _evaluate_pair(kb: KnowledgeBase, linker: Linker, docs: dict, pair: dict) -> PairResult:
    """One pair: each measure's stored sources and candidate rank, the document link, and the
    local clauses left without a source."""
    local_id, upper_id = docs[pair["local"]], docs[pair["national"]]
    upper_rows = kb.store.clauses_of(upper_id)
    local, sources, ranked = linker.candidates(
        kb.store.document(local_id), linker.stored_links(local_id)
    )
    local_rows, measures = kb.store.clauses_of(local_id), []
    for row in pair["measures"]:
        clause = clause_of(local_rows, row["local_start"], _row_text)
        gold = upper_clause(upper_rows, row["national_start"])
        result = MeasureResult(row["local_start"], row["national_start"], bool(clause and gold))
        if clause is not None and gold is not None:
            right = _descendants(upper_rows, gold["clause_id"])
            result.sources = [
                {"label": s["label"], "text": s["text"][:40], "score": s["score"],
                 "right": s["clause_id"] in right}
                for s in link_views.sources(kb.store, clause["clause_id"])
            ]  # fmt: skip
            result.ranked = _rank(local, sources, ranked, clause["clause_id"], right)
        measures.append(result)
    linked = {lk["clause_id"] for lk in kb.store.clause_links_of_doc(local_id)}
    implements = any(
        r["target"] == upper_id and r["relation"] == "implements"
        for r in kb.store.doc_links(local_id)
    )
    unlinked = sum(c["clause_id"] not in linked for c in local)
    return PairResult(pair["local"], pair["national"], measures, implements, len(local), unlinked)


def _rank(local: list, sources: list, ranked: list, clause_id: str, right: set[str]):
    """Where the first right source ranks among the clause's candidates (None: not there)."""
    index = next((i for i, c in enumerate(local) if c["clause_id"] == clause_id), None)
    if index is None:
        return None  # a heading: never linked
    candidates = [sources[c.source]["clause_id"] for c in ranked[index]]
    return next((i for i, c in enumerate(candidates) if c in right), None)


# --- implements titles over every document, from parsing alone ----------------------------------


def implements_scores(folder: Path, files: set[str] | None = None) -> dict[str, list[int]]:
    """[found, labelled, recalled, right] of gold implements titles over every document (or
    those of ``files``): for the citations the KB calls "implements" and for any citation."""
    totals = {"implements": [0, 0, 0, 0], "any citation": [0, 0, 0, 0]}
    for gold in load_gold(folder):
        if files is not None and gold["file"] not in files:
            continue
        try:
            parsed: ParsedDocument | None = parse_file(folder / "files" / gold["file"])
        except IngestError:
            parsed = None
        for kind, titles in _titles(parsed).items():
            counts = score_titles(titles, gold["implements"])
            totals[kind] = [a + b for a, b in zip(totals[kind], counts, strict=True)]
    return totals


def _titles(parsed: ParsedDocument | None) -> dict[str, list[str]]:
    """Titles the document says it implements (as the KB relates citations), and every title
    its clauses cite (as evals.realdocs counts them)."""
    if parsed is None:
        return {"implements": [], "any citation": []}
    doc = parsed.document
    clauses = [(c.kind, c.text) for c in parsed.clauses]
    cited = [asdict(x) for c in parsed.clauses for x in c.citations]
    related = citation_relations(doc.title, doc.doc_number, clauses, cited)
    return {
        "implements": [c["title"] for c, rel in related if rel == "implements" and c["title"]],
        "any citation": cited_titles(parsed),
    }


# --- printing ------------------------------------------------------------------------------------


def format_pairs(results: list[PairResult]) -> str:
    """The pair table: one row per pair, then all measures together."""
    head = ("| pair (local → upper) | measures | top-1 | R@3 | none | ranked@1 | ranked@3 "
            "| implements | unlinked clauses |")  # fmt: skip
    lines = [head, "|---" * 9 + "|"]
    for r in results:
        lines.append(_row(f"{r.local} → {r.national}", r.measures, "yes" if r.implements else "no",
                          f"{r.unlinked}/{r.clauses}"))  # fmt: skip
    measures = [m for r in results for m in r.measures]
    implements = f"{sum(r.implements for r in results)}/{len(results)}"
    unlinked = f"{sum(r.unlinked for r in results)}/{sum(r.clauses for r in results)}"
    lines.append(_row("all", measures, implements, unlinked))
    return "\n".join(lines)


def _row(name: str, measures: list[MeasureResult], implements: str, unlinked: str) -> str:
    scores = measure_scores(measures)
    cells = " | ".join(f"{scores[k]:.2f}" for k in SCORES)
    return f"| {name} | {len(measures)} | {cells} | {implements} | {unlinked} |"


def format_implements(totals: dict[str, list[int]]) -> str:
    """The implements-titles table: precision and recall per kind of citation."""
    lines = ["| implements titles (all documents) | found | gold | precision | recall |",
             "|---|---|---|---|---|"]  # fmt: skip
    for kind, (found, labelled, recalled, right) in totals.items():
        precision = right / found if found else 0.0
        recall = recalled / labelled if labelled else 0.0
        lines.append(f"| {kind} | {found} | {labelled} | {precision:.3f} | {recall:.3f} |")
    return "\n".join(lines)


def format_misses(results: list[PairResult]) -> str:
    """One line per measure whose first source is not the gold clause."""
    lines = []
    for r in results:
        for m in r.measures:
            if m.top1:
                continue
            if not m.found:
                lines.append(f"{r.local}: {m.local_start} → {m.national_start}: clause not found")
                continue
            first = m.sources[0] if m.sources else None
            ours = f"{first['label']}{first['text'][:20]} ({first['score']:.2f})" if first else "—"
            lines.append(f"{r.local}: {m.local_start} → want {m.national_start}; first {ours}; "
                         f"gold ranked {m.ranked}")  # fmt: skip
    return "\n".join(lines)


def to_json(results: list[PairResult], totals: dict[str, list[int]]) -> dict:
    """Everything the tables show, per measure too."""
    measures = [m for r in results for m in r.measures]
    pairs = [
        {**asdict(r), "scores": r.scores(),
         "measures": [asdict(m) | {"top1": m.top1, "recall@3": m.at3} for m in r.measures]}
        for r in results
    ]  # fmt: skip
    overall = measure_scores(measures) | {"implements": sum(r.implements for r in results)}
    titles = {
        kind: dict(zip(("found", "gold", "recalled", "right"), counts, strict=True))
        for kind, counts in totals.items()
    }
    return {"pairs": pairs, "overall": overall, "implements_titles": titles}


def main(argv: list[str] | None = None) -> None:
    """Build or relink the KB, then print the tables (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the realdocs folder (pairs.jsonl, files/)")
    parser.add_argument("--kb", type=Path, required=True, help="KB folder (fresh, or these 14)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--misses", action="store_true", help="list every measure missed")
    args = parser.parse_args(argv)
    kb = build_kb(args.folder, args.kb)
    results = evaluate_pairs(kb, args.folder)
    totals = implements_scores(args.folder)
    if args.json:
        print(json.dumps(to_json(results, totals), ensure_ascii=False, indent=2))
        return
    print(format_pairs(results))
    print()
    print(format_implements(totals))
    if args.misses:
        print()
        print(format_misses(results))


if __name__ == "__main__":
    main()
