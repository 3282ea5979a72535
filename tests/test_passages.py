"""What the model reads of a window: the text alone, or in context; recorded per KB."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.kb import KnowledgeBase
from index.manifest import FILENAME, Manifest, ManifestMismatch
from index.passages import (
    UnknownPassageForm,
    clause_passages,
    document_passages,
    in_context,
)
from index.windows import windows
from ingest.models import Clause
from ingest.pipeline import parse_file
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder


def item(text: str) -> Clause:
    return Clause("c1", "（二）", ["第二章 保护", "第十条 有下列情形之一的："], text, 3, 2, "item")


def test_in_context_reads_title_path_label_then_text():
    clause = item("犯罪嫌疑人系未成年人的；")
    [plain] = clause_passages("刑事诉讼法", clause, "text")
    [framed] = clause_passages("刑事诉讼法", clause, "context")
    assert plain.text == "犯罪嫌疑人系未成年人的；"
    context = "刑事诉讼法 第二章 保护 第十条 有下列情形之一的： （二）"
    assert framed.text == context + " 犯罪嫌疑人系未成年人的；"
    assert plain.span == framed.span
    assert in_context("", [], "", "正文") == "正文"  # empty parts leave no stray spaces


def test_each_window_of_a_long_clause_gets_its_own_context():
    text = "。".join(f"第{i}句话写的是一项很长的政策措施的具体内容" for i in range(40)) + "。"
    passages = clause_passages("某市实施方案", item(text), "context")
    assert [p.span for p in passages] == windows(text) and len(passages) > 1
    for passage in passages:
        window = text[passage.span.start : passage.span.end]
        assert passage.text.startswith("某市实施方案 第二章 保护") and passage.text.endswith(window)


def test_an_unknown_form_is_refused_by_name(tmp_path):
    with pytest.raises(UnknownPassageForm, match="'title'"):
        clause_passages("标题", item("正文"), "title")
    with pytest.raises(UnknownPassageForm, match="'titles'"):
        KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), passage="titles")


def test_a_context_kb_embeds_and_caches_the_contextual_texts(tmp_path):
    doc = parse_file(SEEDS["002"])
    framed = [p.text for c in document_passages(doc, "context") for p in c]
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), passage="context")
    kb.ingest([SEEDS["002"]])
    ids, vectors = kb.store.window_vectors()
    expected = FakeEncoder().encode_passages(framed)
    assert len(ids) == len(framed)
    assert np.allclose(vectors, expected)
    kb.close()


def test_a_kb_keeps_its_form_and_refuses_the_other(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder(), passage="context")
    kb.ingest([SEEDS["002"]])
    kb.close()
    assert Manifest.load(kb.folder).passage == "context"
    with pytest.raises(ManifestMismatch, match="passage: KB has 'context', asked for 'text'"):
        KnowledgeBase(kb.folder, encoder=FakeEncoder(), passage="text")
    reopened = KnowledgeBase(kb.folder, encoder=FakeEncoder())  # none asked: the KB's own
    assert reopened.passage == "context"
    reopened.ingest([SEEDS["003"]])
    assert Manifest.load(kb.folder).passage == "context"
    reopened.close()


def test_a_kb_from_before_the_field_embedded_text_alone(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["002"]])
    kb.close()
    path = kb.folder / FILENAME
    recorded = json.loads(path.read_text())
    assert recorded.pop("passage") == "text"
    path.write_text(json.dumps(recorded))
    assert Manifest.load(kb.folder).passage == "text"
    with pytest.raises(ManifestMismatch, match="passage: KB has 'text', asked for 'context'"):
        KnowledgeBase(kb.folder, encoder=FakeEncoder(), passage="context")
