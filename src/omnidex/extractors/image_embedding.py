"""``image_embedding@v1``: one vector per segment of what it shows, from a SigLIP/CLIP dual encoder.

Images are embedded whole; PDF pages as rendered (a scanned page's render, a text page's stored
thumbnail, once per page however many text chunks it has); video scenes from their keyframe, or
``frames`` frames spread over the scene whose normalized vectors are averaged and normalized
again (the mean direction: a scene that changes is near each of its looks, and one odd frame moves
it little). The model (:mod:`omnidex.models.image_text`) is shared by every extractor and query
in the process. As a :class:`~omnidex.types.QueryEncoder` it embeds a text query with the same
model's text tower and a query image with its image tower, so words find pictures and a picture
finds pictures like it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from omnidex.errors import InvalidSpecError, ModelLoadError
from omnidex.extractors.base import Extractor, ExtractorParams
from omnidex.models.hub import resolve_model
from omnidex.models.image_text import DualEncoder, embedding_dim, get_dual_encoder
from omnidex.types import (
    FeatureSpec,
    FeatureType,
    QueryKind,
    QueryValue,
    Segment,
    SegmentKind,
    query_kind,
)

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_IMAGE_MODEL = "google/siglip2-base-patch16-224"


@functools.cache
def default_model_missing() -> str | None:
    """None where the default image model can be found (a local folder, the Hugging Face cache,
    or the hub when it answers its quick probe); else why not, in one line. Asked once per
    process, so an offline machine pays for the probe once."""
    try:
        resolve_model(DEFAULT_IMAGE_MODEL)
    except ModelLoadError:
        return (
            f"image search is off: {DEFAULT_IMAGE_MODEL} is not on this machine and the hub "
            "cannot be reached; once it is cached, add image_embedding@v1 to the extractors "
            "(db.update_collection, or PUT /v1/collections/NAME/extractors)"
        )
    return None


class ImageEmbeddingParams(ExtractorParams):
    model_id: str = Field(
        DEFAULT_IMAGE_MODEL,
        min_length=1,
        description="a SigLIP 2, SigLIP or CLIP Hugging Face model id or a local folder",
    )
    frames: int = Field(
        1, ge=1, le=16, description="frames per video scene, pooled (1: the keyframe)"
    )
    batch_size: int = Field(32, ge=1, le=512, description="images per forward pass")
    device: str | None = Field(None, description="torch device; None: cuda if present, else cpu")


class ImageEmbedding(Extractor):
    """A normalized image embedding of each image, PDF page and video scene."""

    name = "image_embedding"
    version = 1
    Params = ImageEmbeddingParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset({"image", "page", "scene", "text"})
    batch_size = 32
    from_stored = True  # a keyframe or page picture is stored as the thumbnail
    params: ImageEmbeddingParams

    def encoder(self) -> DualEncoder:
        """The shared model (loaded on first use)."""
        return get_dual_encoder(self.params.model_id, self.params.device)

    def load(self) -> None:
        self.encoder()

    def accepts_segment(self, segment: Segment) -> bool:
        """Text segments only when they are a PDF page's (and so have its picture)."""
        if segment.kind == "text":
            return segment.page is not None and segment.thumbnail is not None
        return segment.kind in self.accepts

    def features(self) -> list[FeatureSpec]:
        return [
            FeatureSpec(
                name="vector",
                type=FeatureType.VECTOR,
                dim=embedding_dim(self.params.model_id),  # from the config: no weights load
                description=f"{self.params.model_id} image embedding, L2-normalized",
            )
        ]

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        images: list[Image.Image] = []
        owners: list[int] = []  # the segment each image belongs to
        pages: dict[tuple[str, int], int] = {}  # a page's first segment: its chunks share it
        shared: dict[int, int] = {}
        for number, segment in enumerate(segments):
            if segment.kind == "text" and segment.page is not None:
                first = pages.setdefault((segment.object_id, segment.page), number)
                if first != number:
                    shared[number] = first
                    continue
            for image in self._images(segment):
                images.append(image)
                owners.append(number)
        vectors = self.encoder().encode_images(images, self.params.batch_size)
        results: list[dict[str, Any]] = [{} for _ in segments]
        for number in dict.fromkeys(owners):
            rows = vectors[[i for i, owner in enumerate(owners) if owner == number]]
            results[number] = {"vector": _pooled(rows)}
        for number, first in shared.items():
            results[number] = dict(results[first])
        return results

    def query_kinds(self) -> frozenset[QueryKind]:
        return frozenset({"text", "image"})

    def embed_queries(self, queries: Sequence[QueryValue]) -> np.ndarray:
        """Query vectors: text through the text tower, images through the image tower, in
        order, shape ``(len(queries), dim)``."""
        kinds = [query_kind(q) for q in queries]
        if None in kinds:
            raise InvalidSpecError(f"{self.ref} embeds text and image queries", extractor=self.ref)
        encoder = self.encoder()
        out = np.zeros((len(queries), encoder.dim), dtype=np.float32)
        for kind, encode in (("text", encoder.encode_texts), ("image", encoder.encode_images)):
            rows = [i for i, k in enumerate(kinds) if k == kind]
            if rows:
                out[rows] = encode([queries[i] for i in rows], self.params.batch_size)
        return out

    def _images(self, segment: Segment) -> list[Image.Image]:
        if segment.kind == "scene" and self.params.frames > 1 and segment.frames is not None:
            return segment.frames(self.params.frames)
        if segment.image is not None:
            return [segment.image()]
        if segment.thumbnail is not None:
            from PIL import Image

            return [Image.open(io.BytesIO(segment.thumbnail)).convert("RGB")]
        return []


def _pooled(rows: np.ndarray) -> np.ndarray:
    """The mean of normalized vectors, normalized: the direction they share."""
    if len(rows) == 1:
        return rows[0]
    mean = rows.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
