"""Fit a query adapter (index/encoders/adapter.py) on STARD's train split, from a KB's vectors.

``python -m training.query_adapter --kb .kb/stard/kb --out .kb/stard/query_adapter.npz``
(``make stard-adapter``). The passages' vectors are the KB's own, read from its vector cache;
only the train questions are encoded. For each train question the positive is the window of a
labelled article nearest the question, the negatives the nearest windows of other articles
(hard negatives), plus the other questions' positives in the batch; the loss is InfoNCE.
A starts at zero (the identity map) and is fitted for a few epochs: with some 900 questions
for a 384 × 384 matrix, longer runs overfit. The settings were chosen on an inner split of
train (docs/benchmarks.md); validation and test.json are never read here.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.stard import STARD, article_keys, part_of
from index.encoders.adapter import QueryAdapter
from index.encoders.base import model_id
from index.kb import KnowledgeBase

NEGATIVES = 64  # hard negatives per question: the nearest windows of other articles
MINED_FROM = 400  # nearest windows a question's negatives are drawn from
EPOCHS, LEARNING_RATE, SCALE, BATCH = 5, 5e-4, 20.0, 32  # SCALE: 1 / InfoNCE temperature
SEED = 0


@dataclass(frozen=True)
class Example:
    """One training question: its vector's row, its positive window, its hard negatives."""

    query: int
    positive: int
    negatives: np.ndarray


@dataclass(frozen=True)
class Space:
    """The KB's passage side: window vectors and the article each window belongs to."""

    vectors: np.ndarray  # (windows, dim)
    articles: np.ndarray  # (windows,) law#number keys, object dtype


def read_space(kb: KnowledgeBase) -> Space:
    """Every window's vector (the KB's cache) and its article key (evals.stard's rule)."""
    keys = article_keys(kb)
    ids, vectors = kb.store.window_vectors()
    clause_of = dict(kb.store.db.execute("SELECT id, clause FROM windows").fetchall())
    return Space(vectors, np.array([keys[clause_of[w]] for w in ids.tolist()], dtype=object))


def mine(queries: np.ndarray, labels: list[set[str]], space: Space) -> list[Example]:
    """An example per question with a labelled article in the KB; the others are skipped."""
    examples = []
    for row, (vector, relevant) in enumerate(zip(queries, labels, strict=True)):
        held = np.flatnonzero(np.isin(space.articles, list(relevant)))
        if not len(held):
            continue
        scores = space.vectors @ vector
        near = np.argpartition(-scores, MINED_FROM)[:MINED_FROM]
        near = near[np.argsort(-scores[near])]
        negatives = [w for w in near if space.articles[w] not in relevant][:NEGATIVES]
        positive = held[np.argmax(scores[held])]
        examples.append(Example(row, int(positive), np.array(negatives, dtype=np.int64)))
    return examples


def fit(examples: list[Example], queries: np.ndarray, passages: np.ndarray, epochs: int = EPOCHS,
        learning_rate: float = LEARNING_RATE, scale: float = SCALE) -> np.ndarray:  # fmt: skip
    """A (dim × dim) matrix that lowers InfoNCE of the adapted queries against their positive,
    their hard negatives and the batch's other positives."""
    import torch

    torch.manual_seed(SEED)
    q_all, p_all = torch.from_numpy(queries), torch.from_numpy(passages)
    matrix = torch.zeros(queries.shape[1], queries.shape[1], requires_grad=True)
    optimiser = torch.optim.Adam([matrix], lr=learning_rate)
    order = np.random.default_rng(SEED)
    for _ in range(epochs):
        shuffled = order.permutation(len(examples))
        for start in range(0, len(examples), BATCH):
            batch = [examples[i] for i in shuffled[start : start + BATCH]]
            loss = _loss(batch, q_all, p_all, matrix, scale)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return matrix.detach().numpy().copy()


def _loss(batch: list[Example], q_all, p_all, matrix, scale: float):
    import torch
    from torch.nn.functional import cross_entropy, normalize

    q = q_all[[e.query for e in batch]]
    q = normalize(q + q @ matrix, dim=-1)
    positives = p_all[[e.positive for e in batch]]
    negatives = torch.stack([p_all[e.negatives] for e in batch])  # batch × n × dim
    own = (q * positives).sum(-1, keepdim=True)
    hard = torch.einsum("bd,bnd->bn", q, negatives)
    others = (q @ positives.T).masked_fill(torch.eye(len(batch), dtype=torch.bool), -1e4)
    logits = torch.cat([own, hard, others], dim=1) * scale
    return cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))


def fit_stard(kb_dir: Path, stard: Path = STARD) -> QueryAdapter:
    """The adapter fitted on our train split of dev.json (evals.stard.split), in kb's space."""
    started = time.perf_counter()
    train = part_of(stard, "train")
    kb = KnowledgeBase(kb_dir)
    space = read_space(kb)
    vectors = kb.encoder.encode_queries([q.text for q in train])
    examples = mine(vectors, [set(q.articles) for q in train], space)
    matrix = fit(examples, vectors, space.vectors)
    about = {
        "fitted_on": f"{stard / 'dev.json'}: train split ({len(train)} questions)",
        "examples": len(examples), "epochs": EPOCHS, "learning_rate": LEARNING_RATE,
        "scale": SCALE, "negatives": NEGATIVES, "kb": str(kb_dir),
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    adapter = QueryAdapter(matrix, model_id(kb.manifest.model), about)
    kb.close()
    return adapter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True, help="a KB of lawrefbook's national part")
    parser.add_argument("--out", type=Path, required=True, help="the adapter file to write")
    parser.add_argument("--stard", type=Path, default=STARD)
    args = parser.parse_args()
    adapter = fit_stard(args.kb, args.stard)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    adapter.save(args.out)
    print(f"{args.out}: {json.dumps(adapter.about, ensure_ascii=False)}")


if __name__ == "__main__":
    main()
