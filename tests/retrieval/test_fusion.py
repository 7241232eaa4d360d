"""Fusion (rrf, weighted, max), checked against hand-computed sums."""

import pytest

from omnidex.retrieval.fusion import fuse, normalize


def ranked(*ids: str) -> list[tuple[str, float]]:
    return [(i, 0.0) for i in ids]


def test_rrf_matches_hand_computed_scores() -> None:
    fused = dict(fuse({"vector": ranked("a", "b", "c"), "bm25": ranked("c", "a")}))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)


def test_rrf_weights_scale_each_list() -> None:
    fused = dict(fuse({"x": ranked("a"), "y": ranked("a", "b")}, weights={"y": 2.0}))
    assert fused["a"] == pytest.approx(1 / 61 + 2 / 61)
    assert fused["b"] == pytest.approx(2 / 62)


def test_rrf_orders_by_fused_score_and_keeps_first_seen_order_on_ties() -> None:
    order = [doc for doc, _ in fuse({"x": ranked("a", "b"), "y": ranked("b", "a", "d")})]
    assert order[:2] == ["a", "b"]  # equal scores: first seen first
    assert order[2] == "d"


def test_fusion_of_nothing_is_empty() -> None:
    assert fuse({}) == []
    assert fuse({"x": []}, "weighted") == []


def test_rrf_k_changes_the_weight_of_rank() -> None:
    small_k = dict(fuse({"x": ranked("a", "b")}, k=1))
    assert small_k["a"] == pytest.approx(0.5)
    assert small_k["b"] == pytest.approx(1 / 3)


def test_weighted_fusion_normalizes_each_list_min_max() -> None:
    vector = [("a", 0.9), ("b", 0.7), ("c", 0.5)]  # → 1, 0.5, 0
    bm25 = [("c", 12.0), ("a", 4.0)]  # → 1, 0
    fused = dict(fuse({"v": vector, "t": bm25}, "weighted", weights={"v": 0.7, "t": 0.3}))
    assert fused["a"] == pytest.approx(0.7 * 1 + 0.3 * 0)
    assert fused["b"] == pytest.approx(0.7 * 0.5)
    assert fused["c"] == pytest.approx(0.7 * 0 + 0.3 * 1)


def test_max_fusion_keeps_the_best_normalized_score() -> None:
    fused = dict(fuse({"v": [("a", 0.9), ("b", 0.1)], "t": [("b", 3.0), ("a", 1.0)]}, "max"))
    assert fused == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    half = dict(fuse({"v": [("a", 0.9), ("b", 0.1)], "t": [("b", 3.0)]}, "max", {"t": 0.5}))
    assert half["b"] == pytest.approx(0.5) and half["a"] == pytest.approx(1.0)


def test_normalize() -> None:
    assert normalize([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert normalize([5.0, 5.0]) == [1.0, 1.0]
    assert normalize([]) == []
