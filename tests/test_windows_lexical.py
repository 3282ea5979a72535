"""Windows over long clauses, jieba words, phrase keys and highlight offsets."""

import random

from index.lexical import (
    MAX_SPANS,
    _fold,
    bm25_match,
    match_spans,
    phrase_key,
    quoted_phrase,
    words,
)
from index.search import _highlight
from index.windows import Span, sentences, windows


def test_short_text_is_one_window():
    assert windows("加强组织领导。", max_chars=20) == [Span(0, 7)]


def test_long_text_windows_overlap_by_one_sentence():
    text = "甲" * 9 + "。" + "乙" * 9 + "。" + "丙" * 9 + "。" + "丁" * 9 + "。"
    spans = windows(text, max_chars=25)
    assert [text[s.start : s.end] for s in spans] == [
        "甲" * 9 + "。" + "乙" * 9 + "。",
        "乙" * 9 + "。" + "丙" * 9 + "。",
        "丙" * 9 + "。" + "丁" * 9 + "。",
    ]


def test_a_sentence_longer_than_a_window_is_cut():
    spans = windows("字" * 50, max_chars=20)
    assert spans == [Span(0, 20), Span(20, 40), Span(40, 50)]


def test_sentences_keep_closing_quotes():
    text = "他说：“好。”然后走了；结束"
    assert [text[s.start : s.end] for s in sentences(text)] == [
        "他说：“好。”",
        "然后走了；",
        "结束",
    ]


def test_words_are_normalised_and_lowercased():
    assert "2025" in words("到２０２５年")
    assert "ai" in words("ＡＩ产业")


def test_bm25_match_drops_question_words():
    match = bm25_match("产教融合型企业能享受哪些优惠？")
    assert '"优惠"' in match and '"哪些"' not in match


def test_phrase_key_ignores_line_breaks_and_width():
    assert phrase_key("产教\n融合　（试点）") == "产教融合(试点)"


def test_quoted_phrase():
    assert quoted_phrase("“组合式激励”") == "组合式激励"
    assert quoted_phrase('"组合式激励"') == "组合式激励"
    assert quoted_phrase("组合式激励") is None


def test_match_spans_cross_line_breaks_and_full_width():
    text = "落实组合\n式激励，到２０２５年"
    assert match_spans(text, ["组合式激励", "2025"]) == [(2, 8), (10, 14)]


def _spans_brute_force(text, terms):
    """The definition: longest terms first, a match overlapping a kept one is dropped."""
    kept = [i for i, char in enumerate(text) if not char.isspace()]
    haystack = "".join(_fold(text[i]) for i in kept)
    spans = []
    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        needle = "".join(_fold(c) for c in term if not c.isspace())
        start = haystack.find(needle) if needle else -1
        while start >= 0:
            span = (kept[start], kept[start + len(needle) - 1] + 1)
            if not any(s < span[1] and span[0] < e for s, e in spans):
                spans.append(span)
            start = haystack.find(needle, start + len(needle))
    return sorted(spans)


def test_match_spans_agree_with_the_definition_on_random_texts():
    rng = random.Random(7)
    alphabet = "产教aA Ａ\n\u3000２2"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        terms = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))) for _ in range(3)]
        assert match_spans(text, terms) == _spans_brute_force(text, terms), (text, terms)


def test_a_huge_one_line_text_gets_a_bounded_number_of_spans():
    text = "产教融合" * 250_000  # 1M characters, one line: once every later search hung
    spans = match_spans(text, ["产教融合", "融合", "产"])
    assert len(spans) == MAX_SPANS and spans[0] == (0, 4) and spans == sorted(set(spans))


def test_a_hit_in_a_huge_text_is_marked_near_its_window():
    text = "无关内容。" * 100_000 + "产教融合型企业。"
    window = Span(len(text) - 8, len(text))
    found = _highlight(text, ["产教融合"], window)
    assert found.sentence == (window.start, window.end)
    assert found.spans == [(window.start, window.start + 4)]
