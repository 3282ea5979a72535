"""Search on the real KB of corpus/ (real model, FAISS, SQLite): what each kind of user needs."""

from __future__ import annotations

from index.filters import Filters
from index.search import Searcher


def top(kb, query, k=5, **filters):
    return Searcher(kb).search(query, k, Filters(**filters))


def test_researcher_question_finds_the_tax_clauses(corpus_kb):
    hits = top(corpus_kb, "产教融合型企业能享受哪些税收优惠？")
    texts = [h.text for h in hits]
    assert any("抵免当年应缴教育费附加" in t for t in texts[:3])
    first = hits[0]
    assert first.doc_title and first.level in {"national", "provincial", "municipal"}
    assert first.highlight.sentence is not None


def test_result_carries_citation_fields(corpus_kb):
    hit = top(corpus_kb, "建设用地按教育用地管理", region="重庆")[0]
    assert hit.doc_number == "渝发改社会〔2023〕1271号"
    assert hit.region == "重庆市" and hit.level == "provincial"
    assert hit.label == "13．"


def test_official_sees_only_their_region(corpus_kb):
    hits = top(corpus_kb, "人社局", k=30, unit="市人社局", region="绍兴")
    assert hits and all(h.region == "绍兴市" for h in hits)
    assert all("绍兴市人力资源和社会保障局" in {u["canonical"] for u in h.units} for h in hits)


def test_exact_wording_is_found_across_documents_and_first(corpus_kb):
    hits = top(corpus_kb, "风险可控、商业可持续性", k=10)
    docs = {h.doc_id for h in hits[:2]}
    assert len(docs) == 2  # national measure and Chongqing's copy of it
    assert all("风险可控、商业可持续性" in h.text for h in hits[:2])
    assert all(h.matched_by.get("phrase") for h in hits[:2])
    span = hits[0].highlight.spans[0]
    assert hits[0].text[span[0] : span[1]] == "风险可控、商业可持续性"


def test_quoted_query_returns_only_exact_matches(corpus_kb):
    hits = top(corpus_kb, "“组合式激励”", k=20)
    assert len(hits) >= 3
    assert all("组合式激励" in h.text.replace("\n", "") for h in hits)


def test_dense_finds_paraphrase_without_shared_words(corpus_kb):
    hits = Searcher(corpus_kb).search("金融机构给职业教育项目放贷", 10, mode="dense")
    assert "中长期贷款" in hits[0].text
