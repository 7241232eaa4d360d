"""Reciprocal rank fusion: combine ranked lists by rank alone, so scales never need matching.

``score(d) = Σ_lists 1 / (k + rank_list(d))`` with ranks starting at 1 and ``k = 60`` (Cormack,
Clarke and Büttcher, 2009). Documents absent from a list get nothing from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], k: int = RRF_K
) -> list[tuple[str, float]]:
    """Fuse ``{list name: [doc ids, best first]}`` into ``[(doc id, score)]``, best first.

    Ties keep the order in which documents were first seen, list by list.
    """
    scores: dict[str, float] = {}
    for ids in rankings.values():
        for rank, doc_id in enumerate(ids, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])
