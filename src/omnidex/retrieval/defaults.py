"""The default retriever of a collection: what ``Collection.search`` runs.

One ``feature_search`` stage over two optional inputs, ``query`` (text) and ``image``: for every
vector feature, one search per kind of query its extractor embeds (``text_embedding@v1/vector``
with the text; ``image_embedding@v1/vector`` with the text, through the model's text tower, and
as ``image_embedding@v1/vector:image`` with the image), and BM25 over all text features with the
text, fused by reciprocal rank. A search whose input is not given finds nothing, so the same
retriever serves a text query, an image query, and both together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from omnidex.retrieval.stages.search import MAX_TOP_K
from omnidex.types import FeatureType, InputSpec, QueryKind, RetrieverSpec, StageSpec

SEARCH_POOL = 50
"""Candidates each search fetches, at least (4 × k when k is larger, at most MAX_TOP_K)."""

INPUTS: dict[QueryKind, str] = {"text": "query", "image": "image"}
"""The default retriever's input of each query kind."""


def default_retriever_spec(
    collection: str,
    features: Iterable[tuple[str, FeatureType]],
    embeddable: Mapping[str, frozenset[QueryKind]],
    k: int,
) -> RetrieverSpec:
    """The default retriever of ``collection`` for ``k`` results; ``embeddable`` maps each vector
    feature that can be searched to the kinds of query its extractor embeds."""
    pool = min(MAX_TOP_K, max(SEARCH_POOL, 4 * k))
    searches: list[dict[str, object]] = [
        {
            "feature": address,
            "query": "{{inputs." + INPUTS[kind] + "}}",
            "top_k": pool,
            **({} if kind == "text" else {"name": f"{address}:{kind}"}),
        }
        for address in sorted(embeddable)
        for kind in sorted(embeddable[address], key=list(INPUTS).index)
    ]
    if any(kind is FeatureType.TEXT for _, kind in features):
        searches.append(
            {"feature": "text", "name": "bm25", "query": "{{inputs.query}}", "top_k": pool}
        )
    return RetrieverSpec(
        name=f"{collection}.search",
        collections=[collection],
        inputs={
            "query": InputSpec(type="text", required=False),
            "image": InputSpec(type="image", required=False),
        },
        stages=[
            StageSpec(type="feature_search", id="search", params={"searches": searches, "top_k": k})
        ],
    )
