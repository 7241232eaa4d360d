"""recall@k, MRR and nDCG@k on hand-computed examples, and reading qrels files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from omnidex.errors import InvalidSpecError
from omnidex.retrieval.evaluation import Place, Qrel, evaluate, load_qrels, matches, score_query
from omnidex.types import Hit, Moment


def hit(doc_id: str, object_id: str = "o", **fields: object) -> Hit:
    return Hit(
        id=doc_id,
        score=0,
        object_id=object_id,
        source=f"/m/{object_id}.mp4",
        kind="scene",
        key=doc_id,
        **fields,
    )


def test_hand_computed_metrics() -> None:
    qrel = Qrel(query="q", relevant=["b", "d", "z"])
    score = score_query(qrel, [hit("a"), hit("b"), hit("c"), hit("d")], k=4)
    assert score.recall == pytest.approx(2 / 3)
    assert score.reciprocal_rank == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert score.ndcg == pytest.approx(dcg / ideal)


def test_k_cuts_and_each_relevant_item_counts_once() -> None:
    qrel = Qrel(query="q", relevant=[Place(object_id="o")])
    score = score_query(qrel, [hit("a"), hit("b")], k=2)  # both in the object: one item, once
    assert (score.recall, score.reciprocal_rank, score.ndcg) == (1.0, 1.0, 1.0)
    assert score_query(Qrel(query="q", relevant=["b"]), [hit("a"), hit("b")], k=1).recall == 0


def test_places_match_by_object_time_page_and_moments() -> None:
    scene = hit("a", start_s=30.0, end_s=40.0)
    assert matches(scene, Place(object_id="o", start_s=35, end_s=50))
    assert not matches(scene, Place(object_id="o", start_s=40, end_s=50))
    assert matches(scene, Place(source="o.mp4"))
    assert not matches(scene, Place(object_id="other"))
    grouped = hit("a", moments=[Moment(score=1, ids=["a", "x"], start_s=100, end_s=120)])
    assert matches(grouped, Place(object_id="o", start_s=110, end_s=111))
    assert matches(grouped, "x")
    assert matches(hit("p", page=3), Place(object_id="o", page=3))


def test_evaluate_averages_over_queries() -> None:
    qrels = [Qrel(query="one", relevant=["a"]), Qrel(query="two", relevant=["b"])]
    report = evaluate(lambda inputs: [hit("a"), hit("b")], qrels, k=10)
    assert report.recall_at_k == 1.0 and report.mrr == pytest.approx((1 + 0.5) / 2)
    assert [q.query for q in report.per_query] == ["one", "two"]


def test_qrels_files(tmp_path: Path) -> None:
    lines = tmp_path / "q.jsonl"
    second = '{"inputs": {"query": "b"}, "relevant": [{"source": "x.pdf", "page": 2}]}'
    lines.write_text('{"query": "a", "relevant": ["d1"]}\n\n' + second + "\n")
    qrels = load_qrels(lines)
    assert [q.run_inputs() for q in qrels] == [{"query": "a"}, {"query": "b"}]
    listed = tmp_path / "q.json"
    listed.write_text('[{"query": "a", "relevant": ["d1"]}]')
    assert len(load_qrels(listed)) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"query": "a", "relevant": ["d1"]}\n{"query": "b", "relevant": [{"page": 2}]}\n'
    )
    with pytest.raises(InvalidSpecError, match="line 2"):
        load_qrels(bad)
    bad.write_text("not json")
    with pytest.raises(InvalidSpecError, match="not JSON"):
        load_qrels(bad)
