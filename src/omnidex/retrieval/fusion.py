"""Fusion: combine ranked lists into one, by rank (``rrf``) or by normalized score.

- ``rrf``: ``score(d) = Σ_lists weight / (k + rank_list(d))``, ranks from 1, ``k = 60``
  (Cormack, Clarke and Büttcher, 2009); scales never need matching.
- ``weighted``: ``Σ_lists weight · norm_list(d)`` where ``norm`` maps a list's scores min-max onto
  [0, 1] (a list whose scores are all equal gives 1).
- ``max``: ``max_lists weight · norm_list(d)``.

Documents absent from a list get nothing from it. Ties keep the order in which documents were
first seen, list by list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

RRF_K = 60
FusionMethod = Literal["rrf", "weighted", "max"]
Ranked = Sequence[tuple[str, float]]
"""``[(doc id, score)]``, best first."""


def fuse(
    rankings: Mapping[str, Ranked],
    method: FusionMethod = "rrf",
    weights: Mapping[str, float] | None = None,
    k: int = RRF_K,
) -> list[tuple[str, float]]:
    """Fuse ``{list name: ranked}`` into ``[(doc id, score)]``, best first."""
    scores: dict[str, float] = {}
    for name, ranked in rankings.items():
        weight = (weights or {}).get(name, 1.0)
        if method == "rrf":
            parts = [weight / (k + rank) for rank in range(1, len(ranked) + 1)]
        else:
            parts = [weight * v for v in normalize([score for _, score in ranked])]
        for (doc_id, _), part in zip(ranked, parts, strict=True):
            if method == "max":
                scores[doc_id] = max(scores.get(doc_id, part), part)
            else:
                scores[doc_id] = scores.get(doc_id, 0.0) + part
    return sorted(scores.items(), key=lambda item: -item[1])


def normalize(values: Sequence[float]) -> list[float]:
    """Min-max onto [0, 1]; all equal → all 1."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high - low <= 1e-12:
        return [1.0] * len(values)
    return [(v - low) / (high - low) for v in values]
