"""The A/B of two models on a partly embedded KB: which documents count, and the article runs."""

from __future__ import annotations

import numpy as np

from evals.stard_ab import article_run, sub_corpus
from index.kb import KnowledgeBase
from tests.fake_encoder import FakeEncoder
from tests.test_kb_mechanics import SEEDS


def test_only_documents_whose_every_window_is_cached_count(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["000"], SEEDS["001"]])
    rows = kb.store.db.execute(
        "SELECT c.doc_id, w.text_hash FROM windows w JOIN clauses c ON c.id = w.clause"
    ).fetchall()
    first, second = sorted({d for d, _ in rows})
    firsts = [h for d, h in rows if d == first]
    partial = {h for d, h in rows if d == second}
    partial.discard(next(iter(partial - set(firsts))))  # one window of the second is missing
    corpus = sub_corpus(kb, set(firsts) | partial)
    assert corpus.documents == 1 and corpus.hashes == firsts
    assert len(corpus.articles) == len(firsts)
    kb.close()


def test_article_runs_are_distinct_articles_by_falling_cosine():
    passages = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.8, 0.2]], dtype=np.float32)
    articles = np.array(["a#1", "a#1", "b#2", "c#3"], dtype=object)
    runs = article_run(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32), passages, articles)
    assert runs == [["a#1", "c#3", "b#2"], ["b#2", "c#3", "a#1"]]
