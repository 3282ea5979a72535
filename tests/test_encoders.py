"""Embedding backends: the factory, both backends' vectors, int8 against fp32, the manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.encoders import load_encoder, precision_of
from index.encoders.base import DEFAULT_MODEL_PATH
from index.encoders.openvino import OpenVinoEncoder, openvino_file
from index.encoders.torch import SentenceTransformerEncoder
from index.kb import KnowledgeBase
from index.manifest import FILENAME, Manifest, ManifestMismatch
from index.windows import windows
from ingest.pipeline import parse_file
from tests.conftest import SEEDS
from tests.fake_encoder import FakeEncoder

MIN_COSINE = 0.995  # int8 against fp32, per text (the bar of issue 14)


@pytest.fixture(scope="module")
def encoders() -> dict[str, object]:
    if not openvino_file(DEFAULT_MODEL_PATH).exists():
        pytest.fail(f"no int8 form under {DEFAULT_MODEL_PATH}: run `make model`")
    return {backend: load_encoder(backend=backend) for backend in ("torch", "openvino")}


@pytest.fixture(scope="module")
def clauses() -> list[str]:
    """A dozen real windows of two seed documents: short and long, article and task text."""
    texts = []
    for key in ("000", "004"):
        for clause in parse_file(SEEDS[key]).clauses[:6]:
            texts.extend(clause.text[s.start : s.end] for s in windows(clause.text))
    return texts[:12]


@pytest.fixture(scope="module")
def passages(encoders, clauses) -> dict[str, np.ndarray]:
    """The clauses' passage vectors from each backend, encoded once for the module."""
    return {backend: encoder.encode_passages(clauses) for backend, encoder in encoders.items()}


def test_factory_picks_the_backend(encoders):
    assert isinstance(encoders["torch"], SentenceTransformerEncoder)
    assert isinstance(encoders["openvino"], OpenVinoEncoder)
    assert [(e.backend, e.precision) for e in encoders.values()] == [
        ("torch", "fp32"),
        ("openvino", "int8"),
    ]
    assert encoders["torch"].name == encoders["openvino"].name == DEFAULT_MODEL_PATH.name
    with pytest.raises(ValueError, match="unknown embedding backend 'onnx'"):
        precision_of("onnx")


def test_openvino_needs_its_built_form(tmp_path):
    with pytest.raises(FileNotFoundError, match="make model"):
        OpenVinoEncoder(str(tmp_path))


@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_vectors_are_unit_float32_of_the_model_dim(encoders, clauses, passages, backend):
    encoder, passages = encoders[backend], passages[backend]
    queries = encoder.encode_queries(["产教融合型企业认证", "消防安全责任"])
    assert encoder.dim == 384
    assert passages.shape == (len(clauses), 384) and queries.shape == (2, 384)
    assert passages.dtype == queries.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert encoder.encode_passages([]).shape == (0, 384)


def test_int8_vectors_are_close_to_fp32(encoders, clauses, passages):
    fp32, int8 = passages["torch"], passages["openvino"]
    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.min() >= MIN_COSINE, cosines
    queries = [encoders[b].encode_queries(["深化产教融合"])[0] for b in ("torch", "openvino")]
    assert float(queries[0] @ queries[1]) >= MIN_COSINE
    # the prompts differ: a query's vector is not its passage's
    assert not np.allclose(int8[:1], encoders["openvino"].encode_queries(clauses[:1]), atol=1e-3)


class Int8Fake(FakeEncoder):
    backend, precision = "openvino", "int8"


def test_a_kb_refuses_another_backend_by_name(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb", encoder=FakeEncoder())
    kb.ingest([SEEDS["002"]])
    kb.close()
    recorded = Manifest.load(kb.folder)
    assert (recorded.backend, recorded.precision) == ("torch", "fp32")
    with pytest.raises(ManifestMismatch, match="backend: KB has 'torch', asked for 'openvino'"):
        KnowledgeBase(kb.folder, encoder=Int8Fake())
    with pytest.raises(ManifestMismatch, match="precision: KB has 'fp32', asked for 'int8'"):
        KnowledgeBase(kb.folder, backend="openvino")
    KnowledgeBase(kb.folder, encoder=FakeEncoder(), backend="torch").close()


def test_a_kb_keeps_its_backend_and_old_kbs_are_torch_fp32(tmp_path):
    kb = KnowledgeBase(tmp_path / "int8", encoder=Int8Fake())
    kb.ingest([SEEDS["002"]])
    kb.close()
    assert Manifest.load(kb.folder).backend == "openvino"
    reopened = KnowledgeBase(kb.folder)  # no backend asked: the KB's own is loaded
    assert reopened._backend == "openvino"
    reopened.close()
    data = json.loads((kb.folder / FILENAME).read_text())
    for key in ("backend", "precision"):
        del data[key]
    (kb.folder / FILENAME).write_text(json.dumps(data))
    old = Manifest.load(kb.folder)
    assert (old.backend, old.precision) == ("torch", "fp32")
