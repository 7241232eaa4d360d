"""The text embedder runtime on the tiny model: shapes, normalization, batching, the cache."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from omnidex.models.embedders import TextEmbedder, get_embedder

TEXTS = ["the cat sits on the mat", "quarterly revenue grew", "hello world", "a dog runs"]


def test_encode_shapes_and_norms(tiny_embedder_path: Path) -> None:
    embedder = get_embedder(str(tiny_embedder_path), "cpu")
    assert embedder.dim == 32
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 32)


def test_batches_equal_one_by_one(tiny_embedder_path: Path) -> None:
    embedder = get_embedder(str(tiny_embedder_path), "cpu")
    batched = embedder.encode(TEXTS, batch_size=3)
    single = np.vstack([embedder.encode([text], batch_size=1) for text in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_loaded_once_per_path_and_device(tiny_embedder_path: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_embedder_path, tmp_path / "copy")
    barrier = threading.Barrier(4)

    def first_call(_: int) -> TextEmbedder:
        barrier.wait()
        return get_embedder(str(copy), "cpu")

    with ThreadPoolExecutor(4) as pool:
        embedders = list(pool.map(first_call, range(4)))
    assert all(e is embedders[0] for e in embedders)
    assert get_embedder(f"{copy}/", "cpu") is embedders[0]
    assert get_embedder(str(tiny_embedder_path), "cpu") is not embedders[0]
