"""Windows over long clauses, jieba words, phrase keys and highlight offsets."""

from index.lexical import bm25_match, match_spans, phrase_key, quoted_phrase, words
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
