"""The wire forms of what the API returns and takes, where they differ from omnidex's own types.

Documents carry vectors (float arrays) and thumbnail bytes: on the wire a document lists its
features with vectors left out unless asked for, and links to its thumbnail and source media.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnidex.types import Document, ExtractorSpec, SegmentationSpec, SegmentKind


class DocumentOut(BaseModel):
    id: str
    object_id: str
    kind: SegmentKind
    key: str
    source: str
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    fps: float | None = None
    features: dict[str, Any]
    metadata: dict[str, Any]
    spec_version: int
    extractors: list[str]
    thumbnail_url: str | None

    @classmethod
    def of(cls, document: Document, base: str, vectors: bool = False) -> DocumentOut:
        features = {
            address: value.tolist() if isinstance(value, np.ndarray) else value
            for address, value in document.features.items()
            if vectors or not _is_vector(value)
        }
        return cls(
            **document.model_dump(exclude={"features", "thumbnail"}),
            features=features,
            thumbnail_url=f"{base}/{document.id}/thumbnail" if document.thumbnail else None,
        )


def _is_vector(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    return isinstance(value, list) and bool(value) and isinstance(value[0], float)


class DocumentPage(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int


class CollectionIn(BaseModel):
    """A new collection: extractors and segmentation, or a preset with its options."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    extractors: list[str | ExtractorSpec] | None = None
    segmentation: SegmentationSpec | None = None
    preset: str | None = None
    phi4: dict[str, Any] | None = None
    embedding_model: str | None = None


class ExtractorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extractors: list[str | ExtractorSpec] = Field(min_length=1)
    segmentation: SegmentationSpec | None = None


class AddExtractorIn(BaseModel):
    """An extractor to add to a filled collection and run over what it stores."""

    model_config = ConfigDict(extra="forbid")

    extractor: str | ExtractorSpec


class SearchIn(BaseModel):
    """A search: text, an image (base64 in JSON, or a multipart file field ``image``), or both."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, min_length=1, max_length=4000)
    image: str | None = Field(None, min_length=1, description="an image file, base64-encoded")
    k: int = Field(10, ge=1, le=1000)
    where: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _something_to_search(self) -> Self:
        if self.query is None and self.image is None:
            raise ValueError("give a query, an image, or both")
        return self


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection: str
    document_id: str
    question: str = Field(min_length=1, max_length=4000)
    max_new_tokens: int = Field(256, ge=1, le=4096)


class AskOut(BaseModel):
    answer: str
