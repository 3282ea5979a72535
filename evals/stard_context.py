"""Does embedding a window with its law's title and clause path help lay questions find it?

``python -m evals.stard_context --kb .kb/stard/kb --out DIR [--windows 35000]``. A clause is
embedded today as its own text: a 项 such as 犯罪嫌疑人系未成年人的； carries neither its law
nor its article. This measures, on a sub-corpus of the STARD KB, dense retrieval with the KB's
own vectors (text alone) against vectors of the same windows embedded as
``title path label text``. The sub-corpus: every document holding an article dev.json labels,
plus documents drawn at random (fixed seed) until about ``--windows`` windows, so both sides
rank the same windows; train and validation questions are scored apart, the train figure
deciding. Fewer distractors than the whole corpus, so the figures compare with each other
only. The contextual vectors are kept in DIR (``context.npz``, with a digest of their texts),
so a rerun only scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.metrics import score
from evals.stard import STARD, article_keys, load, qrels_of, split
from evals.stard_ab import article_run, stacked
from index.kb import KnowledgeBase
from index.passages import in_context

SEED = 20261129


@dataclass(frozen=True)
class Window:
    """One embedded window: its text hash (the vector cache key), article, and two texts."""

    text_hash: str
    article: str
    doc_id: str
    plain: str
    in_context: str


def read_windows(kb: KnowledgeBase) -> list[Window]:
    """Every window of the KB with both of its texts, in window id order."""
    keys = article_keys(kb)
    rows = kb.store.db.execute(
        "SELECT w.text_hash, w.clause, c.doc_id, d.title, c.path, c.label,"
        " substr(c.text, w.start + 1, w.end - w.start) FROM windows w"
        " JOIN clauses c ON c.id = w.clause JOIN documents d USING (doc_id) ORDER BY w.id"
    )
    return [
        Window(text_hash, keys[clause], doc_id, text,
               in_context(title, json.loads(path), label, text))
        for text_hash, clause, doc_id, title, path, label, text in rows
    ]  # fmt: skip


def sub_corpus(windows: list[Window], labelled: set[str], size: int) -> list[Window]:
    """The windows of documents holding a labelled article, then of random others up to size."""
    documents: dict[str, list[Window]] = {}
    for window in windows:
        documents.setdefault(window.doc_id, []).append(window)
    kept = [d for d, held in documents.items() if any(w.article in labelled for w in held)]
    others = sorted(set(documents) - set(kept))
    random.Random(SEED).shuffle(others)
    total = sum(len(documents[d]) for d in kept)
    for doc_id in others:
        if total >= size:
            break
        kept.append(doc_id)
        total += len(documents[doc_id])
    return [w for d in kept for w in documents[d]]


def measure(kb_dir: Path, out: Path, size: int) -> dict:
    """Train and validation R@10 / R@100 / MRR@10 of dense over plain and contextual windows."""
    kb = KnowledgeBase(kb_dir)
    queries = load(STARD / "dev.json")
    parts = split(queries)
    labelled = set().union(*(set(q.articles) for q in queries))
    corpus = sub_corpus(read_windows(kb), labelled, size)
    articles = np.array([w.article for w in corpus], dtype=object)
    plain = stacked(kb.store, [w.text_hash for w in corpus])
    context = _contextual(kb, corpus, out / "context.npz")
    found: dict = {"windows": len(corpus), "documents": len({w.doc_id for w in corpus})}
    for part in ("train", "validation"):
        questions = [q for q in queries if parts[q.query_id] == part]
        vectors = kb.encoder.encode_queries([q.text for q in questions])
        for name, passages in (("plain", plain), ("in_context", context)):
            runs = article_run(vectors, passages, articles)
            run = {q.query_id: r for q, r in zip(questions, runs, strict=True)}
            found[f"{part} {name}"] = score(run, qrels_of(questions))
    kb.close()
    return found


def _contextual(kb: KnowledgeBase, corpus: list[Window], path: Path) -> np.ndarray:
    """The contextual vectors of ``corpus``, read from ``path`` when it holds those texts'."""
    texts = [w.in_context for w in corpus]
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()
    if path.exists():
        with np.load(path) as kept:
            if str(kept["digest"]) == digest:
                return kept["vectors"]
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = kb.encoder.encode_passages(texts).astype(np.float32)
    np.savez(path, vectors=vectors, digest=np.array(digest))
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True, help="the STARD KB (.kb/stard/kb)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the vectors")
    parser.add_argument("--windows", type=int, default=35000, help="sub-corpus size")
    args = parser.parse_args()
    print(json.dumps(measure(args.kb, args.out, args.windows), indent=1))


if __name__ == "__main__":
    main()
