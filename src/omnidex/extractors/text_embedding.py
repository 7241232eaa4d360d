"""``text_embedding@v1``: one vector per segment from the text features of earlier extractors.

The extractor embeds text that others produced (``page_text@v1/text``, ``ocr@v1/text``…): by
default all of the upstream text features, or the addresses listed in ``features``. The model is a
sentence-transformers model, resolved and shared by :mod:`omnidex.models.embedders`; vectors are
float32 numpy arrays of norm 1. :meth:`TextEmbedding.embed_queries` embeds search queries the same
way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from omnidex.errors import InvalidSpecError
from omnidex.extractors.base import Extractor, ExtractorParams
from omnidex.models.embedders import (
    TextEmbedder,
    configured_dim,
    get_embedder,
    get_query_embedder,
)
from omnidex.models.hub import DEFAULT_TEXT_MODEL
from omnidex.types import (
    FeatureColumn,
    FeatureSpec,
    FeatureType,
    QueryKind,
    QueryValue,
    Segment,
    SegmentKind,
    query_kind,
)


class TextEmbeddingParams(ExtractorParams):
    model_id: str = Field(
        DEFAULT_TEXT_MODEL, min_length=1, description="a Hugging Face model id or a local folder"
    )
    features: list[str] | None = Field(
        None, min_length=1, description="addresses of upstream text features; None: all of them"
    )
    batch_size: int = Field(64, ge=1, le=1024, description="texts per forward pass")
    device: str | None = Field(None, description="torch device; None: cuda if present, else cpu")


class TextEmbedding(Extractor):
    """A normalized embedding of each segment's upstream text features, joined by newlines."""

    name = "text_embedding"
    version = 1
    Params = TextEmbeddingParams
    accepts: ClassVar[frozenset[SegmentKind]] = frozenset(
        {"text", "image", "page", "scene", "audio"}
    )
    batch_size = 64
    params: TextEmbeddingParams

    _addresses: list[str] | None = None
    """The text features embedded, set by :meth:`bind`; None: every text feature a segment has."""

    def bind(self, upstream: Sequence[FeatureColumn]) -> None:
        texts = [c.address for c in upstream if c.type == FeatureType.TEXT]
        if not texts:
            raise InvalidSpecError(
                f"{self.ref} embeds text produced by earlier extractors, and none produces text; "
                "put a text extractor (page_text@v1, ocr@v1…) before it",
                extractor=self.ref,
                field="params.features",
            )
        for address in self.params.features or []:
            if address not in texts:
                raise InvalidSpecError(
                    f"{self.ref}: {address!r} is not a text feature of an earlier extractor; "
                    f"text features: {', '.join(texts)}",
                    extractor=self.ref,
                    field="params.features",
                )
        self._addresses = list(self.params.features or texts)

    def embedder(self) -> TextEmbedder:
        """The shared model (loaded on first use)."""
        return get_embedder(self.params.model_id, self.params.device)

    def load(self) -> None:
        self.embedder()

    def features(self) -> list[FeatureSpec]:
        return [
            FeatureSpec(
                name="vector",
                type=FeatureType.VECTOR,
                # from the folder's config where it says; else the model loads to tell
                dim=configured_dim(self.params.model_id) or self.embedder().dim,
                description=f"{self.params.model_id} embedding of the text, L2-normalized",
            )
        ]

    def extract(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        texts = [self._text_of(segment) for segment in segments]
        present = [i for i, text in enumerate(texts) if text]
        vectors = self.embedder().encode([texts[i] for i in present], self.params.batch_size)
        results: list[dict[str, Any]] = [{} for _ in segments]
        for row, i in enumerate(present):
            results[i] = {"vector": vectors[row]}
        return results

    def query_kinds(self) -> frozenset[QueryKind]:
        return frozenset({"text"})

    def embed_queries(self, queries: Sequence[QueryValue]) -> np.ndarray:
        """Query vectors for search (text queries only): same model and normalization, shape
        ``(len(queries), dim)``."""
        if any(query_kind(q) != "text" for q in queries):
            raise InvalidSpecError(f"{self.ref} embeds text queries only", extractor=self.ref)
        encoder = get_query_embedder(self.params.model_id, self.params.device)
        return encoder.encode([str(q) for q in queries], self.params.batch_size)

    def _text_of(self, segment: Segment) -> str:
        if self._addresses is None:
            values: list[Any] = list(segment.features.values())
        else:
            values = [segment.features.get(a) for a in self._addresses]
        return "\n".join(v for v in values if isinstance(v, str) and v.strip())
