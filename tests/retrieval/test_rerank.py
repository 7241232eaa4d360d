"""``rerank`` with a tiny random cross-encoder, loaded through the path a hub id takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnidex.models.cross_encoders import get_cross_encoder
from omnidex.types import CollectionInfo

from .conftest import TEXT, Talks


def test_rerank_orders_the_head_by_the_models_scores_and_keeps_the_tail(
    talks: Talks, talks_info: CollectionInfo, tiny_cross_encoder_path: Path
) -> None:
    stages = [
        {"type": "feature_search", "id": "search", "params": {"searches": [{"feature": TEXT}]}},
        {
            "type": "rerank",
            "params": {"model_id": str(tiny_cross_encoder_path), "field": TEXT, "top_k": 3},
        },
    ]
    spec = {
        "name": "r",
        "collections": ["talks"],
        "inputs": {"query": {"type": "text"}},
        "stages": stages,
    }
    retriever = talks.retriever(spec, talks_info)
    result = retriever.run({"query": "revenue pricing launch"})
    hits = result.hits
    before = sorted(hits, key=lambda h: h.provenance["search"].rank)
    head, tail = before[:3], before[3:]
    model = get_cross_encoder(str(tiny_cross_encoder_path))
    texts = {h.id: next(e.text for e in h.evidence) for h in head}
    expected = model.score("revenue pricing launch", [t for t in texts.values()])
    by_model = [i for _, i in sorted(zip(expected, texts, strict=True), key=lambda p: -p[0])]
    assert [h.id for h in hits[:3]] == by_model
    assert [h.id for h in hits[3:]] == [h.id for h in tail]
    assert [h.provenance["rerank"].rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].provenance["rerank"].score == pytest.approx(float(max(expected)), abs=1e-5)
