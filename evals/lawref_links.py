"""Cross-level links at scale: lawrefbook's local 实施办法 against the national laws they carry out.

``python -m evals.lawref_links [--kb .kb/lawref-links]`` (part of ``make eval``) ingests the
labelled pairs of tests/eval/lawref_links/gold.jsonl (each national law and its local 实施办法,
read from ../shared/corpora/lawrefbook) with ``policykb ingest``, then prints top-1 precision,
top-1 recall and "none" precision/recall per article:

- with the shipped model (index/data/link_model.json, fitted on these articles by ``--fit``),
  on every labelled article;
- leaving one province out: the model is fitted (training.link_model.fit) on the other
  provinces' pairs and measured on the held-out province's; the pooled row adds up the folds'
  counts, so every article is measured by a fit that never saw its pair.

The unit is the local article (第N条), as labelled. The KB links clauses, and an article is
several (its first paragraph, then 款 and 项). With the clause ranking (``--ranking clauses``)
the article's source is the best-scoring candidate over all its clauses, right when that
candidate lies in one of the labelled national articles (the article clause or one of its
paragraphs or items); "none" when no candidate of any of its clauses clears the threshold.
With the article ranking (``--ranking articles``, index.links): the article's candidates
are grouped by national article (a source clause outside any article alone), each group's
evidence the best of each feature; the listwise model's first group is the source when the
pointwise model scores it over the threshold, else "none" (``--local-unit clause``: each
clause ranks its own groups, and the article's source is the given first group scoring most).
``--gate clauses`` adds a clause-level gate to the article ranking, fitted on the same
articles (each fold's train provinces): a group is given only when one of its pairs clears
the clause model's own threshold under the clause model (``--gate fitted``: at a gate
threshold fitted with the article threshold), as the KB then stores it: a clause of a linked
article links into the group only when its own pairs there clear the gate.
``--fit`` writes both models, with ``--ranking`` the one that decides.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from index.kb import KnowledgeBase
from index.links import RANKINGS, Linker, article_keys, article_labels, link_model
from training.link_model import (
    Example,
    Tally,
    clause_ranking,
    fit,
    fit_articles,
    fit_gate,
    format_metrics,
    grouped,
    save_model,
    tally,
    tally_articles,
)

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tests" / "eval" / "lawref_links" / "gold.jsonl"
LAWREF = ROOT.parent / "shared" / "corpora" / "lawrefbook"


@dataclass(frozen=True)
class GoldArticle:
    """One labelled local article: the national articles it carries out (none when empty)."""

    pair: str
    province: str
    local_file: str  # relative to lawrefbook
    local_article: str  # 第N条
    national_file: str
    national_articles: tuple[str, ...]
    source: str  # explicit (its text names the national article) | reading


def load_gold(path: Path = GOLD) -> list[GoldArticle]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [
        GoldArticle(r["pair"], r["province"], r["local"]["file"], r["local"]["article"],
                    r["national"]["file"], tuple(r["national"]["articles"]), r["source"])
        for r in rows
    ]  # fmt: skip


def law_files(gold: Iterable[GoldArticle], lawref: Path = LAWREF) -> list[Path]:
    """The national laws, then the local 实施办法, each once."""
    national = dict.fromkeys(g.national_file for g in gold)
    local = dict.fromkeys(g.local_file for g in gold)
    return [lawref / name for name in [*national, *local]]


def build_kb(kb_dir: Path, files: list[Path]) -> None:
    """Ingest the pairs with the project's command (unchanged files are skipped)."""
    command = Path(sys.executable).with_name("policykb")
    subprocess.run([str(command), "ingest", *map(str, files), "--kb", str(kb_dir)], check=True)


# --- examples ------------------------------------------------------------------------------------


def build_examples(kb: KnowledgeBase, gold: list[GoldArticle]) -> list[Example]:
    """One example per labelled article: the candidates of all its clauses, positive when the
    source lies in a labelled national article, every pair ranked by the clause model, with its
    source group (``article_keys``). Example.doc holds the province."""
    docs = {Path(d.source).resolve(): d.doc_id for d in kb.documents()}
    linker = Linker(kb.store, clause_ranking(link_model()))
    articles: dict[str, dict[str, str]] = {}
    examples, cache = [], {}

    def doc_id(name: str) -> str:
        found = docs.get((LAWREF / name).resolve())
        if found is None:
            raise ValueError(f"lawref links: {name} is not in the KB")
        return found

    def articles_of(doc: str) -> dict[str, str]:
        if doc not in articles:
            articles[doc] = article_labels(kb.store.clauses_of(doc))
        return articles[doc]

    for g in gold:
        local_doc, national_doc = doc_id(g.local_file), doc_id(g.national_file)
        if local_doc not in cache:
            stored = kb.store.document(local_doc)
            local, sources, ranked = linker.candidates(stored, linker.stored_links(local_doc))
            cache[local_doc] = local, sources, ranked, article_keys(sources)
        local, sources, ranked, keys = cache[local_doc]
        local_articles = articles_of(local_doc)
        members = [i for i, c in enumerate(local)
                   if local_articles.get(c["clause_id"]) == g.local_article]  # fmt: skip
        if not members:
            raise ValueError(f"lawref links: no clause of {g.local_file} in {g.local_article}")
        national_articles = articles_of(national_doc)
        wanted = set(g.national_articles)
        candidates = [c for i in members for c in ranked[i]]
        positive = [sources[c.source]["doc_id"] == national_doc
                    and national_articles.get(sources[c.source]["clause_id"]) in wanted
                    for c in candidates]  # fmt: skip
        groups = [keys[c.source] for c in candidates]
        examples.append(Example(g.province, candidates, positive, len(wanted), groups))
    return examples


# --- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """How the figures are made: which ranking decides, and its local unit."""

    name: str = "articles"  # clauses | articles
    local_unit: str = "article"  # article | clause (the article ranking's)
    gate: str = "none"  # the article ranking's clause-level gate: none | clauses | fitted

    def measure(self, examples: list[Example], model: dict) -> Tally:
        """The counts of ``examples`` under ``model`` (the part of a format 2 model)."""
        if self.name == "clauses":
            return tally(examples, model)
        return tally_articles([grouped(ex, self.local_unit) for ex in examples], model)

    def fit(self, examples: list[Example]) -> dict:
        """The deciding part fitted on ``examples`` (a gate, the clause model, on them too)."""
        if self.name == "clauses":
            return fit(examples)
        groups = [grouped(ex, self.local_unit) for ex in examples]
        gate = fit(examples) if self.gate != "none" else None
        model = fit_articles(groups, self.local_unit, gate)
        return fit_gate(groups, model) if self.gate == "fitted" else model


def leave_one_out(examples: list[Example], ranking: Ranking = Ranking("clauses")):
    """Per held-out group (Example.doc), the tally of a model fitted on the other groups."""
    folds = {}
    for held_out in sorted({ex.doc for ex in examples}):
        train = [ex for ex in examples if ex.doc != held_out]
        test = [ex for ex in examples if ex.doc == held_out]
        folds[held_out] = ranking.measure(test, ranking.fit(train))
    return folds


def _row(name: str, t: Tally) -> str:
    return format_metrics(name, t.metrics(), t.sourced + t.none_labelled)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=ROOT / ".kb" / "lawref-links")
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--no-ingest", action="store_true", help="use the KB as it is")
    parser.add_argument("--fit", action="store_true", help="fit both models on every labelled "
                        "article and write index/data/link_model.json")  # fmt: skip
    parser.add_argument("--ranking", choices=RANKINGS, default=None,
                        help="the ranking measured (and written by --fit); default: the "
                        "shipped model's")  # fmt: skip
    parser.add_argument(
        "--gate",
        choices=("none", "clauses", "fitted"),
        default=None,
        help="the article ranking's clause-level gate (a clause of a linked article links "
        "only when its own pairs clear it): the clause model at its threshold, or at one "
        "fitted with the article threshold; default: the shipped one's (none without)",
    )
    parser.add_argument(
        "--local-unit",
        choices=("article", "clause"),
        default=None,
        help="the article ranking's local unit; default: the shipped one's",
    )
    args = parser.parse_args(argv)
    gold = load_gold(args.gold)
    if not args.no_ingest:
        build_kb(args.kb, law_files(gold))
    examples = build_examples(KnowledgeBase(args.kb), gold)
    print(f"{len(gold)} labelled local articles, {len({g.pair for g in gold})} pairs, "
          f"{len({g.province for g in gold})} provinces")  # fmt: skip
    model = link_model()
    unit = args.local_unit or model.get("articles", {}).get("local_unit", "article")
    gate = args.gate or model.get("articles", {}).get("gate_fit", "none")
    ranking = Ranking(args.ranking or model["ranking"], unit, gate)
    if args.fit:
        articles = Ranking("articles", unit, gate).fit(examples)
        if gate != "none":
            articles["gate_fit"] = gate  # read back as the default --gate
        fitted = {"clauses": fit(examples), "articles": articles}
        command = f"python -m evals.lawref_links --fit --ranking {ranking.name} --local-unit {unit}"
        model = save_model({"ranking": ranking.name, **fitted},
                           command + f" --gate {gate}" * (gate != "none"))  # fmt: skip
    print(f"ranking: {ranking.name}" + (f", local unit: {unit}, gate: {gate}"
                                        * (ranking.name == "articles")))  # fmt: skip
    print("| labelled local articles | top-1 P | top-1 R | none P | none R |")
    print("|---|---|---|---|---|")
    if ranking.name in model:
        shipped = ranking.measure(examples, model[ranking.name])
        print(_row("all, shipped model (fitted on all of them)", shipped))
    folds = leave_one_out(examples, ranking)
    for province, t in folds.items():
        print(_row(f"{province}, fitted on the other provinces", t))
    print(_row("pooled, each province fitted on the others", sum(folds.values(), Tally())))


if __name__ == "__main__":
    main()
