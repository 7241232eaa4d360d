"""``rerank``: score the top candidates again with a cross-encoder reading query and text together.

``field`` is the text the model reads: a text feature address, or ``text`` for all of a
document's text. Only the first ``top_k`` candidates are reranked; the rest follow in their
order. The model loads through :mod:`omnidex.models.cross_encoders` (hub id, cache or folder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from omnidex.models.cross_encoders import CrossEncoderModel, get_cross_encoder
from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.stage import Stage
from omnidex.types import FeatureType

DEFAULT_RERANKER = "cross-encoder/ms-marco-MiniLM-L6-v2"


class RerankParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str = DEFAULT_RERANKER
    field: str = "text"
    query: str | None = None
    """What the passages should answer; by default the retriever's text input."""
    top_k: int = Field(50, ge=1, le=1000)
    batch_size: int = Field(32, ge=1, le=512)


class Rerank(Stage):
    type = "rerank"
    Params = RerankParams
    params: RerankParams
    _model: CrossEncoderModel | None = None

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        field = self.params.field
        if field == "text":
            return
        found = [f for s in sources if (f := s.info.feature(field)) is not None]
        if not found or any(f.type is not FeatureType.TEXT for f in found):
            raise self.fail("params.field", f"{field!r} is not a text feature of these collections")

    def warm_up(self) -> None:
        if self._model is None:
            self._model = get_cross_encoder(self.params.model_id)

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        self.warm_up()
        assert self._model is not None
        head, tail = candidates[: self.params.top_k], candidates[self.params.top_k :]
        passages = [c.text_of(self.params.field) for c in head]
        query = self.params.query if self.params.query is not None else context.query
        scores = self._model.score(query, passages, self.params.batch_size)
        for candidate, score in zip(head, scores, strict=True):
            candidate.score = float(score)
        reranked = sorted(head, key=lambda c: -c.score)
        floor = reranked[-1].score if reranked else 0.0
        for offset, candidate in enumerate(tail, start=1):
            candidate.score = floor - offset  # below every reranked one, in their old order
        return reranked + tail
