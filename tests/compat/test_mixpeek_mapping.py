"""The Mixpeek layer's translations on their own: extractor names to omnidex pipelines (checked
by omnidex's own plan builder) and retriever stages to omnidex stages (filters parsed by omnidex's
own filter parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidex.compat.mixpeek.extractors import PIPELINES, pipeline, resolve
from omnidex.compat.mixpeek.stages import omnidex_stage, template
from omnidex.errors import InvalidSpecError, UnknownExtractorError
from omnidex.pipeline.plan import build_plan, normalize_spec
from omnidex.retrieval.templates import as_filter_parameters
from omnidex.store.filters import parse_filter


def stage(stage_id: str, **parameters: object) -> dict[str, object]:
    return {"stage_name": stage_id, "config": {"stage_id": stage_id, "parameters": parameters}}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_every_mapped_extractor_is_a_valid_omnidex_pipeline(
    name: str, tiny_clip_path: Path
) -> None:
    images = {"model_id": str(tiny_clip_path)}  # the image model is read when the plan is built
    params = {"ocr": {"languages": "eng+osd"}, "image_embedding": images, "colour": "red"}
    extractors, unused = pipeline(name, "v1", params)
    plan = build_plan(normalize_spec(extractors, None))
    assert "text_embedding@v1/vector" in {f.address for f in plan.features}
    assert unused == ["colour"]
    if "ocr" in PIPELINES[name]:
        assert {"name": "ocr@v1", "params": {"languages": "eng+osd"}} in extractors


def test_scene_caption_takes_the_phi4_model_id() -> None:
    extractors, _ = pipeline(
        "scene_caption", "v1", {"model_id": "microsoft/Phi-4-multimodal-instruct"}
    )
    caption = next(e for e in extractors if e["name"] == "scene_caption@v1")
    assert caption["params"] == {"model_id": "microsoft/Phi-4-multimodal-instruct"}


def test_an_unknown_extractor_or_version_names_what_there_is() -> None:
    with pytest.raises(
        UnknownExtractorError, match="maps: audio_extractor, clip_extractor, image_extractor"
    ):
        pipeline("face_extractor", "v1", {})
    with pytest.raises(InvalidSpecError, match="'v1' only, not 'v2'"):
        pipeline("text_extractor", "v2", {})


def test_feature_uris_resolve_to_the_vector_or_to_bm25() -> None:
    assert resolve("mixpeek://text_extractor@v1/multilingual_e5_large_instruct_v1") == (
        "text_embedding@v1/vector"
    )
    assert resolve("mixpeek://multimodal_extractor@v1/embedding", lexical=True) == "text"
    assert resolve("ocr@v1/text") == "ocr@v1/text"
    assert resolve("mixpeek://clip_extractor@v1/image_embedding") == "image_embedding@v1/vector"
    with pytest.raises(InvalidSpecError, match="names extractor 'splade_extractor'"):
        resolve("mixpeek://splade_extractor@v1/sparse")


def test_input_references_become_omnidex_references() -> None:
    assert template({"q": ["{{INPUT.query}}", "{{ inputs.shop }} now"]}) == {
        "q": ["{{inputs.query}}", "{{inputs.shop}} now"]
    }


@pytest.mark.parametrize(
    ("parameters", "where"),
    [
        ({"field": "metadata.shop", "operator": "eq", "value": "north"}, "metadata.shop = 'north'"),
        ({"field": "start_time", "operator": "gte", "value": 30}, "start_s >= 30"),
        ({"field": "shop", "operator": "in", "value": ["a", "b'c"]}, "shop in ('a', 'b''c')"),
        ({"field": "shop", "operator": "ne", "value": None}, "shop is not null"),
        ({"field": "shop", "operator": "eq", "value": "{{INPUT.shop}}"}, "shop = {{inputs.shop}}"),
        (
            {
                "conditions": {
                    "AND": [
                        {"field": "page_number", "operator": "lt", "value": 3},
                        {
                            "OR": [
                                {"field": "lang", "operator": "eq", "value": "en"},
                                {"field": "lang", "operator": "contains", "value": "fr"},
                            ]
                        },
                    ]
                }
            },
            "(page < 3 and (lang = 'en' or lang contains 'fr'))",
        ),
    ],
)
def test_attribute_filters_become_where_expressions_omnidex_parses(
    parameters: dict[str, object], where: str
) -> None:
    mapped = omnidex_stage(stage("attribute_filter", **parameters), 0)
    assert mapped == {
        "type": "attribute_filter",
        "id": "attribute_filter",
        "params": {"where": where},
    }
    parse_filter(as_filter_parameters(where), {"shop": "north"})


def test_feature_search_group_by_sort_rerank_and_limit_map_their_parameters() -> None:
    search = omnidex_stage(
        stage(
            "feature_search",
            searches=[
                {
                    "feature_uri": "mixpeek://text_extractor@v1/embedding",
                    "query": {"input_mode": "text", "value": "{{INPUT.q}}"},
                    "top_k": 40,
                    "weight": 2,
                },
                {
                    "feature_uri": "mixpeek://text_extractor@v1/embedding",
                    "query": "{{INPUT.q}}",
                    "lexical": True,
                },
            ],
            final_top_k=15,
            fusion="weighted",
        ),
        0,
    )
    assert search["params"] == {
        "searches": [
            {
                "feature": "text_embedding@v1/vector",
                "query": "{{inputs.q}}",
                "name": "search0",
                "top_k": 40,
                "weight": 2,
            },
            {"feature": "text", "query": "{{inputs.q}}", "name": "search1"},
        ],
        "fusion": "weighted",
        "top_k": 15,
    }
    assert omnidex_stage(stage("group_by", group_by_field="root_object_id", max_per_group=2), 1)[
        "params"
    ] == {"field": "object_id", "top_n": 2}
    assert omnidex_stage(stage("sort_attribute", field="start_time", direction="desc"), 2) == {
        "type": "sort",
        "id": "sort_attribute",
        "params": {"field": "start_s", "order": "desc"},
    }
    assert omnidex_stage(stage("rerank", inference_name="org/model", top_k=5), 3)["params"] == {
        "field": "text",
        "model_id": "org/model",
        "top_k": 5,
    }
    assert omnidex_stage(stage("limit", limit=3), 4)["params"] == {"limit": 3, "offset": 0}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (stage("llm_filter"), "stage_id 'llm_filter'; omnidex maps: attribute_filter"),
        (stage("feature_search", searches=[]), "at least one search"),
        (
            stage(
                "feature_search",
                searches=[
                    {"feature_uri": "x@v1/y", "query": {"input_mode": "vector", "value": [0.1]}}
                ],
            ),
            "input_mode 'vector' is not supported",
        ),
        (
            stage(
                "feature_search",
                searches=[{"feature_uri": "ocr@v1/text", "query": "q"}],
                fusion="learned",
            ),
            "fusion 'learned' is not supported; omnidex fuses with: rrf, weighted, max",
        ),
        (stage("attribute_filter", field="a", operator="regex", value="x"), "operator 'regex'"),
        (stage("attribute_filter"), "needs field/operator/value or conditions"),
    ],
)
def test_what_cannot_be_mapped_is_refused_with_what_can(
    bad: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        omnidex_stage(bad, 0)
