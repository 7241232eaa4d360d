"""The ONNX query path of text embedders: exported when the torch model loads, same vectors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omnidex.models import embedders
from omnidex.models.embedders import get_embedder, get_query_embedder
from omnidex.models.onnx_text import EXPORT_DIR, OnnxTextEmbedder, load_onnx_embedder

QUERIES = ["hello world", "the quick brown fox", "", "a " * 400]


@pytest.fixture
def model_copy(tiny_embedder_path: Path, tmp_path: Path) -> Path:
    """The tiny model, without any export, in a folder of its own (the export is written inside
    the model folder, so other tests that load the shared one on torch leave theirs there)."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_embedder_path, folder, ignore=shutil.ignore_patterns(EXPORT_DIR))
    return folder


def test_loading_the_torch_model_exports_and_onnx_matches_it(model_copy: Path) -> None:
    assert load_onnx_embedder(model_copy) is None  # nothing exported yet
    torch_vectors = get_embedder(str(model_copy), "cpu").encode(QUERIES)
    meta = json.loads((model_copy / EXPORT_DIR / "meta.json").read_text())
    assert meta["pooling"] == "mean"
    assert meta["max_seq_length"] == 128
    onnx = load_onnx_embedder(model_copy)
    assert isinstance(onnx, OnnxTextEmbedder)
    onnx_vectors = onnx.encode(QUERIES)
    assert onnx_vectors.shape == torch_vectors.shape
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(onnx_vectors * torch_vectors, axis=1)
    assert np.all(cosines > 1 - 1e-4), cosines


def test_a_changed_model_ignores_its_stale_export(model_copy: Path) -> None:
    get_embedder(str(model_copy), "cpu")
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # a new modification time: another model
    assert load_onnx_embedder(model_copy) is None


def test_query_embedder_prefers_the_loaded_torch_model(model_copy: Path) -> None:
    torch_model = get_embedder(str(model_copy), "cpu")
    assert get_query_embedder(str(model_copy), "cpu") is torch_model
    assert get_query_embedder(str(model_copy)) is torch_model


def test_query_embedder_without_export_takes_the_torch_path(model_copy: Path) -> None:
    embedders._ONNX.pop(model_copy, None)
    encoder = get_query_embedder(str(model_copy), "cpu")
    assert isinstance(encoder, embedders.TextEmbedder)


_SEARCH_PROBE = """
import sys
from omnidex.models.embedders import get_query_embedder
vectors = get_query_embedder(sys.argv[1]).encode(["hello world"])
print(type(get_query_embedder(sys.argv[1])).__name__, vectors.shape[1])
print(sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules))
"""


def test_a_fresh_process_embeds_queries_without_torch(model_copy: Path) -> None:
    get_embedder(str(model_copy), "cpu")  # loads on torch, which writes the export
    result = subprocess.run(
        [sys.executable, "-c", _SEARCH_PROBE, str(model_copy)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines == ["OnnxTextEmbedder 32", "[]"], result.stdout + result.stderr
