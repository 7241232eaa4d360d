"""``mmr``: maximal marginal relevance, so the top results are not near-copies of each other.

Candidates are picked one at a time: the next is the one maximising
``lambda · relevance − (1 − lambda) · max cosine similarity to those already picked``, with
relevance the candidate's current score mapped min-max onto [0, 1] and similarity taken on the
vector feature ``feature``. Candidates without that vector keep their relevance alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.fusion import normalize
from omnidex.retrieval.stage import Stage
from omnidex.types import FeatureType


class MmrParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str
    lambda_: float = Field(0.5, ge=0, le=1, alias="lambda")
    top_k: int = Field(20, ge=1, le=1000)


class Mmr(Stage):
    type = "mmr"
    Params = MmrParams
    params: MmrParams

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        check_vector_feature(self, sources, self.params.feature, "params.feature")

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        vectors = unit_vectors(context, candidates, self.params.feature)
        relevance = normalize([c.score for c in candidates])
        chosen: list[int] = []
        closest = np.full(len(candidates), -1.0)  # highest similarity to anything chosen
        remaining = set(range(len(candidates)))
        weight = self.params.lambda_
        while remaining and len(chosen) < self.params.top_k:
            best = max(
                remaining,
                key=lambda i: weight * relevance[i] - (1 - weight) * max(float(closest[i]), 0.0),
            )
            chosen.append(best)
            remaining.discard(best)
            picked = vectors[best]
            if picked is None:
                continue
            for i in remaining:
                other = vectors[i]
                if other is not None:
                    closest[i] = max(float(closest[i]), float(other @ picked))
        out = [candidates[i] for i in chosen]
        for rank, candidate in enumerate(out):
            candidate.score = float(len(out) - rank)  # the MMR order is the score
        return out


def check_vector_feature(stage: Stage, sources: Sequence[Source], address: str, field: str) -> None:
    found = [f for s in sources if (f := s.info.feature(address)) is not None]
    if not found or any(f.type is not FeatureType.VECTOR for f in found):
        raise stage.fail(field, f"{address!r} is not a vector feature of these collections")


def unit_vectors(
    context: RunContext, candidates: list[Candidate], address: str
) -> list[np.ndarray | None]:
    """Each candidate's ``address`` vector, normalized; None where it has none."""
    found: dict[str, list[float]] = {}
    for source in context.sources:
        ids = [c.id for c in candidates if c.collection.id == source.info.id]
        if ids and source.info.feature(address) is not None:
            found.update(context.store.vectors(source.info.id, address, ids))
    out: list[np.ndarray | None] = []
    for candidate in candidates:
        vector = found.get(candidate.id)
        if vector is None:
            out.append(None)
            continue
        array = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(array))
        out.append(array / norm if norm > 0 else None)
    return out
