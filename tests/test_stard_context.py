"""The contextual window text and the sub-corpus of the STARD context experiment."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from evals.stard_context import Window, _contextual, in_context, sub_corpus


def test_a_window_in_context_carries_its_law_headings_and_label():
    text = in_context(
        "中华人民共和国公务员法", ["第四章 录用"], "第二十六条", "下列人员不得录用为公务员："
    )
    assert text == "中华人民共和国公务员法 第四章 录用 第二十六条 下列人员不得录用为公务员："
    assert in_context("某法", [], "", "正文") == "某法 正文"


def _windows(doc_id: str, articles: list[str]) -> list[Window]:
    return [Window(f"{doc_id}{n}", a, doc_id, "t", "c") for n, a in enumerate(articles)]


def test_sub_corpus_keeps_labelled_documents_whole_then_fills_with_others():
    windows = _windows("a", ["a#1", "a#2"]) + _windows("b", ["b#1"]) + _windows("c", ["c#1"] * 3)
    kept = sub_corpus(windows, {"a#2"}, size=2)
    assert [w.doc_id for w in kept] == ["a", "a"]
    grown = sub_corpus(windows, {"a#2"}, size=3)
    assert len(grown) > 2 and {w.doc_id for w in grown[:2]} == {"a"}
    assert len({w.doc_id for w in grown}) == 2  # one more document, whole
    assert sub_corpus(windows, {"a#2"}, size=3) == grown  # the draw is seeded


class _Counting:
    """An encoder stand-in that counts the texts it encodes."""

    def __init__(self):
        self.encoded = 0

    def encode_passages(self, texts):
        self.encoded += len(texts)
        return np.ones((len(texts), 2))


def test_contextual_vectors_are_reused_only_for_the_same_texts(tmp_path):
    kb = SimpleNamespace(encoder=_Counting())
    corpus = _windows("a", ["a#1", "a#2"])
    first = _contextual(kb, corpus, tmp_path / "context.npz")
    assert _contextual(kb, corpus, tmp_path / "context.npz").tolist() == first.tolist()
    assert kb.encoder.encoded == 2
    other = [
        Window(w.text_hash, w.article, w.doc_id, w.plain, "另一 " + w.in_context) for w in corpus
    ]
    _contextual(kb, other, tmp_path / "context.npz")
    assert kb.encoder.encoded == 4
