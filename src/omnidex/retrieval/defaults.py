"""The default retriever of a collection: what ``Collection.search`` runs.

One ``feature_search`` stage: a vector search per vector feature that an extractor of the
collection can embed a query for, and BM25 over all text features, fused by reciprocal rank.
"""

from __future__ import annotations

from collections.abc import Iterable

from omnidex.types import FeatureType, InputSpec, RetrieverSpec, StageSpec

SEARCH_POOL = 50
"""Candidates each search fetches, at least (4 × k when k is larger)."""


def default_retriever_spec(
    collection: str, features: Iterable[tuple[str, FeatureType]], embeddable: Iterable[str], k: int
) -> RetrieverSpec:
    """The default retriever of ``collection`` for ``k`` results."""
    pool = max(SEARCH_POOL, 4 * k)
    searches: list[dict[str, object]] = [
        {"feature": address, "top_k": pool} for address in sorted(set(embeddable))
    ]
    if any(kind is FeatureType.TEXT for _, kind in features):
        searches.append({"feature": "text", "name": "bm25", "top_k": pool})
    return RetrieverSpec(
        name=f"{collection}.search",
        collections=[collection],
        inputs={"query": InputSpec(type="text")},
        stages=[
            StageSpec(type="feature_search", id="search", params={"searches": searches, "top_k": k})
        ],
    )
