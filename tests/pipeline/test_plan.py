"""Planning a collection spec: instances, features in order, chunking, and errors named by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidex.errors import InvalidSpecError
from omnidex.pipeline.plan import DEFAULT_EXTRACTORS, build_plan, normalize_spec
from omnidex.types import FeatureType


def test_default_spec_is_the_three_built_ins() -> None:
    spec = normalize_spec(None)
    assert [e.name for e in spec.extractors] == list(DEFAULT_EXTRACTORS)


def test_plan_lists_features_in_order_with_the_vector_dim(tiny_embedder_path: Path) -> None:
    spec = normalize_spec(
        [
            {"name": "page_text@v1", "params": {"chunk_tokens": 64, "chunk_overlap": 8}},
            "ocr@v1",
            {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
        ]
    )
    plan = build_plan(spec)
    addresses = [f.address for f in plan.features]
    assert addresses[0] == "page_text@v1/text"
    assert {"ocr@v1/text", "ocr@v1/words", "ocr@v1/confidence"} <= set(addresses)
    vector = plan.features[-1]
    assert vector.address == "text_embedding@v1/vector"
    assert vector.type is FeatureType.VECTOR and vector.dim == 32
    assert plan.chunking == (64, 8)
    assert list(plan.query_encoders()) == ["text_embedding@v1/vector"]


def test_a_stored_plan_is_rebuilt_without_recomputing_features(tiny_embedder_path: Path) -> None:
    spec = normalize_spec(
        [
            "page_text@v1",
            {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}},
        ]
    )
    first = build_plan(spec)
    again = build_plan(spec, first.features)
    assert again.features == first.features


def test_the_same_extractor_twice_is_rejected() -> None:
    with pytest.raises(InvalidSpecError) as info:
        build_plan(normalize_spec(["page_text@v1", "page_text@v1"]))
    assert info.value.context["field"] == "extractors[1]"


def test_an_empty_pipeline_is_rejected() -> None:
    with pytest.raises(InvalidSpecError) as info:
        normalize_spec([])
    assert info.value.context["field"] == "extractors"


def test_an_embedder_with_nothing_to_embed_is_rejected(tiny_embedder_path: Path) -> None:
    spec = normalize_spec(
        [{"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}}]
    )
    with pytest.raises(InvalidSpecError) as info:
        build_plan(spec)
    assert info.value.context["field"].startswith("extractors[0].params")
