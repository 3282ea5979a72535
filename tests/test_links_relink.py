"""Relinking: the fast candidate path against the per-pair reference on real documents (the
clause ranking and the article ranking), a revised source document relinking every document
that draws on it, and documents prepared for linking kept by content across changes (never
served stale); the shortcuts of the write path (partial sort, pairs that cannot be stored,
batched reads, documents kept per KB) against what they stand for."""

from __future__ import annotations

import math
import random
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pytest

from index import link_evidence
from index import links as links_module
from index.alignment import bigram_codes, pair_wording, smith_waterman
from index.kb import KnowledgeBase
from index.links import (
    Candidate,
    Lexicon,
    Linker,
    article_keys,
    best_by_group,
    link_model,
    link_score,
    pair_features,
    rank_score,
)
from tests.conftest import SEEDS, shared
from tests.fake_encoder import FakeEncoder
from training.link_model import clause_ranking

# The shipped model deciding by clause pairs, and an article ranking (weights of the order
# evals.lawref_links fits: lexical and overlap rank most), per local article or per clause.
CLAUSES = clause_ranking(link_model())
RANKS = {"cosine": 0.4, "overlap": 2.4, "alignment": 1.2, "relation": 1.2, "order": 1.6,
         "lexical": 4.0}  # fmt: skip
POINTS = {"cosine": 0.2, "overlap": 0.9, "alignment": 0.9, "relation": 1.6, "order": 1.3,
          "lexical": 1.5}  # fmt: skip
ARTICLES = {
    "format": 2, "ranking": "articles", "clauses": CLAUSES["clauses"],
    "articles": {"local_unit": "article", "rank_weights": RANKS, "weights": POINTS,
                 "bias": -3.2, "threshold": 0.72},
}  # fmt: skip
PER_CLAUSE = {**ARTICLES, "articles": {**ARTICLES["articles"], "local_unit": "clause"}}
# The article ranking with a clause-level gate: the clause model at its own threshold.
GATED = {**ARTICLES, "articles": {**ARTICLES["articles"], "gate": CLAUSES["clauses"]}}
MODELS = {"clauses": CLAUSES, "articles": ARTICLES, "articles-per-clause": PER_CLAUSE,
          "articles-gated": GATED}  # fmt: skip

NATIONAL = "323ee34b1f8e"  # 职业教育产教融合赋能提升行动实施方案 (000)
SHAOXING = "4a5ddbd56c23"  # 003: draws on 000 as a nearest document only, citing it not
CHONGQING = "14af87b5082c"  # 004: implements 000
# Local regulations carrying out a national law, with the law (lawrefbook 实施办法 pairs), and
# two more laws, so that more documents lie above a local one than its nearest.
PAIRS = (
    "DLC/北京地方法规/地方性法规/北京/北京市实施《气象法》办法(2019-07-26).md",
    "行政法/气象法(2016-11-07).md",
    "社会法/工会法(2021-12-24).md",
    "DLC/北京地方法规/地方性法规/北京/北京市实施《工会法》办法.md",
    "社会法/归侨侨眷权益保护法(2009-08-27).md",
    "社会法/公益事业捐赠法(1999-06-28).md",
)


def test_pair_wording_scores_equal_smith_waterman():
    """The padded anti-diagonal kernel against the row-by-row one, either text the longer."""
    rng = random.Random(11)
    texts = ["".join(rng.choice("甲乙丙丁") for _ in range(rng.randint(0, 40))) for _ in range(60)]
    sources = link_evidence.prepare(texts, [()] * len(texts))
    second = (sources.rcodes, sources.code_starts, sources.grams, sources.gram_starts)
    for _ in range(300):
        text = "".join(rng.choice("甲乙丙丁") for _ in range(rng.randint(0, 40)))
        local = link_evidence.prepare([text], [()])
        first = (local.codes, local.code_starts, local.grams, local.gram_starts)
        chosen = rng.sample(range(len(texts)), 12)
        expected = [smith_waterman(text, texts[k]).score for k in chosen]
        left, right = np.zeros(12, np.int64), np.array(chosen, np.int64)
        assert pair_wording(first, second, left, right)[0].tolist() == expected, text


def _monotone_pairs_reference(cosine, relation_weights):
    """index.links._monotone_pairs as first written: the recurrence cell by cell."""
    implemented = [j for j, w in enumerate(relation_weights) if w == 1.0]
    if not implemented:
        return set()
    columns = np.array(implemented)
    sims = cosine[:, columns]
    runner_up = np.sort(sims, axis=1)[:, -2:-1] if len(columns) > 1 else 0.0
    gain = np.maximum(sims - np.maximum(links_module.ORDER_MIN_COSINE, runner_up), 0.0)
    n, m = gain.shape
    best = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best[i, j] = max(best[i, j - 1], best[i - 1, j] + gain[i - 1, j - 1])
    pairs, i, j = set(), n, m
    while i and j:
        if best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            if gain[i - 1, j - 1] > 0:
                pairs.add((i - 1, int(columns[j - 1])))
            i -= 1
    return pairs


def _rank_sources_reference(local_texts, local_vectors, source_texts, source_vectors, weights):
    """index.links.rank_sources as first written: pair_features per pair, words cut here."""
    cosine = local_vectors @ source_vectors.T
    order = _monotone_pairs_reference(cosine, weights)
    assert order == links_module._monotone_pairs(cosine, weights)
    lexicon = Lexicon(source_texts)
    per_local = []
    for i, text in enumerate(local_texts):
        if links_module.is_own_document_clause(text):
            per_local.append([])
            continue
        top = np.argsort(-cosine[i])[: links_module.DENSE_CANDIDATES]
        chosen = list(dict.fromkeys([*top.tolist(), *(j for (a, j) in order if a == i)]))
        candidates = []
        for j, lex in zip(chosen, lexicon.relative_scores(text, chosen), strict=True):
            features = pair_features(text, source_texts[j], float(cosine[i, j]))
            features |= {"relation": weights[j], "order": float((i, j) in order), "lexical": lex}
            candidates.append(Candidate(i, j, features, link_score(features)))
        per_local.append(sorted(candidates, key=lambda c: -c.score))
    return per_local


@pytest.fixture(scope="module")
def pairs_kb(tmp_path_factory):
    lawref = shared("corpora/lawrefbook")
    kb = KnowledgeBase(tmp_path_factory.mktemp("pairs") / "kb", encoder=FakeEncoder())
    kb.ingest([*SEEDS.values(), *(lawref / name for name in PAIRS)])
    return kb


def test_candidates_equal_the_per_pair_reference(pairs_kb):
    """Every local document's candidates, features, scores and order, on the seeds and on
    Beijing's 实施办法 of two national laws: the fast path (stored words, one alignment
    call per clause, cached sources) against the reference."""
    linker = Linker(pairs_kb.store, CLAUSES)
    compared = kept = 0
    for doc_id, doc, links in _local_documents(linker):
        local, sources, ranked = linker.candidates(doc, links)
        vectors = [linker._measures_of(d)[1] for d in linker.source_documents(doc, links)]
        weights = [w for d, w in linker.source_documents(doc, links).items()
                   for _ in linker._measures_of(d)[0]]  # fmt: skip
        expected = _rank_sources_reference(
            [c["text"] for c in local], linker._measures_of(doc_id)[1],
            [c["text"] for c in sources], np.vstack(vectors), weights,
        )  # fmt: skip
        for found, wanted in zip(ranked, expected, strict=True):
            assert [c.source for c in found] == [c.source for c in wanted], doc_id
            for a, b in zip(found, wanted, strict=True):
                assert list(a.features.items()) == list(b.features.items())  # same floats
                assert a.score == b.score
        # What is stored: the first SOURCES_KEPT over the threshold, the rest never made.
        threshold = CLAUSES["clauses"]["threshold"]
        stored = linker.candidates(doc, links, links_module.SOURCES_KEPT, threshold)[2]
        for found, wanted in zip(stored, expected, strict=True):
            wanted = [c for c in wanted if c.score >= threshold][: links_module.SOURCES_KEPT]
            assert [(c.source, c.score, c.features) for c in found] == [
                (c.source, c.score, c.features) for c in wanted
            ]
        kept += sum(len(r) for r in stored)
        compared += sum(len(r) for r in ranked)
    assert compared > 2000  # the pairs' articles and the seeds' measures, 20 candidates each
    assert 0 < kept < compared


def _article_reference(store, doc, links, model):
    """The article ranking one local unit at a time, from every pair the clause ranking
    makes (nothing pruned): per local clause, (source group, the group's listwise score, its
    pointwise score, the listwise score of the clause's best pair in it, the best score of
    the clause's pairs in it under the model's gate (inf without one), that pair) by falling
    group score, and the pointwise score of its unit's first group (None: no pairs)."""
    local, sources, ranked = Linker(store, CLAUSES).candidates(doc, links)
    part, keys = model["articles"], article_keys(sources)
    gate = part.get("gate")
    units = (
        article_keys(local) if part["local_unit"] == "article" else [c["clause_id"] for c in local]
    )
    pairs: dict[str, list[Candidate]] = {}
    for unit, found in zip(units, ranked, strict=True):
        pairs.setdefault(unit, []).extend(found)
    per_local = []
    for i, unit in enumerate(units):
        groups = best_by_group(pairs[unit], [keys[c.source] for c in pairs[unit]])
        order = sorted(groups, key=lambda g: -rank_score(groups[g], part))
        first = link_score(groups[order[0]], part) if order else None
        rows = []
        for g in order:
            mine = [c for c in ranked[i] if keys[c.source] == g]
            if mine:
                best = max(mine, key=lambda c: rank_score(c.features, part))
                gated = math.inf if gate is None else max(link_score(c.features, gate)
                                                          for c in mine)  # fmt: skip
                rows.append((g, rank_score(groups[g], part), link_score(groups[g], part),
                             rank_score(best.features, part), gated, best))  # fmt: skip
        per_local.append((rows, first))
    return keys, per_local


def _local_documents(linker: Linker):
    """Each local document the linker knows, with its stored document links."""
    for doc_id, doc in linker.documents.items():
        if doc["level"] != "national":
            yield doc_id, doc, linker.stored_links(doc_id)


class AlignedPairs:
    """Counts the pairs ``SourceRun.wording`` aligns while ``counting`` is on."""

    def __init__(self):
        self.pairs = 0

    @contextmanager
    def counting(self, monkeypatch):
        wording = link_evidence.SourceRun.wording

        def counted(run, local, left, right):
            self.pairs += len(left)
            return wording(run, local, left, right)

        with monkeypatch.context() as patched:
            patched.setattr(link_evidence.SourceRun, "wording", counted)
            yield


def _as_rows(found, keys, reference_rows, part):
    """The product's candidates of one clause in the reference's terms (ties in any order)."""
    scores = {g: r for g, r, *_ in reference_rows}
    return [(keys[c.source], scores[keys[c.source]], c.score, rank_score(c.features, part))
            for c in found]  # fmt: skip


@pytest.mark.parametrize("name", ["articles", "articles-per-clause", "articles-gated"])
def test_article_candidates_equal_the_group_reference(pairs_kb, monkeypatch, name):
    """The article ranking's fast path (groups gathered in numpy, pairs of units that cannot
    reach the threshold left unaligned) against the reference over every pair: the same
    groups in the same order with the same scores and best pairs, and what is stored is the
    reference's first SOURCES_KEPT over the threshold of units whose first group clears it
    (with a gate, of the groups where one of the clause's own pairs clears the gate: it does
    keep a clause off an article it would have linked to without it). So the bound of
    ``_units_may_reach`` never prunes a pair that would have been linked; and it does prune
    (fewer pairs aligned than made)."""
    model = MODELS[name]
    part, threshold = model["articles"], model["articles"]["threshold"]
    linker = Linker(pairs_kb.store, model)
    gate = part["gate"]["threshold"] if "gate" in part else -math.inf
    made = stored_count = said_none = gated_off = 0
    aligned = AlignedPairs()
    for doc_id, doc, links in _local_documents(linker):
        keys, expected = _article_reference(pairs_kb.store, doc, links, model)
        ranked = linker.candidates(doc, links)[2]
        for found, (rows, _) in zip(ranked, expected, strict=True):
            wanted = [(g, r, p, pr) for g, r, p, pr, *_ in rows]
            assert _as_rows(found, keys, rows, part) == wanted, doc_id
            best = {g: c for g, *_, c in rows}
            for c in found:  # the same pair features, float for float
                assert rank_score(c.features, part) == rank_score(best[keys[c.source]].features,
                                                                  part)  # fmt: skip
        with aligned.counting(monkeypatch):
            stored = linker.candidates(doc, links, links_module.SOURCES_KEPT, threshold)[2]
        for found, (rows, first) in zip(stored, expected, strict=True):
            given = [] if first is None or first < threshold else [
                row for row in rows if row[2] >= threshold
            ]  # fmt: skip
            kept = [r[:4] for r in given if r[4] >= gate][: links_module.SOURCES_KEPT]
            assert _as_rows(found, keys, rows, part) == kept, doc_id
            gated_off += kept != [r[:4] for r in given][: links_module.SOURCES_KEPT]
            stored_count += bool(kept)
            said_none += first is not None and first < threshold
        made += sum(len(r) for r in Linker(pairs_kb.store, CLAUSES).candidates(doc, links)[2])
    assert stored_count and said_none  # both decisions occur
    assert bool(gated_off) == ("gate" in part)  # the gate keeps some clauses off
    assert 0 < aligned.pairs < made  # units that cannot link are not aligned


def test_the_article_bound_holds_for_every_unit(pairs_kb):
    """``_units_may_reach`` is an upper bound: a unit it rules out has no group scoring the
    threshold once every pair is aligned (checked on every local unit of the pairs)."""
    part = ARTICLES["articles"]
    threshold = part["threshold"]
    linker = Linker(pairs_kb.store, CLAUSES)
    ruled_out = live = 0
    for doc_id, doc, links in _local_documents(linker):
        local, sources, ranked = linker.candidates(doc, links)
        keys, units = article_keys(sources), article_keys(local)
        pairs: dict[str, list[Candidate]] = {}
        for unit, found in zip(units, ranked, strict=True):
            pairs.setdefault(unit, []).extend(found)
        for found in pairs.values():
            if not found:
                continue
            named = list(dict.fromkeys(keys[c.source] for c in found))  # the unit's groups
            left = np.zeros(len(found), np.int64)  # one unit
            right = np.array([named.index(keys[c.source]) for c in found], np.int64)
            grouped = links_module._Groups(left, right, np.zeros(1, np.int64),
                                           np.arange(len(named)))  # fmt: skip
            known = {f: np.array([c.features[f] for c in found])
                     for f in ("cosine", "relation", "order", "lexical")}  # fmt: skip
            reach = links_module._units_may_reach(known, grouped, threshold, part)
            groups = best_by_group(found, [keys[c.source] for c in found])
            best = max(link_score(g, part) for g in groups.values())
            if not reach.any():
                assert best < threshold, doc_id
                ruled_out += 1
            else:
                live += 1
    assert ruled_out and live


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_revised_source_relinks_every_document_that_draws_on_it(tmp_path, monkeypatch, name):
    """The national plan's text changes, its title not (the same document): Shaoxing's plan,
    whose sources hold it as a nearest document though it does not cite it, is relinked with
    Chongqing's, and the links equal those of the revised files ingested in one batch (under
    either ranking)."""
    monkeypatch.setattr(links_module, "link_model", lambda: MODELS[name])
    link_evidence.forget()  # another run of this test prepared the revised plan already
    relinked: list[str] = []
    replace = links_module.Store.replace_clause_links
    monkeypatch.setattr(links_module.Store, "replace_clause_links",
                        lambda self, doc_id, rows: (relinked.append(doc_id),
                                                    replace(self, doc_id, rows))[1])  # fmt: skip
    national = tmp_path / SEEDS["000"].name
    text = SEEDS["000"].read_text(encoding="utf-8")
    national.write_text(text, encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "steps", encoder=FakeEncoder())
    kb.ingest([national, SEEDS["003"], SEEDS["004"]])
    cited = {r["target"] for r in kb.store.doc_links(SHAOXING)}
    assert NATIONAL in kb.store.doc_sources()[SHAOXING] and NATIONAL not in cited
    title, body = text.split("\n", 1)
    national.write_text(title + "\n" + body.replace("产教融合", "产教深度融合"), encoding="utf-8")
    relinked.clear()
    prepared: list[list[str]] = []  # the texts of each document prepared (not kept) for links
    prepare = link_evidence.prepare

    def counted(texts, found):
        prepared.append(texts)
        return prepare(texts, found)

    monkeypatch.setattr(link_evidence, "prepare", counted)
    report = kb.ingest([national])
    assert report.updated == [NATIONAL]  # the same document, revised
    assert {SHAOXING, CHONGQING} <= set(relinked)
    # Kept by content: the revised plan (same doc_id) is prepared again, the local documents
    # relinked are not (kept from the ingest before); the links equal a cold start's.
    assert any("产教深度融合" in t for texts in prepared for t in texts)
    local_texts = {c["text"] for d in (SHAOXING, CHONGQING) for c in kb.store.clauses_of(d)}
    assert not any(local_texts & set(texts) for texts in prepared)
    link_evidence.forget()
    batch = KnowledgeBase(tmp_path / "batch", encoder=FakeEncoder())
    batch.ingest([national, SEEDS["003"], SEEDS["004"]])
    assert _clause_links(kb) == _clause_links(batch)


def test_prepared_documents_are_kept_by_content():
    """The same clause texts and words give the kept preparation; a changed text or word
    gives a new one, whatever document it belongs to."""
    texts, words = ["第一条 为了规范会计行为。", "第二条 会计机构"], [("规范", "会计"), ("会计",)]
    kept = link_evidence.prepared(texts, words)
    assert link_evidence.prepared(list(texts), list(words)) is kept
    changed = link_evidence.prepared(["第一条 为了规范审计行为。", texts[1]], words)
    assert changed is not kept and changed.keys[0] == "第一条为了规范审计行为。"
    assert link_evidence.prepared(texts, [("规范",), ("会计",)]) is not kept
    split = ["第一条 为了规范会计行为。第二条", " 会计机构"]  # the same characters, split elsewhere
    assert link_evidence.prepared(split, words) is not kept


def _clause_links(kb: KnowledgeBase) -> list[tuple]:
    rows = kb.store.db.execute(
        "SELECT clause_id, source_id, rank, round(score, 6), kind, diff FROM clause_links"
    )
    return sorted(map(tuple, rows))


def test_a_document_left_alone_keeps_its_nearest(pairs_kb):
    """The shortcut of ``_to_relink``: for each local document and each document above it,
    as if that one had just come (the nearest recorded being those without it), "kept" only
    when it is not among the nearest in full."""
    linker = Linker(pairs_kb.store)
    checked = kept = 0
    for doc_id, doc in linker.documents.items():
        if doc["level"] == "national":
            continue
        higher = linker._higher_documents(doc)
        nearest = set(linker._nearest(doc))
        for came in higher:
            others = [d for d in higher if d != came]  # the nearest before it came
            sims = np.vstack([linker.centroids[d] for d in others]) @ linker.centroids[doc_id]
            before = {others[i] for i in np.argsort(-sims)[: links_module.NEAREST_DOCS]}
            if linker._nearest_kept(doc_id, before, {came}):
                assert came not in nearest, (doc_id, came)
                kept += 1
            checked += 1
    assert kept and kept < checked  # both answers occur


def test_closest_equals_the_full_sort():
    """``_closest`` against ``np.argsort``'s first k, on rows with ties (rounded cosines, as
    when a clause is repeated among the sources), rows without, and rows shorter than k + 1."""
    rng = np.random.default_rng(1)  # a seed whose ties a partial sort alone orders otherwise
    for width in (1, 5, 20, 21, 22, 60, 700, 3000):
        cosine = rng.standard_normal((300, width)).astype(np.float32)
        cosine[::2] = np.round(cosine[::2], 1)  # ties on even rows, many on every third
        cosine[::3] = np.round(cosine[::3])
        expected = np.argsort(-cosine, axis=1)[:, :20]
        assert links_module._closest(cosine, 20).tolist() == expected.tolist(), width


def test_prepare_equals_its_definition_per_clause(pairs_kb):
    """The document-wide arrays of ``prepare`` against each clause's own: ``bigram_codes``,
    the sorted word ids with their counts, the length, the query in a set's order."""
    linker = Linker(pairs_kb.store)
    doc_id = next(d for d, doc in linker.documents.items() if doc["level"] != "national")
    clauses = linker._measures_of(doc_id)[0]
    ids, stored = pairs_kb.store.bm25_rows([c["id"] for c in clauses])
    by_id = dict(zip(ids.tolist(), stored, strict=True))
    texts = [c["text"] for c in clauses] + ["", "甲", "  ", "甲乙甲乙"]
    words = [tuple(by_id[c["id"]].split()) for c in clauses] + [(), ("甲",), (), ("甲", "乙", "甲")]
    p = link_evidence.prepare(texts, words)
    word_ids = link_evidence._WORD_IDS
    for k, found in enumerate(words):
        codes = p.codes[p.code_starts[k] : p.code_starts[k + 1]]
        assert p.keys[k] == link_evidence.wording_key(texts[k])
        grams = p.grams[p.gram_starts[k] : p.gram_starts[k + 1]]
        assert grams.tolist() == bigram_codes(codes).tolist()
        span = slice(p.term_starts[k], p.term_starts[k + 1])
        tally = sorted(Counter(word_ids[w] for w in found).items())
        assert list(zip(p.terms[span].tolist(), p.counts[span].tolist(), strict=True)) == tally
        assert p.lengths[k] == len(found)
        query = p.queries[p.query_starts[k] : p.query_starts[k + 1]]
        assert query.tolist() == [word_ids[w] for w in set(found)]
    vocabulary, frequency = np.unique(p.terms, return_counts=True)
    assert p.vocabulary.tolist() == vocabulary.tolist()
    assert p.frequency.tolist() == frequency.tolist()


def test_pairs_that_cannot_be_stored_are_not_aligned(pairs_kb, monkeypatch):
    """``_may_reach`` bounds the score: every candidate of every local document that scores
    the threshold keeps its place, some never could (they are left unaligned when only what
    is stored is asked for)."""
    threshold = CLAUSES["clauses"]["threshold"]
    linker = Linker(pairs_kb.store, CLAUSES)
    reached = left_out = pairs = 0
    aligned = AlignedPairs()
    for doc_id, doc, links in _local_documents(linker):
        for candidates in linker.candidates(doc, links)[2]:
            for c in candidates:
                known = {f: np.array([c.features[f]]) for f in ("cosine", "relation", "order")}
                known["lexical"] = np.array([c.features["lexical"]])
                live = bool(links_module._may_reach(known, threshold, CLAUSES["clauses"])[0])
                assert live or c.score < threshold, (doc_id, c)
                reached += c.score >= threshold
                left_out += not live
                pairs += 1
        with aligned.counting(monkeypatch):
            linker.candidates(doc, links, links_module.SOURCES_KEPT, threshold)
    assert reached and left_out
    assert aligned.pairs == pairs - left_out


def test_batched_reads_equal_one_document_reads(pairs_kb):
    """``Store.clause_vectors_of`` gives each document's ``clause_vectors``, bit for bit."""
    store = pairs_kb.store
    ids = [d["doc_id"] for d in store.documents()]
    batched = store.clause_vectors_of([*ids, ids[0], "no-such-document"])
    assert batched["no-such-document"][0] == []
    for doc_id in ids:
        clauses, vectors = store.clause_vectors(doc_id)
        found, matrix = batched[doc_id]
        assert [tuple(c) for c in found] == [tuple(c) for c in clauses]
        assert matrix.dtype == vectors.dtype and matrix.tobytes() == vectors.tobytes()


@pytest.mark.parametrize("name", ["clauses", "articles"])
def test_relinks_in_groups_give_the_same_rows(pairs_kb, monkeypatch, name):
    """Documents relinked in groups read in batches, with fewer kept than a group needs (so
    some are read again one by one), get the rows of documents linked one at a time."""
    monkeypatch.setattr(links_module, "link_model", lambda: MODELS[name])
    linker = Linker(pairs_kb.store)
    local = sorted(d for d, doc in linker.documents.items() if doc["level"] != "national")
    expected = {d: linker._clause_link_rows(linker.documents[d], linker.stored_links(d))
                for d in local}  # fmt: skip
    monkeypatch.setattr(links_module, "MEASURES_KEPT", 3)
    links_module._kept_measures(pairs_kb.store).clear()
    linker, found, groups = Linker(pairs_kb.store), {}, 0
    for group in linker._relink_groups(local):
        groups += 1
        for doc_id, links in group:
            found[doc_id] = linker._clause_link_rows(linker.documents[doc_id], links)
    assert found == expected and groups > 1


def test_documents_kept_per_kb_follow_its_rows(tmp_path):
    """A document read for linking is kept across changes, and read again when its content
    hash changes (another writer revised it) or when a change names it."""
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["000"], SEEDS["003"]])
    first = Linker(kb.store)._measures_of(SHAOXING)
    assert Linker(kb.store)._measures_of(SHAOXING)[0] is first[0]  # kept, not read again
    with kb.store.transaction():
        kb.store.db.execute(
            "UPDATE clauses SET text = text || '（修订）' WHERE id = ?", (first[0][0]["id"],)
        )
        kb.store.db.execute("UPDATE documents SET content_hash = 'x' WHERE doc_id = ?", (SHAOXING,))
    assert Linker(kb.store)._measures_of(SHAOXING)[0][0]["text"].endswith("（修订）")
    kept = links_module._kept_measures(kb.store)
    Linker(kb.store)._measures_of(NATIONAL)
    before = kept[NATIONAL]
    with kb.store.transaction():
        Linker(kb.store).refresh({NATIONAL}, {})
    assert kept.get(NATIONAL) is not before  # dropped by the change, read again if needed
