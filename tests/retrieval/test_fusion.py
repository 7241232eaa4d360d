"""Reciprocal rank fusion, checked against hand-computed sums."""

import pytest

from omnidex.retrieval.fusion import reciprocal_rank_fusion


def test_rrf_matches_hand_computed_scores() -> None:
    fused = dict(reciprocal_rank_fusion({"vector": ["a", "b", "c"], "bm25": ["c", "a"]}))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)


def test_rrf_orders_by_fused_score_and_keeps_first_seen_order_on_ties() -> None:
    ranked = [doc for doc, _ in reciprocal_rank_fusion({"x": ["a", "b"], "y": ["b", "a", "d"]})]
    assert ranked[:2] == ["a", "b"]  # equal scores: first seen first
    assert ranked[2] == "d"


def test_rrf_of_nothing_is_empty() -> None:
    assert reciprocal_rank_fusion({}) == []
    assert reciprocal_rank_fusion({"x": []}) == []


def test_rrf_k_changes_the_weight_of_rank() -> None:
    small_k = dict(reciprocal_rank_fusion({"x": ["a", "b"]}, k=1))
    assert small_k["a"] == pytest.approx(0.5)
    assert small_k["b"] == pytest.approx(1 / 3)
