"""Fine-tune the embedding model on STARD's train split (``make stard-encoder``).

``python -m training.stard_encoder --kb .kb/stard/kb --out .kb/stard/multilingual-e5-small-stard``.
Each train question is paired with the window of each labelled article nearest to it (its
positive) and one hard negative: a window of another article among the question's nearest
windows in the KB, skipping the very nearest, which are often unlabelled answers. The loss is
InfoNCE over the positive, the hard negatives and the batch's other windows (sentence-transformers'
MultipleNegativesRankingLoss, written out here to keep the loop plain). The word-embedding matrix
(96 of the model's 118 M weights, one row per vocabulary entry) stays frozen: 870 questions
cannot move it usefully, and the optimiser's state for it would dominate a step on the CPU.

The settings are fixed before any run (sentence-transformers' defaults for the loss, one pass);
validation and test.json are never read here. The output is a sentence-transformers folder a
KB can be built with (``POLICYKB_MODEL``); its folder name is what the KB's manifest records.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.stard import STARD, part_of
from index.encoders.base import default_model, model_id
from index.kb import KnowledgeBase
from index.passages import in_context
from training.query_adapter import Space, read_space

EPOCHS, BATCH, LEARNING_RATE, WARMUP, SCALE = 1, 32, 2e-5, 0.1, 20.0
SKIP_NEAREST = 3  # windows nearest a question are often unlabelled answers: not negatives
NEGATIVE_POOL = 30  # hard negatives are drawn from the question's nearest windows up to here
MAX_TOKENS = 256
SEED = 20261128


@dataclass(frozen=True)
class Pair:
    """One training pair: a question, a window of one of its articles, a hard negative."""

    question: str
    positive: str
    negative: str


def window_texts(kb: KnowledgeBase) -> list[str]:
    """Each window's text as the model read it (its clause's text between the window's
    offsets, in context if the KB's passage form says so), in the order of
    ``Store.window_vectors``: the rows of ``read_space``."""
    rows = kb.store.db.execute(
        "SELECT d.title, c.path, c.label, substr(c.text, w.start + 1, w.end - w.start)"
        " FROM windows w JOIN clauses c ON c.id = w.clause JOIN documents d USING (doc_id)"
        " JOIN embeddings e USING (text_hash) ORDER BY w.id"
    )
    if kb.passage == "text":
        return [text for *_, text in rows]
    return [in_context(title, json.loads(path), label, text) for title, path, label, text in rows]


def base_model(kb: KnowledgeBase) -> str:
    """The folder of the model ``kb`` was built with (``default_model()``, checked by name)."""
    path = default_model()
    if model_id(path) != kb.manifest.model:
        raise SystemExit(f"{kb.folder} was built with {kb.manifest.model}, not {path}")
    return path


def mine_pairs(
    questions: list[str], labels: list[set[str]], vectors: np.ndarray, space: Space,
    texts: list[str], rng: random.Random,
) -> list[Pair]:  # fmt: skip
    """A pair per (question, labelled article in the KB): its nearest window, a hard negative."""
    windows_of: dict[str, list[int]] = {}
    for row, article in enumerate(space.articles.tolist()):
        windows_of.setdefault(article, []).append(row)
    pairs = []
    for question, relevant, vector in zip(questions, labels, vectors, strict=True):
        scores = space.vectors @ vector
        near = _nearest(scores, NEGATIVE_POOL)[SKIP_NEAREST:]
        negatives = [int(w) for w in near if space.articles[w] not in relevant]
        if not negatives:
            continue
        for article in sorted(relevant):
            held = np.array(windows_of.get(article, []), dtype=np.int64)
            if len(held):
                positive = int(held[np.argmax(scores[held])])
                negative = rng.choice(negatives)
                pairs.append(Pair(question, texts[positive], texts[negative]))
    return pairs


def _nearest(scores: np.ndarray, k: int) -> np.ndarray:
    """The indices of the k highest scores, highest first."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    near = np.argpartition(-scores, k)[:k]
    return near[np.argsort(-scores[near], kind="stable")]


def train(model_path: str, pairs: list[Pair], epochs: int = EPOCHS) -> tuple[object, list[float]]:
    """The model fine-tuned on ``pairs``; the mean loss of each tenth of the steps."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    model = SentenceTransformer(model_path, device="cpu")
    model.max_seq_length = MAX_TOKENS
    for weight in model[0].auto_model.embeddings.word_embeddings.parameters():
        weight.requires_grad = False
    trained = [w for w in model.parameters() if w.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=LEARNING_RATE, weight_decay=0.01)
    steps = epochs * -(-len(pairs) // BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, _warmup_then_linear(steps))
    order, losses = random.Random(SEED), []
    model.train()
    for _ in range(epochs):
        shuffled = order.sample(pairs, len(pairs))
        for start in range(0, len(shuffled), BATCH):
            loss = _loss(model, shuffled[start : start + BATCH])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
    model.eval()
    return model, _tenths(losses)


def _loss(model, batch: list[Pair]):
    """InfoNCE of each question against every window of the batch; its own positive is right."""
    import torch
    from torch.nn.functional import cross_entropy

    queries = _embed(model, [model.prompts["query"] + p.question for p in batch])
    windows = [t for p in batch for t in (p.positive, p.negative)]
    passages = _embed(model, [model.prompts["passage"] + t for t in windows])
    logits = queries @ passages.T * SCALE  # the positive of row i is column 2i
    return cross_entropy(logits, torch.arange(len(batch)) * 2)


def _tenths(losses: list[float]) -> list[float]:
    """The mean loss over each tenth of the steps: the training curve, in the model's record."""
    tenth = max(1, len(losses) // 10)
    return [round(float(np.mean(losses[i : i + tenth])), 4) for i in range(0, len(losses), tenth)]


def _embed(model, texts: list[str]):
    """Normalised sentence embeddings with gradients (``encode`` runs without them)."""
    features = model.preprocess(texts)
    return model(features)["sentence_embedding"]


def _warmup_then_linear(steps: int):
    """The learning-rate factor: linear warm-up over WARMUP of the steps, then linear decay."""
    warmup = max(1, int(steps * WARMUP))
    return lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / (steps - warmup)))


def fine_tune(kb_dir: Path, out: Path, stard: Path = STARD, epochs: int = EPOCHS) -> dict:
    """Mine pairs from the train split over ``kb_dir``'s vectors, fine-tune its model into out."""
    started = time.perf_counter()
    train_set = part_of(stard, "train")
    kb = KnowledgeBase(kb_dir)
    space = read_space(kb)
    texts = window_texts(kb)
    vectors = kb.encoder.encode_queries([q.text for q in train_set])
    model_path = base_model(kb)
    pairs = mine_pairs(
        [q.text for q in train_set], [set(q.articles) for q in train_set], vectors, space, texts,
        random.Random(SEED),
    )  # fmt: skip
    kb.close()
    mined = time.perf_counter() - started
    model, losses = train(model_path, pairs, epochs)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    about = {
        "base_model": model_path, "fitted_on": f"{stard / 'dev.json'}: train split "
        f"({len(train_set)} questions)", "pairs": len(pairs), "epochs": epochs, "batch": BATCH,
        "learning_rate": LEARNING_RATE, "scale": SCALE, "frozen": "word embeddings",
        "mining_seconds": round(mined, 1),
        "training_seconds": round(time.perf_counter() - started - mined, 1), "losses": losses,
    }  # fmt: skip
    (out / "policykb_training.json").write_text(json.dumps(about, ensure_ascii=False, indent=1))
    return about


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, required=True, help="the STARD KB, its vectors mined")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="passes over the pairs")
    parser.add_argument("--out", type=Path, required=True, help="the model folder to write")
    parser.add_argument("--stard", type=Path, default=STARD, help="STARD's folder (dev.json)")
    args = parser.parse_args()
    about = fine_tune(args.kb, args.out, args.stard, args.epochs)
    print(json.dumps(about, ensure_ascii=False))


if __name__ == "__main__":
    main()
