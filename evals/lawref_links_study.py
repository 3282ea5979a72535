"""Offline study of ranking ideas for lawref links (issue 15, part 3): document order, clause
weighting and "local addition" evidence, measured leave one province out like evals.lawref_links.

``python -m evals.lawref_links_study --kb KB [--cache FILE]`` reads the candidates of the 204
labelled articles (evals.lawref_links.build_examples, plus the text and article of every clause;
the KB is only read), keeps them in ``FILE`` when given (delete it after the KB changes), and
prints a table of variants with pooled top-1 P / R, "none" P / R and how many sourced articles
the ranking gets right threshold aside, then a threshold sweep (docs/benchmarks.md). Every
variant is fitted on the other provinces and its threshold (and any knob) chosen on those
fitted pairs only, never on the held-out province.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.lawref_links import GOLD, build_examples, load_gold
from index.kb import KnowledgeBase
from index.lexical import words
from index.link_evidence import wording_key
from index.links import FEATURES, Lexicon, Linker, article_labels, link_model
from training.link_model import (
    THRESHOLD_STEP,
    Example,
    Tally,
    balanced_logistic,
    clause_ranking,
    softmax_descent,
)

ROOT = Path(__file__).resolve().parent.parent
LISTWISE_STEPS = 800  # gradient steps of the listwise ranking model (it has converged by then)


# --- the cached candidates -----------------------------------------------------------------------


@dataclass
class Clause:
    """A clause as the study needs it: text, the article it lies in and that article's rank."""

    clause_id: str
    doc_id: str
    kind: str
    text: str
    article: str | None
    article_rank: int  # position of its article in its document (-1 outside any)


@dataclass
class Study:
    """The labelled articles' examples and, per local document, its clauses and sources."""

    examples: list[Example]
    pairs: list[str]  # per example
    local_articles: list[str]  # per example: 第N条
    labelled: list[tuple[str, ...]]  # per example: the labelled national articles
    local_docs: list[str]  # per example
    national_docs: list[str]  # per example: the implemented law
    local: dict[str, list[Clause]]  # local doc → its clauses (the candidates' ``local`` index)
    sources: dict[str, list[Clause]]  # local doc → its source clauses (``source`` index)


def _clauses(rows: list, labels: dict[str, str]) -> list[Clause]:
    ranks = {a: k for k, a in enumerate(dict.fromkeys(labels[r["clause_id"]] for r in rows
                                                       if r["clause_id"] in labels))}  # fmt: skip
    return [Clause(r["clause_id"], r["doc_id"], r["kind"], r["text"], labels.get(r["clause_id"]),
                   ranks.get(labels.get(r["clause_id"]), -1)) for r in rows]  # fmt: skip


def read_study(kb_dir: Path, gold_path: Path = GOLD) -> Study:
    """build_examples' candidates, with the clauses their indices point to (a second
    Linker.candidates call per local document gives the same lists, in the same order)."""
    gold = load_gold(gold_path)
    kb = KnowledgeBase(kb_dir)
    examples = build_examples(kb, gold)
    docs = {Path(d.source).resolve().name: d.doc_id for d in kb.documents()}
    linker = Linker(kb.store, clause_ranking(link_model()))  # as build_examples ranks them
    labels: dict[str, dict[str, str]] = {}

    def labels_of(doc: str) -> dict[str, str]:
        if doc not in labels:
            labels[doc] = article_labels(kb.store.clauses_of(doc))
        return labels[doc]

    local, sources = {}, {}
    for g in gold:
        doc = docs[Path(g.local_file).name]
        if doc in local:
            continue
        clauses, found, _ = linker.candidates(kb.store.document(doc), linker.stored_links(doc))
        local[doc] = _clauses(clauses, labels_of(doc))
        rows: list[Clause] = []
        for source_doc in dict.fromkeys(r["doc_id"] for r in found):
            rows += _clauses([r for r in found if r["doc_id"] == source_doc], labels_of(source_doc))
        sources[doc] = rows
    return Study(examples, [g.pair for g in gold], [g.local_article for g in gold],
                 [g.national_articles for g in gold],
                 [docs[Path(g.local_file).name] for g in gold],
                 [docs[Path(g.national_file).name] for g in gold], local, sources)  # fmt: skip


def load_study(kb_dir: Path, cache: Path) -> Study:
    """The study from ``cache`` when it exists, else read from the KB and written there."""
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    study = read_study(kb_dir)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(study))
    return study


# --- document order: a monotone alignment of the local articles to the law's --------------------


def monotone_alignment(gain: np.ndarray) -> list[int | None]:
    """Per row (local article, in order), the column (national article) it is aligned to, or
    None: the alignment with the largest total gain whose columns never go back (several rows
    may share one column; a row may be skipped, a local addition). Gains ≤ 0 are never taken."""
    n, m = gain.shape
    gain = np.maximum(gain, 0.0)
    best = np.zeros((n + 1, m + 1))  # best[i, j]: rows < i, columns < j
    for i in range(1, n + 1):
        best[i, 1:] = np.maximum.accumulate(best[i - 1, 1:] + gain[i - 1])
    path: list[int | None] = [None] * n
    i, j = n, m
    while i and j:
        if best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            if gain[i - 1, j - 1] > 0:
                path[i - 1] = j - 1
            i -= 1
    return path


def anchors(gain: np.ndarray, row: int) -> tuple[int, int]:
    """The columns the neighbours of ``row`` are aligned to when it is left out: the last
    aligned column above it and the first below (0 and the last column when there is none)."""
    held = gain.copy()
    held[row] = 0.0
    path = monotone_alignment(held)
    above = [j for j in path[:row] if j is not None]
    below = [j for j in path[row + 1 :] if j is not None]
    return (above[-1] if above else 0), (below[0] if below else gain.shape[1] - 1)


# --- article-level candidates ------------------------------------------------------------------


@dataclass
class ArticleExample:
    """One labelled local article's candidate national articles (or lone clauses outside an
    article), each with its evidence; positive when it is a labelled national article."""

    province: str
    keys: list[tuple[str, str]]  # (doc_id, article label or clause_id)
    features: list[dict[str, float]]
    positive: list[bool]
    labelled: int


def _group(source: Clause) -> tuple[str, str]:
    return source.doc_id, source.article or source.clause_id


def clause_examples(study: Study) -> list[ArticleExample]:
    """The candidates as evals.lawref_links scores them (one per clause pair), for the baseline."""
    return [ArticleExample(ex.doc, [("", str(k)) for k in range(len(ex.candidates))],
                           [dict(c.features) for c in ex.candidates], list(ex.positive),
                           ex.labelled_sources) for ex in study.examples]  # fmt: skip


def article_examples(study: Study) -> list[ArticleExample]:
    """Per labelled article, its clause candidates grouped by national article, with the
    group's evidence (article_features)."""
    found = []
    lexicons = {doc: _ArticleTexts(sources) for doc, sources in study.sources.items()}
    for k, ex in enumerate(study.examples):
        doc, national = study.local_docs[k], study.national_docs[k]
        local, sources = study.local[doc], study.sources[doc]
        members = [c for c in local if c.article == study.local_articles[k]]
        groups: dict[tuple[str, str], list] = {}
        for c in ex.candidates:
            groups.setdefault(_group(sources[c.source]), []).append(c)
        texts = lexicons[doc]
        keys = list(groups)
        relative = texts.relative(" ".join(m.text for m in members), keys)
        features = [article_features(groups[key], local, members, texts, key, national) | {
            "art_lexical": rel} for key, rel in zip(keys, relative, strict=True)]  # fmt: skip
        positive = [key[0] == national and key[1] in study.labelled[k] for key in keys]
        found.append(ArticleExample(ex.doc, keys, features, positive, ex.labelled_sources))
    return found


class _ArticleTexts:
    """The source documents' articles as whole texts, for BM25 and bigram overlap of a whole
    local article against them (index.links.Lexicon over articles, not clauses)."""

    def __init__(self, sources: list[Clause]):
        texts: dict[tuple[str, str], list[str]] = {}
        for s in sources:
            texts.setdefault(_group(s), []).append(s.text)
        self.keys = list(texts)
        self.texts = {key: "".join(parts) for key, parts in texts.items()}
        self.lexicon = Lexicon([self.texts[key] for key in self.keys])
        self.at = {key: j for j, key in enumerate(self.keys)}
        self.vocab: dict[str, set[str]] = {}
        for key in self.keys:
            self.vocab.setdefault(key[0], set()).update(words(self.texts[key]))

    def relative(self, text: str, keys: list[tuple[str, str]]) -> list[float]:
        return self.lexicon.relative_scores(text, [self.at[key] for key in keys])

    def overlap(self, text: str, key: tuple[str, str]) -> float:
        grams = _bigrams(wording_key(text))
        return len(grams & _bigrams(wording_key(self.texts[key]))) / len(grams) if grams else 0.0

    def coverage(self, text: str, key: tuple[str, str]) -> float:
        """IDF-weighted share of the national article's words that the local text uses: a
        generic article (滥用职权、徇私舞弊…) is not covered by a local 查处 provision."""
        wanted = set(self.lexicon.counts[self.at[key]])
        total = sum(self.lexicon.idf[w] for w in wanted)
        used = set(words(text)) & wanted
        return sum(self.lexicon.idf[w] for w in used) / total if total else 0.0

    def novelty(self, text: str, doc: str) -> float:
        """Share of the text's words (two characters or more) the whole document never uses."""
        found = {w for w in words(text) if len(w) > 1}
        return len(found - self.vocab.get(doc, set())) / len(found) if found else 0.0


def _bigrams(text: str) -> set[str]:
    return {text[k : k + 2] for k in range(len(text) - 1)}


def article_features(
    pairs: list, local: list[Clause], members: list[Clause], texts: _ArticleTexts,
    key: tuple[str, str], national: str,
) -> dict[str, float]:  # fmt: skip
    """A national article's evidence for one local article: the best of each clause-pair
    feature, the same over the first paragraph only, how many of the local clauses find it
    lexically best, and of the whole local article its bigram overlap with the national
    article, the share of the national article's words it uses, and its novelty."""
    found = {name: max(c.features[name] for c in pairs) for name in FEATURES}
    first = [c for c in pairs if local[c.local].kind == "article"]
    found["first_lexical"] = max((c.features["lexical"] for c in first), default=0.0)
    found["first_overlap"] = max((c.features["overlap"] for c in first), default=0.0)
    best_of = {c.local for c in pairs if c.features["lexical"] >= 1.0}
    found["support"] = len(best_of) / len(members)
    found["support_count"] = float(len(best_of))
    whole = "".join(m.text for m in members)
    found["art_overlap"] = texts.overlap(whole, key)
    found["coverage"] = texts.coverage(whole, key)
    found["novelty"] = texts.novelty(whole, national)
    return found


# --- fitting and measuring, leave one province out -----------------------------------------------


def fit_logistic(examples: list[ArticleExample], names: tuple[str, ...]) -> dict:
    """training.link_model.fit over any features: the same balanced logistic regression by
    gradient descent, then the threshold (0.01 steps) that gets most articles right."""
    x = np.array([[f[n] for n in names] for ex in examples for f in ex.features])
    y = np.array([p for ex in examples for p in ex.positive], dtype=float)
    w, b = balanced_logistic(x, y)
    model = {"names": names, "weights": np.round(w, 4), "bias": round(float(b), 4)}
    tops = [_top(ex, model) for ex in examples]
    grid = np.round(np.arange(0.05, 1.0, THRESHOLD_STEP), 2)
    model["threshold"] = float(max(grid, key=lambda t: _correct(count(tops, float(t)))))
    return model


def scores(ex: ArticleExample, model: dict) -> np.ndarray:
    """The model's probability for each candidate of the article."""
    names = model["names"]
    x = np.array([[f[n] for n in names] for f in ex.features]).reshape(-1, len(names))
    return 1 / (1 + np.exp(-(x @ model["weights"] + model["bias"])))


def _top(ex: ArticleExample, model: dict) -> tuple[float, bool, bool]:
    """(best score, whether that candidate is labelled, whether the article has a source)."""
    found = scores(ex, model)
    if not len(found):
        return -1.0, False, ex.labelled > 0
    best = int(np.argmax(found))  # the first of equal scores, as the eval's stable sort
    return float(found[best]), bool(ex.positive[best]), ex.labelled > 0


def count(tops: list[tuple[float, bool, bool]], threshold: float) -> Tally:
    """The eval's counts (training.link_model.tally) from each article's best candidate."""
    t = Tally()
    for score, right, sourced in tops:
        t.sourced += sourced
        t.none_labelled += not sourced
        if score < threshold:
            t.none_said += 1
            t.none_right += not sourced
        else:
            t.given += 1
            t.right += right
    return t


def _correct(t: Tally) -> float:
    return sum(t.metrics().values())


def pooled(examples: list[ArticleExample], names: tuple[str, ...]) -> tuple[Tally, int]:
    """Each province measured with a model fitted on the others, the folds' counts added; and
    how many sourced articles have a labelled best candidate, threshold aside (what the
    ranking allows at most)."""
    total, ranked = Tally(), 0
    for held_out in sorted({ex.province for ex in examples}):
        model = fit_logistic([ex for ex in examples if ex.province != held_out], names)
        tops = [_top(ex, model) for ex in examples if ex.province == held_out]
        total += count(tops, model["threshold"])
        ranked += sum(right for _, right, _ in tops)
    return total, ranked


def sweep(
    examples: list[ArticleExample], names: tuple[str, ...], offsets: list[float]
) -> list[Tally]:
    """``pooled`` with each fold's threshold moved by each offset: whether a variant's gain
    holds along the trade-off or only where its threshold fell."""
    totals = [Tally() for _ in offsets]
    for held_out in sorted({ex.province for ex in examples}):
        model = fit_logistic([ex for ex in examples if ex.province != held_out], names)
        tops = [_top(ex, model) for ex in examples if ex.province == held_out]
        for n, offset in enumerate(offsets):
            totals[n] += count(tops, model["threshold"] + offset)
    return totals


def with_clause_kinds(study: Study, examples: list[ArticleExample]) -> list[ArticleExample]:
    """Clause examples with ``item`` (the local clause is a 项) and ``leadin`` (it ends in a
    colon and its article has 项: 禁止下列行为：)."""
    widened = []
    for k, (ex, raw) in enumerate(zip(examples, study.examples, strict=True)):
        local = study.local[study.local_docs[k]]
        items = any(c.kind == "item" and c.article == study.local_articles[k] for c in local)
        kinds = [(local[c.local].kind, items and local[c.local].text.rstrip().endswith(("：", ":")))
                 for c in raw.candidates]  # fmt: skip
        widened.append(ArticleExample(ex.province, ex.keys, [
            f | {"item": float(kind == "item"), "leadin": float(lead)}
            for f, (kind, lead) in zip(ex.features, kinds, strict=True)], ex.positive,
            ex.labelled))  # fmt: skip
    return widened


def fit_listwise(examples: list[ArticleExample], names: tuple[str, ...]) -> np.ndarray:
    """Weights of a softmax over each sourced article's candidates (its labelled ones sharing
    the target), by gradient descent: a ranking model only, it says nothing of "none"."""
    pairs = [(np.array([[f[n] for n in names] for f in ex.features]),
              np.array(ex.positive, float) / sum(ex.positive))
             for ex in examples if any(ex.positive)]  # fmt: skip
    return softmax_descent(pairs, len(names), LISTWISE_STEPS, 0.01)


def pooled_listwise(examples: list[ArticleExample], names: tuple[str, ...]) -> tuple[Tally, int]:
    """Rank each article's candidates by the listwise model; give the first when the pointwise
    model (fit_logistic) scores it over a threshold chosen, for this ranking, on the fitted
    provinces."""
    total, ranked = Tally(), 0
    grid = np.round(np.arange(0.05, 1.0, THRESHOLD_STEP), 2)
    for held_out in sorted({ex.province for ex in examples}):
        train = [ex for ex in examples if ex.province != held_out]
        w, point = fit_listwise(train, names), fit_logistic(train, names)
        fitted = [_listwise_top(ex, w, point) for ex in train]
        threshold = float(max(grid, key=lambda t: _correct(count(fitted, float(t)))))
        tops = [_listwise_top(ex, w, point) for ex in examples if ex.province == held_out]
        total += count(tops, threshold)
        ranked += sum(right for _, right, _ in tops)
    return total, ranked


def _listwise_top(ex: ArticleExample, w: np.ndarray, point: dict) -> tuple[float, bool, bool]:
    """_top with the listwise model's first candidate and the pointwise model's score of it."""
    if not ex.features:
        return -1.0, False, ex.labelled > 0
    best = int(np.argmax(np.array([[f[n] for n in point["names"]] for f in ex.features]) @ w))
    return float(scores(ex, point)[best]), bool(ex.positive[best]), ex.labelled > 0


# --- the order features, from a first model's scores -------------------------------------------


def order_features(
    study: Study, examples: list[ArticleExample], found: dict[int, np.ndarray], margin: float
) -> dict[int, list[dict[str, float]]]:
    """For the examples in ``found`` (example index → its candidates' first-model scores):
    per candidate, ``on_path`` (the monotone alignment of the regulation's articles to the
    law's, over scores − margin, takes it) and ``between`` (it lies between the law articles
    the neighbouring local articles are aligned to, this article left out)."""
    by_doc: dict[str, list[int]] = {}
    for k in found:
        by_doc.setdefault(study.local_docs[k], []).append(k)
    features = {}
    for doc, rows in by_doc.items():
        position = {c.article: n for n, c in reversed(list(enumerate(study.local[doc])))}
        rows.sort(key=lambda k: position[study.local_articles[k]])
        national = study.national_docs[rows[0]]
        rank = {c.article: c.article_rank for c in study.sources[doc] if c.doc_id == national}
        gain = np.zeros((len(rows), max(rank.values()) + 1))
        for i, k in enumerate(rows):
            for (d, art), score in zip(examples[k].keys, found[k], strict=True):
                if d == national and art in rank:
                    gain[i, rank[art]] = max(gain[i, rank[art]], score - margin)
        path = monotone_alignment(gain)
        for i, k in enumerate(rows):
            low, high = anchors(gain, i)
            features[k] = [
                {"on_path": float(d == national and rank.get(art) == path[i] is not None),
                 "between": float(d == national and art in rank and low <= rank[art] <= high)}
                for d, art in examples[k].keys
            ]  # fmt: skip
    return features


def pooled_two_stage(
    study: Study, examples: list[ArticleExample], first: tuple[str, ...],
    second: tuple[str, ...], widen: Callable,
) -> tuple[Tally, int]:  # fmt: skip
    """Evidence computed from a first model's scores (``widen(study, examples, scores)``; each
    province's scores by a model that never saw it, inside each fold too), then a second model
    over ``second`` (which may name it); the pooled tally and the ranked-right count."""
    provinces = sorted({ex.province for ex in examples})
    total, ranked = Tally(), 0
    for held_out in provinces:
        train = [p for p in provinces if p != held_out]
        widened = widen(study, examples, crossfit(examples, first, train, provinces))
        model = fit_logistic([ex for ex in widened if ex.province != held_out], second)
        tops = [_top(ex, model) for ex in widened if ex.province == held_out]
        total += count(tops, model["threshold"])
        ranked += sum(right for _, right, _ in tops)
    return total, ranked


def with_order(margin: float) -> Callable:
    """``widen`` adding the order features (order_features, gains = scores − ``margin``)."""

    def widen(study: Study, examples: list[ArticleExample], found: dict) -> list:
        extra = order_features(study, examples, found, margin)
        return [ArticleExample(ex.province, ex.keys,
                               [f | g for f, g in zip(ex.features, extra[k], strict=True)],
                               ex.positive, ex.labelled)
                for k, ex in enumerate(examples)]  # fmt: skip

    return widen


# --- abstaining: a second model says whether the first's best candidate is right ---------------


def crossfit(
    examples: list[ArticleExample], names: tuple[str, ...], train: list[str], provinces: list[str]
) -> dict[int, np.ndarray]:
    """Scores of the examples of ``provinces``, each province's by a model fitted on the
    ``train`` provinces other than itself."""
    found = {}
    for province in provinces:
        fitted = [ex for ex in examples if ex.province in train and ex.province != province]
        model = fit_logistic(fitted, names)
        found |= {k: scores(ex, model) for k, ex in enumerate(examples) if ex.province == province}
    return found


def top_evidence(ex: ArticleExample, found: np.ndarray, extra: list[dict] | None) -> dict:
    """What the abstaining model reads of an article: its best candidate's score and features,
    and the lead over the best other national article."""
    if not len(found):
        return {}
    order = np.argsort(-found, kind="stable")
    best = int(order[0])
    second = float(found[order[1]]) if len(order) > 1 else 0.0
    evidence = dict(ex.features[best]) | (extra[best] if extra else {})
    return evidence | {"top": float(found[best]), "lead": float(found[best]) - second,
                       "right": float(ex.positive[best])}  # fmt: skip


def pooled_abstain(
    study: Study, examples: list[ArticleExample], first: tuple[str, ...],
    judged: tuple[str, ...], margin: float | None = None,
) -> tuple[Tally, int]:  # fmt: skip
    """Rank with a model over ``first``; give the best candidate only when a second model over
    ``judged`` (its evidence, ``top_evidence``) says it is right. Both fitted on the other
    provinces, the second on scores the first gave provinces it never saw; ``margin``: add
    the order features (order_features) to what the second model reads."""
    provinces = sorted({ex.province for ex in examples})
    total, ranked = Tally(), 0
    for held_out in provinces:
        train = [p for p in provinces if p != held_out]
        found = crossfit(examples, first, train, train)
        model = fit_logistic([ex for ex in examples if ex.province in train], first)
        found |= {k: scores(ex, model) for k, ex in enumerate(examples)
                  if ex.province == held_out}  # fmt: skip
        extra = order_features(study, examples, found, margin) if margin is not None else {}
        judged_examples = []
        for k, ex in enumerate(examples):
            evidence = top_evidence(ex, found[k], extra.get(k))
            judged_examples.append(ArticleExample(
                ex.province, [("", "top")] if evidence else [], [evidence] if evidence else [],
                [bool(evidence.get("right"))] if evidence else [], ex.labelled))  # fmt: skip
        judge = fit_logistic([ex for ex in judged_examples if ex.province in train], judged)
        tops = [_top(ex, judge) for ex in judged_examples if ex.province == held_out]
        total += count(tops, judge["threshold"])
        ranked += sum(right for _, right, _ in tops)
    return total, ranked


def pooled_order_veto(
    study: Study, examples: list[ArticleExample], names: tuple[str, ...], rule: str
) -> tuple[Tally, int]:
    """Rank and threshold as usual, then say none when the best candidate breaks the document
    order: ``rule`` "path" keeps it only on the monotone alignment (of the scores less the
    threshold), "between" only between its neighbours' aligned law articles."""
    provinces = sorted({ex.province for ex in examples})
    total, ranked = Tally(), 0
    for held_out in provinces:
        model = fit_logistic([ex for ex in examples if ex.province != held_out], names)
        found = {k: scores(ex, model) for k, ex in enumerate(examples) if ex.province == held_out}
        extra = order_features(study, examples, found, model["threshold"])
        tops = []
        for k in found:
            score, right, sourced = _top(examples[k], model)
            if len(found[k]):
                best = extra[k][int(np.argmax(found[k]))]
                score = score if best["on_path" if rule == "path" else "between"] else -1.0
            tops.append((score, right, sourced))
        total += count(tops, model["threshold"])
        ranked += sum(right for _, right, _ in tops)
    return total, ranked


def gold_order(study: Study) -> tuple[int, int]:
    """How strictly the labels keep the law's order: (sourced articles, those on the largest
    order-keeping alignment of the labels, each article free to use any of its labels)."""
    keyed, found = [], {}
    for k, labelled in enumerate(study.labelled):
        keys = [(study.national_docs[k], a) for a in labelled] or [("", "")]
        keyed.append(ArticleExample("", keys, [{}] * len(keys), [], 0))
        found[k] = np.full(len(keys), 1.0 if labelled else 0.0)
    extra = order_features(study, keyed, found, 0.0)
    sourced = [k for k in found if study.labelled[k]]
    return len(sourced), sum(any(f["on_path"] for f in extra[k]) for k in sourced)


def supported_only(examples: list[ArticleExample]) -> list[ArticleExample]:
    """Keep a national article only when the local article's first paragraph is among its
    clause pairs or two local clauses or more find it lexically best (a 项 alone does not do)."""
    kept = []
    for ex in examples:
        keep = [i for i, f in enumerate(ex.features)
                if max(f["first_lexical"], f["first_overlap"]) > 0
                or f["support_count"] >= 2]  # fmt: skip
        kept.append(ArticleExample(ex.province, [ex.keys[i] for i in keep],
                                   [ex.features[i] for i in keep],
                                   [ex.positive[i] for i in keep], ex.labelled))  # fmt: skip
    return kept


def with_hubs(study: Study, examples: list[ArticleExample], found: dict[int, np.ndarray]):
    """``hub``: how many other articles of the same regulation have this national article as
    their best candidate under ``found`` (a law article drawing many local ones, as
    烟草专卖法 第四十条 draws 青岛's 查处 articles), over the regulation's article count."""
    tops: dict[str, list] = {}
    for k, ex in enumerate(examples):
        if k in found and len(found[k]):
            tops.setdefault(study.local_docs[k], []).append(ex.keys[int(np.argmax(found[k]))])
    widened = []
    for k, ex in enumerate(examples):
        doc_tops = tops.get(study.local_docs[k], [])
        own = ex.keys[int(np.argmax(found[k]))] if k in found and len(found[k]) else None
        share = [(doc_tops.count(key) - (key == own)) / max(len(doc_tops), 1) for key in ex.keys]
        features = [f | {"hub": h} for f, h in zip(ex.features, share, strict=True)]
        widened.append(ArticleExample(ex.province, ex.keys, features, ex.positive, ex.labelled))
    return widened


# --- the table ---------------------------------------------------------------------------------

BASE = tuple(FEATURES)
ARTICLE = (*BASE, "art_lexical")
NO_ORDER = tuple(n for n in ARTICLE if n != "order")


def variants(study: Study) -> list[tuple[str, Callable[[], tuple[Tally, int]]]]:
    """Each variant's name and how to measure it (pooled leave one province out)."""
    clauses, articles = clause_examples(study), article_examples(study)
    kinds = with_clause_kinds(study, clauses)
    return [
        ("clause pairs, the six shipped features (evals.lawref_links)",
         lambda: pooled(clauses, BASE)),
        ("clause pairs + ``item`` (the local clause is a 项)",
         lambda: pooled(kinds, (*BASE, "item"))),
        ("clause pairs + ``leadin`` (禁止下列行为： and the like)",
         lambda: pooled(kinds, (*BASE, "leadin"))),
        ("clause pairs + ``item`` + ``leadin``",
         lambda: pooled(kinds, (*BASE, "item", "leadin"))),
        ("national articles: best of each of the six over the article's pairs",
         lambda: pooled(articles, BASE)),
        ("articles + ``art_lexical`` (BM25 whole article vs whole article)",
         lambda: pooled(articles, ARTICLE)),
        ("articles + ``art_overlap`` (bigram share, whole articles)",
         lambda: pooled(articles, (*BASE, "art_overlap"))),
        ("articles + first-paragraph lexical and overlap",
         lambda: pooled(articles, (*BASE, "first_lexical", "first_overlap"))),
        ("articles + ``support`` (share of local clauses finding it best)",
         lambda: pooled(articles, (*BASE, "support"))),
        ("articles + ``novelty`` (words the law never uses)",
         lambda: pooled(articles, (*BASE, "novelty"))),
        ("articles + ``art_lexical`` + ``novelty``",
         lambda: pooled(articles, (*ARTICLE, "novelty"))),
        ("articles + ``coverage`` (IDF share of the national article's words it uses)",
         lambda: pooled(articles, (*ARTICLE, "coverage"))),
        ("articles, listwise ranking (six features), pointwise score for the threshold",
         lambda: pooled_listwise(articles, BASE)),
        ("articles + ``art_lexical``, listwise ranking, pointwise score for the threshold",
         lambda: pooled_listwise(articles, ARTICLE)),
        ("articles, only those the first paragraph or ≥ 2 clauses support, + ``art_lexical``",
         lambda: pooled(supported_only(articles), ARTICLE)),
        ("articles + ``art_lexical`` + ``hub`` (other local articles taking it first)",
         lambda: pooled_two_stage(study, articles, ARTICLE, (*ARTICLE, "hub"), with_hubs)),
        ("articles + ``art_lexical`` + ``on_path`` + ``between`` (margin 0.7)",
         lambda: pooled_two_stage(study, articles, ARTICLE, (*ARTICLE, "on_path", "between"),
                                  with_order(0.7))),
        ("the same without the clause-level ``order``",
         lambda: pooled_two_stage(study, articles, ARTICLE, (*NO_ORDER, "on_path", "between"),
                                  with_order(0.7))),
        ("articles + ``art_lexical`` + ``on_path`` (margin 0.7)",
         lambda: pooled_two_stage(study, articles, ARTICLE, (*ARTICLE, "on_path"),
                                  with_order(0.7))),
        ("order veto: none unless the best is on the monotone alignment (articles + art_lexical)",
         lambda: pooled_order_veto(study, articles, ARTICLE, "path")),
        ("order veto: none unless between its neighbours' aligned articles",
         lambda: pooled_order_veto(study, articles, ARTICLE, "between")),
        ("second model says whether the best is right: top score, lead",
         lambda: pooled_abstain(study, articles, ARTICLE, ("top", "lead"))),
        ("the same + novelty, art_lexical, support, first_lexical",
         lambda: pooled_abstain(study, articles, ARTICLE, ("top", "lead", "novelty",
                                                           "art_lexical", "support",
                                                           "first_lexical"))),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=ROOT / ".kb" / "lawref-links")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="pickle of the candidates (read when it exists, else written)",
    )
    args = parser.parse_args(argv)
    study = load_study(args.kb, args.cache) if args.cache else read_study(args.kb)
    sourced, on_path = gold_order(study)
    print(
        f"{len(study.examples)} labelled articles; {on_path} of {sourced} sourced ones lie on "
        "the largest order-keeping alignment of their labels to the law's articles"
    )
    print("| variant | top-1 P | top-1 R | none P | none R | ranked right (of 162) |")
    print("|---|---|---|---|---|---|")
    for name, measure in variants(study):
        t, ranked = measure()
        print(f"| {name} | {_cells(t)} | {ranked} |", flush=True)
    print("\nEach fold's threshold moved by an offset:")
    print(
        "| offset | clause pairs: P | R | none P | none R | articles + ``art_lexical``: P | R "
        "| none P | none R |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    offsets = [-0.02, 0.0, 0.02, 0.05]
    clauses = sweep(clause_examples(study), BASE, offsets)
    articles = sweep(article_examples(study), ARTICLE, offsets)
    for offset, a, b in zip(offsets, clauses, articles, strict=True):
        print(f"| {offset:+.2f} | {_cells(a)} | {_cells(b)} |")


def _cells(t: Tally) -> str:
    return " | ".join(f"{v:.3f}" for v in t.metrics().values())


if __name__ == "__main__":
    # Run from the module by its name, so that the cached pickle names its classes there.
    from evals.lawref_links_study import main as run

    run()
