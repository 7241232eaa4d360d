"""Stages that shape the list: ``deduplicate``, ``sort`` and ``limit`` (with offset paging).

- ``deduplicate`` keeps the first (best) candidate of each value of ``field``, or, with
  ``feature``, drops a candidate whose vector is at least ``threshold`` cosine-similar to one
  kept before it (near-duplicates: the same slide shown twice).
- ``sort`` orders by a field (``start_s``, ``metadata.date``…), missing values last.
- ``limit`` keeps ``limit`` candidates after skipping ``offset``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.stage import Stage
from omnidex.retrieval.stages.diversity import check_vector_feature, unit_vectors
from omnidex.retrieval.stages.grouping import field_value


class DeduplicateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str | None = None
    feature: str | None = None
    threshold: float = Field(0.95, gt=0, le=1)

    @model_validator(mode="after")
    def _one_way(self) -> DeduplicateParams:
        if (self.field is None) == (self.feature is None):
            raise ValueError("give either field (equal values) or feature (similar vectors)")
        return self


class Deduplicate(Stage):
    type = "deduplicate"
    Params = DeduplicateParams
    params: DeduplicateParams

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        if self.params.feature is not None:
            check_vector_feature(self, sources, self.params.feature, "params.feature")

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        if self.params.field is not None:
            seen: set[str] = set()
            kept = []
            for candidate in candidates:
                key = repr(field_value(candidate.document, self.params.field))
                if key not in seen:
                    seen.add(key)
                    kept.append(candidate)
            return kept
        assert self.params.feature is not None
        vectors = unit_vectors(context, candidates, self.params.feature)
        kept_vectors: list[np.ndarray] = []
        out = []
        for candidate, vector in zip(candidates, vectors, strict=True):
            if vector is not None and any(
                float(vector @ other) >= self.params.threshold for other in kept_vectors
            ):
                continue
            if vector is not None:
                kept_vectors.append(vector)
            out.append(candidate)
        return out


class SortParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    order: Literal["asc", "desc"] = "asc"


class Sort(Stage):
    type = "sort"
    Params = SortParams
    params: SortParams

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        present = [c for c in candidates if field_value(c.document, self.params.field) is not None]
        missing = [c for c in candidates if field_value(c.document, self.params.field) is None]
        try:
            present.sort(
                key=lambda c: field_value(c.document, self.params.field),
                reverse=self.params.order == "desc",
            )
        except TypeError:  # mixed types: compare as text
            present.sort(
                key=lambda c: str(field_value(c.document, self.params.field)),
                reverse=self.params.order == "desc",
            )
        return present + missing


class LimitParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000)


class Limit(Stage):
    type = "limit"
    Params = LimitParams
    params: LimitParams

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        return candidates[self.params.offset : self.params.offset + self.params.limit]
