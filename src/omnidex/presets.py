"""Collection presets: ready-made pipeline specs for the use cases omnidex is built for.

``meeting``: recorded meetings and talks. Each scene of a video (a shot, or 30 s of a static
slide) gets a caption of what is shown, the text of the slide or screen and the transcript of what
is said, all read by Phi-4-multimodal, and one embedding of the three together, so a search for a
phrase that was spoken, a word on a slide or something seen lands on the moment. PDFs and text
files (the deck, the minutes) are read and embedded beside them.

    db.create_collection("meetings", preset="meeting")
    db.create_collection("meetings", preset="meeting",
                         phi4={"backend": "openai", "base_url": "http://gpu-box:8000/v1"})

``phi4`` options (:class:`~omnidex.extractors.phi4_backend.Phi4Options`) apply to every Phi-4
extractor of the preset; ``embedding_model`` picks the text embedder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omnidex.errors import InvalidSpecError
from omnidex.types import CollectionSpec

MEETING_CAPTION_PROMPT = (
    "Describe this moment of a meeting or talk: who is shown and what they are doing, and what "
    "the slide or shared screen shows."
)


def meeting(
    phi4: Mapping[str, Any] | None = None, embedding_model: str | None = None
) -> CollectionSpec:
    """Scene captions, slide text and transcripts by Phi-4-multimodal, embedded together."""
    model = dict(phi4 or {})
    embedding = {"model_id": embedding_model} if embedding_model else {}
    return CollectionSpec.model_validate(
        {
            "segmentation": {"split": "scene", "max_segment_s": 30},
            "extractors": [
                {"name": "page_text@v1"},
                {
                    "name": "scene_caption@v1",
                    "params": {"prompt": MEETING_CAPTION_PROMPT, "max_new_tokens": 96, **model},
                },
                {"name": "ocr@v1", "params": {"engine": "phi4mm", **model}},
                {"name": "transcription@v1", "params": {"engine": "phi4mm", **model}},
                {"name": "text_embedding@v1", "params": embedding},
            ],
        }
    )


PRESETS: dict[str, Callable[..., CollectionSpec]] = {"meeting": meeting}


def preset_spec(
    name: str, phi4: Mapping[str, Any] | None = None, embedding_model: str | None = None
) -> CollectionSpec:
    """The spec of preset ``name``; InvalidSpecError naming the presets there are."""
    if name not in PRESETS:
        raise InvalidSpecError(
            f"unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}", field="preset"
        )
    return PRESETS[name](phi4=phi4, embedding_model=embedding_model)
