"""Mixpeek feature extractors as omnidex pipelines, and Mixpeek feature URIs as omnidex features.

:data:`PIPELINES` says which omnidex extractors, in order, each Mixpeek name runs (the table in
docs/mixpeek.md shows it). Every pipeline has one text embedding of the text it found (page text,
OCR, captions, transcripts); ``clip_extractor`` adds ``image_embedding``, a SigLIP/CLIP embedding
of the pixels, which its URIs search (with the same model's text tower for the query). ``params``
may set ``model_id`` (the Phi-4 model of ``scene_caption``, the image model of ``clip_extractor``,
else the text embedder) and, keyed by an omnidex extractor's name, that extractor's own params
(``{"ocr": {"languages": "deu"}}``).
"""

from __future__ import annotations

from typing import Any

from omnidex.errors import InvalidSpecError, UnknownExtractorError

VECTOR = "text_embedding@v1/vector"
"""The text vector feature every mapped pipeline has."""
IMAGE_VECTOR = "image_embedding@v1/vector"
"""What a ``clip_extractor`` URI searches: the pixels' embedding."""
PIPELINES: dict[str, list[str]] = {
    "text_extractor": ["page_text", "text_embedding"],
    "multimodal_extractor": ["page_text", "ocr", "transcription", "text_embedding"],
    "image_extractor": ["page_text", "ocr", "transcription", "text_embedding"],
    "video_extractor": ["page_text", "ocr", "transcription", "text_embedding"],
    "scene_caption": ["page_text", "scene_caption", "transcription", "text_embedding"],
    "transcription": ["transcription", "text_embedding"],
    "audio_extractor": ["transcription", "text_embedding"],
    "clip_extractor": ["page_text", "text_embedding", "image_embedding"],
}
OWN_PARAMS = frozenset(
    {"page_text", "ocr", "transcription", "text_embedding", "scene_caption", "image_embedding"}
)


def pipeline(
    name: str, version: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The omnidex extractor specs for a Mixpeek extractor, and the params keys left unused."""
    if name not in PIPELINES:
        raise UnknownExtractorError(
            f"unknown feature_extractor_name {name!r}; omnidex maps: "
            f"{', '.join(sorted(PIPELINES))}",
            field="feature_extractor.feature_extractor_name",
        )
    if version != "v1":
        raise InvalidSpecError(
            f"{name} has version 'v1' only, not {version!r}", field="feature_extractor.version"
        )
    steps = PIPELINES[name]
    for step in steps:
        if not isinstance(params.get(step, {}), dict):
            raise InvalidSpecError(f"params.{step} must be an object", field=f"params.{step}")
    specs = {step: dict(params.get(step) or {}) for step in steps}
    if "model_id" in params:
        owner = next(
            s for s in ("scene_caption", "image_embedding", "text_embedding") if s in specs
        )
        specs[owner].setdefault("model_id", params["model_id"])
    unused = sorted(set(params) - OWN_PARAMS - {"model_id"})
    return [{"name": f"{step}@v1", "params": specs[step]} for step in steps], unused


def feature_uri(name: str, version: str) -> str:
    return f"mixpeek://{name}@{version}/embedding"


def resolve(uri: str, lexical: bool = False) -> str:
    """The omnidex feature a Mixpeek feature URI searches: the text embedding (``lexical``:
    BM25 over all text); an omnidex address (``ocr@v1/text``) is taken as it is."""
    if not uri.startswith("mixpeek://"):
        if "@" in uri or uri == "text":
            return uri
        raise InvalidSpecError(
            f"feature_uri {uri!r} is neither mixpeek://<extractor>@v1/<feature> nor an omnidex "
            "feature address",
            field="feature_uri",
        )
    extractor = uri.removeprefix("mixpeek://").split("@", 1)[0]
    if extractor not in PIPELINES and extractor not in ("text", "image"):
        raise InvalidSpecError(
            f"feature_uri {uri!r} names extractor {extractor!r}; omnidex maps: "
            f"{', '.join(sorted(PIPELINES))}",
            field="feature_uri",
        )
    if lexical:
        return "text"
    return IMAGE_VECTOR if extractor == "clip_extractor" else VECTOR
