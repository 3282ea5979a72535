"""The OpenVINO backend: the model's int8 form, built once by ``make model``, run on the CPU.

The form is one graph (transformer, mean pooling, L2 normalisation) whose linear layers
hold int8 weights (NNCF weight compression, no calibration data): training/offline_model.py
writes it into ``<model>/openvino/``. Texts are tokenised with the model's own
tokenizer.json and the prompts of its sentence-transformers config.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index.encoders.base import BatchedEncoder, local_model, model_id

OV_FOLDER = "openvino"
OV_FILE = "openvino_model_int8.xml"


def openvino_file(model_folder: Path) -> Path:
    """Where ``make model`` puts the int8 OpenVINO form of a local model."""
    return model_folder / OV_FOLDER / OV_FILE


class OpenVinoEncoder(BatchedEncoder):
    """A local sentence-transformers model's int8 OpenVINO form (see training/offline_model.py)."""

    backend, precision = "openvino", "int8"

    def __init__(self, name_or_path: str, batch_size: int = 32):
        try:
            import openvino
        except ImportError as error:
            raise ImportError(
                "the openvino backend needs the `openvino` extra (make setup)"
            ) from error
        from tokenizers import Tokenizer

        folder = local_model(name_or_path)
        xml = openvino_file(folder) if folder else None
        if xml is None or not xml.exists():
            raise FileNotFoundError(
                f"no OpenVINO int8 form of {name_or_path}: run `make model` (or"
                f" `python -m training.offline_model {name_or_path}`) to build it"
            )
        self.model = openvino.Core().compile_model(str(xml), "CPU", {"PERFORMANCE_HINT": "LATENCY"})
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(_max_length(folder))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("<pad>") or 0)
        self.prompts = _prompts(folder)
        self.name = model_id(name_or_path)
        self.dim = int(self.model.output(0).get_partial_shape()[1].get_length())
        self.batch_size = batch_size

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        prefix = self.prompts.get(prompt, "")
        request = self.model.create_infer_request()  # one per call: callers may be threads
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer.encode_batch(
                [prefix + t for t in texts[start : start + self.batch_size]]
            )
            inputs = {
                "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
            }
            out.append(request.infer(inputs)[0].copy())
        return np.vstack(out).astype(np.float32, copy=False)


def _prompts(folder: Path) -> dict[str, str]:
    """{"query": …, "passage": …} from the model's sentence-transformers config."""
    path = folder / "config_sentence_transformers.json"
    prompts = json.loads(path.read_text()).get("prompts", {}) if path.exists() else {}
    passage = prompts.get("document", prompts.get("passage", ""))
    return {"query": prompts.get("query", ""), "passage": passage}


def _max_length(folder: Path) -> int:
    """The model's max_seq_length (sentence_bert_config.json), else 512."""
    path = folder / "sentence_bert_config.json"
    return int(json.loads(path.read_text()).get("max_seq_length", 512)) if path.exists() else 512
