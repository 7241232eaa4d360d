"""``scene_caption@v1``: what an image or a video scene shows, written by Phi-4-multimodal.

A scene is described from its keyframe, or from ``frames`` frames spread over it as one
multi-image prompt (motion, and what changes, become visible). Images are downscaled to
``max_side`` and cut into at most ``max_crops`` high-resolution crops first: image tokens dominate
the cost (a 1080p frame is ~3,900 tokens, 896×504 ~870).

With ``response_schema`` (a JSON schema) the model is asked for JSON that matches it; the answer is
parsed and validated, the request retried once with the validation error when it does not match,
and the object stored as the ``fields`` feature (the caption keeps the raw answer). An answer that
fails twice keeps its caption and gets no ``fields``; the failure is logged.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from omnidex.extractors.base import Extractor
from omnidex.extractors.phi4_backend import Phi4Options, generator_for
from omnidex.models.phi4mm import fit_image
from omnidex.models.prompts import Generator, Prompt
from omnidex.types import FeatureSpec, FeatureType, Segment, SegmentKind

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_PROMPT = (
    "Describe this image in detail: the setting, the people and what they do, objects, and any "
    "visible text."
)
SCENE_PROMPT = (
    "These are frames from one scene of a video, in order. Describe the scene in detail: the "
    "setting, the people and what they do, what changes, and any visible text."
)
SCHEMA_INSTRUCTION = (
    "\n\nAnswer with only a JSON object, no other text, that matches this JSON schema:\n{schema}"
)
RETRY_INSTRUCTION = (
    "\n\nYour previous answer was not valid: {error}. Answer again with only the JSON object."
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class SceneCaptionParams(Phi4Options):
    prompt: str | None = Field(
        None, min_length=1, max_length=4000, description="instruction; None: a built-in one"
    )
    max_new_tokens: int = Field(128, ge=1, le=4096, description="longest caption, in tokens")
    frames: int = Field(
        1, ge=1, le=16, description="frames of a scene shown together (1: the keyframe)"
    )
    max_side: int = Field(896, ge=224, le=4096, description="longest image side before crops")
    max_crops: int = Field(4, ge=1, le=36, description="high-resolution crops per image at most")
    response_schema: dict[str, Any] | None = Field(
        None, description="a JSON schema the caption must match; stored as the fields feature"
    )

    @field_validator("response_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            from jsonschema import Draft202012Validator, SchemaError

            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON schema: {exc.message}") from None
        return schema


class SceneCaption(Extractor):
    """A caption per image and video scene, and optionally fields that match a JSON schema."""

    name = "scene_caption"
    version = 1
    Params = SceneCaptionParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"image", "scene"})
    batch_size = 16
    params: SceneCaptionParams

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._generator = functools.partial(generator_for, self.params)
        self._checked = False

    def features(self) -> list[FeatureSpec]:
        features = [
            FeatureSpec(name="caption", type=FeatureType.TEXT, description="what is shown"),
        ]
        if self.params.response_schema is not None:
            features.append(
                FeatureSpec(
                    name="fields",
                    type=FeatureType.JSON,
                    description="the caption as an object matching response_schema",
                )
            )
        return features

    def load(self) -> None:
        if not self._checked:
            self._generator().check(["vision"])
            self._checked = True

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        self.load()
        shown = [
            (n, images) for n, segment in enumerate(segments) if (images := self._images(segment))
        ]
        prompts = [self._prompt(images, len(images) > 1) for _, images in shown]
        generator = self._generator()
        answers = generator.generate(prompts)
        features: list[dict[str, Any]] = [{} for _ in segments]
        results = (
            self._structured(generator, prompts, answers)
            if self.params.response_schema is not None
            else [{"caption": answer} for answer in answers]
        )
        for (number, _), result in zip(shown, results, strict=True):
            if result.get("caption"):
                features[number] = result
        return features

    def _images(self, segment: Segment) -> list[Image.Image]:
        if segment.kind == "scene" and self.params.frames > 1 and segment.frames is not None:
            images = segment.frames(self.params.frames)
        elif segment.image is not None:
            images = [segment.image()]
        else:
            images = []
        return [fit_image(image, self.params.max_side) for image in images]

    def _prompt(self, images: list[Image.Image], scene: bool) -> Prompt:
        instruction = self.params.prompt or (SCENE_PROMPT if scene else DEFAULT_PROMPT)
        if self.params.response_schema is not None:
            schema = json.dumps(self.params.response_schema)
            instruction += SCHEMA_INSTRUCTION.format(schema=schema)
        return Prompt(
            instruction,
            images=tuple(images),
            max_new_tokens=self.params.max_new_tokens,
            max_crops=self.params.max_crops,
        )

    def _structured(
        self, generator: Generator, prompts: list[Prompt], answers: list[str]
    ) -> list[dict[str, Any]]:
        """Caption and fields of each answer; answers that do not match are asked once more."""
        checked = [parse_fields(answer, self.params.response_schema or {}) for answer in answers]
        again = [i for i, (_, error) in enumerate(checked) if error is not None]
        retries = [
            Prompt(
                prompts[i].instruction + RETRY_INSTRUCTION.format(error=checked[i][1]),
                images=prompts[i].images,
                max_new_tokens=prompts[i].max_new_tokens,
                max_crops=prompts[i].max_crops,
            )
            for i in again
        ]
        for i, answer in zip(again, generator.generate(retries) if retries else [], strict=True):
            fields, error = parse_fields(answer, self.params.response_schema or {})
            if error is None:
                answers[i], checked[i] = answer, (fields, None)
            else:
                log.warning("%s: answer does not match response_schema twice: %s", self.ref, error)
        return [
            {"caption": answer, **({"fields": fields} if error is None else {})}
            for answer, (fields, error) in zip(answers, checked, strict=True)
        ]


def parse_fields(answer: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """The JSON value in ``answer`` (code fences allowed) and None, or None and why it is not
    valid against ``schema``."""
    from jsonschema import Draft202012Validator

    text = _FENCE.sub("", answer.strip())
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at character {exc.pos})"
    error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        return None, f"at {where}: {error.message}"
    return value, None
