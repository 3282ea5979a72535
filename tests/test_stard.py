"""STARD harness: the metric code against hand-computed values, the relevance rule on real
STARD names and lawrefbook titles, and the fixed train/validation split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.metrics import mrr_at, read_qrels, read_run, recall_at, score, write_qrels, write_run
from evals.stard import article_run, hit_article, law_key, load, name_key, split
from index.records import ClauseCitation
from index.search import Highlight, SearchHit
from ingest.pipeline import parse_file

SHARED = Path(__file__).resolve().parents[2] / "shared"
STARD = SHARED / "benchmarks" / "stard"
LAWREF = SHARED / "corpora" / "lawrefbook"
needs_shared = pytest.mark.skipif(not STARD.is_dir(), reason="../shared is not here")


def test_recall_and_mrr_by_hand():
    ranked = ["a", "x", "b", "y"]
    assert recall_at(ranked, {"a", "b", "c"}, 1) == pytest.approx(1 / 3)
    assert recall_at(ranked, {"a", "b", "c"}, 3) == pytest.approx(2 / 3)
    assert mrr_at(ranked, {"b"}, 10) == pytest.approx(1 / 3)
    assert mrr_at(ranked, {"b"}, 2) == 0.0
    assert mrr_at(ranked, {"z"}, 10) == 0.0


def test_score_averages_over_judged_queries_and_counts_missing_runs_as_empty():
    run = {"1": ["a", "b"], "2": ["c"] * 1 + [f"n{i}" for i in range(20)] + ["d"]}
    qrels = {"1": {"b"}, "2": {"d", "e"}, "3": {"f"}}
    # q1: R@10 1, R@100 1, MRR .5; q2: R@10 0, R@100 .5 (d at 22), MRR 0; q3: no run → 0
    assert score(run, qrels) == {
        "R@10": pytest.approx(1 / 3, abs=1e-4),
        "R@100": pytest.approx(1.5 / 3, abs=1e-4),
        "MRR@10": pytest.approx(0.5 / 3, abs=1e-4),
    }


def test_trec_files_round_trip(tmp_path):
    run, qrels = {"7": ["民法典#54", "劳动合同法#39"]}, {"7": {"劳动合同法#39"}}
    write_run(tmp_path / "run.trec", run, "t")
    write_qrels(tmp_path / "qrels.trec", qrels)
    assert (tmp_path / "run.trec").read_text(encoding="utf-8").splitlines()[1] == (
        "7 Q0 劳动合同法#39 2 -2 t"
    )
    assert read_run(tmp_path / "run.trec") == run
    assert read_qrels(tmp_path / "qrels.trec") == qrels


def _hit(title: str, label: str, path: list[str], clause_id: str = "c") -> SearchHit:
    citation = ClauseCitation(clause_id=clause_id, doc_id="d", doc_title=title, doc_number=None,
                              level="national", region=None)  # fmt: skip
    return SearchHit(**vars(citation), label=label, path=path, text="", units=[], targets=[],
                     score=0.0, highlight=Highlight(None, []))  # fmt: skip


def test_a_paragraph_counts_as_its_article_and_an_article_once():
    law = "中华人民共和国民法典"
    hits = [
        _hit(law, "", ["第二章 自然人", "第十八条 成年人为完全民事行为能力人"], "p"),
        _hit(law, "第十八条", ["第二章 自然人"], "a"),
        _hit(law, "（一）", ["第二章", "第二十七条 父母是未成年子女的监护人"], "i"),
        _hit(law, "第一章", [], "h"),
    ]
    assert article_run(hits) == ["民法典#18", "民法典#27", "clause:h"]
    assert hit_article("第一百三十三条之一", []) == "133-1"


@needs_shared
@pytest.mark.parametrize(
    ("name", "file", "label"),
    [
        ("中华人民共和国民法典第五十四条", "民法典/总则.md", "第五十四条"),
        ("劳动合同法第三十九条", "社会法/劳动合同法(2012-12-28).md", "第三十九条"),
        ("最高人民法院关于适用《民事诉讼法》的解释第五条",
         "司法解释/最高人民法院关于适用《民事诉讼法》的解释(2022-04-01).md", "第五条"),
        ("最高人民法院、最高人民检察院关于办理强奸、猥亵未成年人刑事案件适用法律若干问题的解释"
         "第一条",
         "司法解释/最高人民法院  最高人民检察院关于办理强奸、猥亵未成年人刑事案件"
         "适用法律若干问题的解释(2023-05-24).md", "第一条"),
    ],
)  # fmt: skip
def test_stard_names_match_lawrefbook_titles_as_parsed(name, file, label):
    document = parse_file(LAWREF / file)
    clause = next(c for c in document.clauses if c.label == label)
    hit = _hit(document.document.title, clause.label, clause.path)
    assert article_run([hit]) == [name_key(name)]


def test_law_key_ignores_the_state_prefix_marks_and_separators():
    assert law_key("最高人民法院关于适用《中华人民共和国民事诉讼法》的解释") == law_key(
        "最高人民法院关于适用《民事诉讼法》的解释"
    )
    assert law_key("中华人民共和国刑法修正案（十一）") == law_key("刑法修正案(十一)")
    assert law_key("劳动合同法") != law_key("劳动合同法实施条例")


@needs_shared
def test_every_dev_label_names_an_article_and_the_split_is_fixed_and_disjoint():
    queries = load(STARD / "dev.json")
    rows = json.loads((STARD / "dev.json").read_text(encoding="utf-8"))
    assert sum(len(q.articles) for q in queries) == sum(len(r["match_name"]) for r in rows)
    parts = split(queries)
    assert parts == split(list(reversed(queries)))  # order of the file does not matter
    validation = [q for q, part in parts.items() if part == "validation"]
    assert len(validation) == 373 and len(parts) - len(validation) == 870


def test_ranking_is_what_search_returns(tmp_path):
    """The eval's ranking() path gives search()'s clauses in search()'s order."""
    from index.kb import KnowledgeBase
    from index.search import Searcher
    from tests.fake_encoder import FakeEncoder

    corpus = Path(__file__).resolve().parents[1] / "corpus"
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest(sorted(corpus.iterdir())[:2])
    searcher = Searcher(kb)
    ids = dict(kb.store.db.execute("SELECT id, clause_id FROM clauses"))
    for mode in ("dense", "bm25", "hybrid"):
        for query in ("产教融合型企业能享受哪些优惠？", "职业教育", "“实训基地”"):
            hits = [h.clause_id for h in searcher.search(query, 20, mode=mode)]
            assert [ids[c] for c in searcher.ranking(query, 20, mode=mode)] == hits
            assert hits, (mode, query)
    kb.close()


def test_weighted_rrf_against_hand_computed_scores():
    """score = Σ w_list / (k + rank): a heavy dense weight lifts dense's first clause over the
    clause both lists hold, which plain RRF puts first."""
    from index.search import FUSION_WEIGHTS, _Candidate, _fuse

    def lists():
        dense = [_Candidate(c, ranks={"dense": r}) for r, c in enumerate([1, 3, 2], 1)]
        bm25 = [_Candidate(c, ranks={"bm25": r}) for r, c in enumerate([2, 4], 1)]
        return {"dense": dense, "bm25": bm25}

    plain = _fuse(lists(), {"dense": 1.0, "bm25": 1.0}, k=10)
    assert [c.clause for c in plain] == [2, 1, 3, 4]
    assert plain[0].score == pytest.approx(1 / 13 + 1 / 11)
    weighted = _fuse(lists(), {"dense": 1.8, "bm25": 0.2}, k=10)
    assert [c.clause for c in weighted] == [1, 2, 3, 4]
    assert [c.score for c in weighted] == pytest.approx(
        [1.8 / 11, 1.8 / 13 + 0.2 / 11, 1.8 / 12, 0.2 / 12]
    )
    assert weighted[1].ranks == {"dense": 3, "bm25": 1}
    assert sum(FUSION_WEIGHTS.values()) == pytest.approx(2.0)  # the scale of plain RRF


def test_fusion_replay_and_convex_combination_by_hand():
    from evals.stard_fusion import Hit, convex, rrf

    lists = {
        "dense": [Hit("a", "法#1", 0.9), Hit("b", "法#2", 0.8), Hit("c", "法#3", 0.5)],
        "bm25": [Hit("b", "法#2", 30.0), Hit("d", "法#4", 10.0)],
    }
    # min-max: dense a 1, b .75, c 0; bm25 b 1, d 0. w = .5: b .875, a .5, c 0, d 0
    assert convex(0.5)(lists) == ["b", "a", "c", "d"]
    assert convex(1.0)(lists)[:3] == ["a", "b", "c"]
    # RRF k=60, equal weights: b 1/62 + 1/61 first; a 1/61; d 1/62 ties c 1/63 → d
    assert rrf(0.5, 60)(lists) == ["b", "a", "d", "c"]
    assert rrf(0.0, 60)(lists)[:2] == ["b", "d"]


def test_a_fused_eval_mode_sets_the_fusion_for_its_run_only():
    import index.search as search
    from evals.stard import searched_as

    def fusion():
        return search.FUSION_WEIGHTS, search.RRF_K

    shipped = fusion()
    with searched_as("hybrid@w0.7k30") as mode:
        weights, k = fusion()
        assert mode == "hybrid" and k == 30
        assert weights == pytest.approx({"dense": 1.4, "bm25": 0.6})
    assert fusion() == shipped
    with searched_as("dense") as mode:
        assert mode == "dense"


def test_lists_collected_on_another_kb_are_refused(tmp_path):
    """Clause ids name a build: lists of two builds cannot be fused, so the cache says so."""
    from evals.stard_fusion import StaleLists, check_stamp, read_lists

    for name in ("dense", "bm25"):
        check_stamp(tmp_path / f"{name}.jsonl", "aaaa")  # a new list is stamped
        (tmp_path / f"{name}.jsonl").write_text('{"query_id": "1", "hits": []}\n')
    assert set(read_lists(tmp_path)) == {"dense", "bm25"}
    with pytest.raises(StaleLists, match=r"bm25\.jsonl: collected on KB aaaa"):
        check_stamp(tmp_path / "bm25.jsonl", "bbbb")
    (tmp_path / "bm25.kb").write_text("bbbb\n")
    with pytest.raises(StaleLists, match="not collected on one KB"):
        read_lists(tmp_path)
    (tmp_path / "bm25.kb").unlink()  # a list of unknown origin
    with pytest.raises(StaleLists, match="not collected on one KB"):
        read_lists(tmp_path)
