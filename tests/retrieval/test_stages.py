"""Each retrieval stage on the talks collection, whose right answers are known by construction."""

from __future__ import annotations

from typing import Any

import pytest

from omnidex.cli.render import where_in_source
from omnidex.errors import InvalidSpecError
from omnidex.retrieval.defaults import default_retriever_spec
from omnidex.types import CollectionInfo, Document, Hit

from .conftest import FEATURES, SLIDE, TEXT, VECTOR, Moment, Talks, embed


def spec(*stages: dict[str, Any], inputs: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {
        "name": "test",
        "collections": extra.pop("collections", ["talks"]),
        "inputs": inputs if inputs is not None else {"query": {"type": "text"}},
        "stages": list(stages),
        **extra,
    }


def search(*searches: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {
        "type": "feature_search",
        "id": "search",
        "params": {"searches": list(searches), **params},
    }


def ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def run(talks: Talks, info: CollectionInfo, the_spec: dict, **inputs: Any) -> list[Hit]:
    return talks.retriever(the_spec, info).run(inputs).hits


# --- feature_search ----------------------------------------------------------------------------


def test_vector_search_ranks_by_cosine_with_the_collections_embedder(
    talks: Talks, talks_info: CollectionInfo
) -> None:
    hits = run(talks, talks_info, spec(search({"feature": VECTOR, "top_k": 2})), query="revenue")
    assert ids(hits) == ["talks:q3:0", "talks:q3:10"]
    scores = [h.provenance[f"search/{VECTOR}"].score for h in hits]
    assert scores == pytest.approx([1.0, 2**-0.5], abs=1e-4)
    assert all(h.matched == [VECTOR] for h in hits)


def test_rrf_fuses_vector_and_bm25_by_rank(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(search({"feature": VECTOR, "top_k": 3}, {"feature": TEXT, "top_k": 3}))
    hits = run(talks, talks_info, the_spec, query="pricing launch")
    assert hits[0].id == "talks:plan:30"  # the only one saying both words, first in both lists
    for hit in hits:
        parts = [s for name, s in hit.provenance.items() if name.startswith("search/")]
        assert hit.score == pytest.approx(sum(1 / (60 + p.rank) for p in parts))
        assert hit.provenance["search"].score == pytest.approx(hit.score)
    assert hits[0].evidence[0].field == TEXT and "launch" in hits[0].evidence[0].text


def test_weighted_fusion_and_min_score(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(
        search(
            {"feature": VECTOR, "top_k": 10, "min_score": 0.6, "weight": 2},
            {"feature": [TEXT, SLIDE], "top_k": 10, "name": "words"},
            fusion="weighted",
        )
    )
    hits = run(talks, talks_info, the_spec, query="revenue")
    vector = {h.id: h.provenance[f"search/{VECTOR}"].score for h in hits if h.matched[0] == VECTOR}
    assert set(vector) == {"talks:q3:0", "talks:q3:10"}  # the rest are below 0.6
    assert hits[0].id == "talks:q3:0"
    assert hits[0].score == pytest.approx(2 * 1.0 + 1 * 1.0)  # best of both lists, normalized


def test_a_search_after_candidates_looks_only_among_them(
    talks: Talks, talks_info: CollectionInfo
) -> None:
    first = search({"feature": TEXT, "top_k": 2})
    second = {"type": "feature_search", "params": {"searches": [{"feature": VECTOR}]}}
    hits = run(talks, talks_info, spec(first, second), query="roadmap")
    assert set(ids(hits)) == {"talks:plan:0", "talks:plan:10"}
    assert all({"search", "feature_search"} <= set(h.provenance) for h in hits)


def test_searches_span_several_collections(talks: Talks, talks_info: CollectionInfo) -> None:
    other = talks.collection("archive", [Moment("old", 0, "revenue revenue revenue")])
    the_spec = spec(search({"feature": VECTOR, "top_k": 3}), collections=["talks", "archive"])
    hits = talks.retriever(the_spec, talks_info, other).run({"query": "revenue"}).hits
    assert {h.collection for h in hits[:2]} == {"talks", "archive"}


# --- attribute_filter --------------------------------------------------------------------------


def test_a_filter_before_the_search_is_pushed_down(
    talks: Talks, talks_info: CollectionInfo
) -> None:
    before = spec(
        {"type": "attribute_filter", "params": {"where": "speaker = 'bob'"}},
        search({"feature": VECTOR, "top_k": 1}),
    )
    result = talks.retriever(before, talks_info).run({"query": "revenue"})
    assert ids(result.hits) == ["talks:q3:10"]  # the best of bob's, though ann's q3:0 is better
    assert "pushed down" in result.stages[0].notes[0]
    after = spec(
        search({"feature": VECTOR, "top_k": 1}),
        {"type": "attribute_filter", "params": {"where": "speaker = 'bob'"}},
    )
    assert run(talks, talks_info, after, query="revenue") == []  # filtered in memory


def test_filter_inputs_are_values_never_syntax(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(
        {"type": "attribute_filter", "params": {"where": "speaker = {{inputs.who}}"}},
        search({"feature": TEXT, "top_k": 10}),
        inputs={"query": {"type": "text"}, "who": {"type": "string"}},
    )
    found = run(talks, talks_info, the_spec, query="pricing", who="bob")
    assert ids(found) and all(h.metadata["speaker"] == "bob" for h in found)
    for attack in ["bob' or speaker = 'ann", "x' OR '1'='1", "'; DROP TABLE talks; --"]:
        assert run(talks, talks_info, the_spec, query="pricing", who=attack) == []


def test_time_ranges_numbers_and_boolean_logic(talks: Talks, talks_info: CollectionInfo) -> None:
    where = "start_s >= 10 and end_s <= 40 and not speaker = 'cid' and year >= {{inputs.since}}"
    the_spec = spec(
        search({"feature": VECTOR, "top_k": 10}),
        {"type": "attribute_filter", "params": {"where": where}},
        inputs={"query": {"type": "text"}, "since": {"type": "number"}},
    )
    hits = run(talks, talks_info, the_spec, query="launch pricing", since="2024")
    assert set(ids(hits)) == {"talks:plan:20", "talks:plan:30"}


# --- group_by, mmr, deduplicate, sort, limit ---------------------------------------------------


def test_group_by_object_merges_adjacent_moments(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(
        search({"feature": VECTOR, "top_k": 10, "min_score": 0.1}),
        {"type": "group_by", "params": {"merge_gap_s": 0, "top_n": 3}},
    )
    hits = run(talks, talks_info, the_spec, query="revenue pricing")
    assert [h.object_id for h in hits] == ["q3", "plan"]
    q3, plan = hits
    assert [(m.start_s, m.end_s) for m in q3.moments] == [(0, 20)]  # 0-10 and 10-20 touch
    assert set(q3.moments[0].ids) == {"talks:q3:0", "talks:q3:10"}
    assert [(m.start_s, m.end_s) for m in plan.moments] == [(30, 40)]
    assert q3.score == pytest.approx(q3.provenance["search"].score)  # max: its best moment


# One meeting, eight touching scenes, cosines for "pricing launch" falling in this rank order:
# the 30 s scene first, then 40 s, 0 s, 60 s, 20 s, 10 s, 70 s, 50 s.
MEETING = [
    Moment("meeting", 0, "pricing revenue revenue"),
    Moment("meeting", 10, "launch security security security security security"),
    Moment("meeting", 20, "pricing churn churn churn churn"),
    Moment("meeting", 30, "pricing launch"),
    Moment("meeting", 40, "launch budget"),
    Moment("meeting", 50, "launch budget budget budget budget budget budget budget"),
    Moment("meeting", 60, "launch hiring hiring hiring"),
    Moment("meeting", 70, "pricing roadmap roadmap roadmap roadmap roadmap roadmap"),
]


@pytest.mark.parametrize("gap", [0, 1])
def test_group_by_moments_are_the_strong_runs_not_the_whole_video(talks: Talks, gap: float) -> None:
    info = talks.collection("meeting", MEETING)
    search_all = search({"feature": VECTOR, "top_k": 10})
    the_spec = spec(
        search_all, {"type": "group_by", "params": {"merge_gap_s": gap}}, collections=["meeting"]
    )
    (hit,) = talks.retriever(the_spec, info).run({"query": "pricing launch"}).hits
    assert len(hit.moments) == 3 and (0, 80) not in [(m.start_s, m.end_s) for m in hit.moments]
    best = max(hit.moments, key=lambda m: m.score)
    assert (best.start_s, best.end_s) == (30, 50)  # the best scene and the runner-up beside it
    assert best.ids == ["meeting:meeting:30", "meeting:meeting:40"]
    one = spec(search_all, {"type": "group_by", "params": {"top_n": 1}}, collections=["meeting"])
    (hit,) = talks.retriever(one, info).run({"query": "pricing launch"}).hits
    assert [(m.start_s, m.end_s) for m in hit.moments] == [(30, 50)]


def test_group_by_page_runs_keep_their_last_page(talks: Talks) -> None:
    def page(number: int, text: str) -> Document:
        return Document(
            id=f"manual:{number}",
            object_id="manual",
            kind="page",
            key=f"page={number}",
            source="/docs/manual.pdf",
            page=number,
            features={TEXT: text, SLIDE: "", VECTOR: embed(text)},
        )

    pages = ["budget hiring", "budget", "budget hiring roadmap", "churn", "budget churn churn"]
    info = talks.collection_of("manuals", [page(n, t) for n, t in enumerate(pages, start=1)])
    the_spec = spec(
        search({"feature": VECTOR, "top_k": 10}), {"type": "group_by"}, collections=["manuals"]
    )
    (hit,) = talks.retriever(the_spec, info).run({"query": "budget"}).hits
    run_of_three = hit.moments[0]
    assert (run_of_three.page, run_of_three.end_page) == (1, 3)
    assert set(run_of_three.ids) == {"manual:1", "manual:2", "manual:3"}
    assert where_in_source(run_of_three) == "p. 1–3"


def test_group_scores_can_sum_and_moments_stay_in_time_order(
    talks: Talks, talks_info: CollectionInfo
) -> None:
    the_spec = spec(
        search({"feature": TEXT, "top_k": 10}),
        {"type": "group_by", "params": {"merge_gap_s": 0, "score": "sum", "top_n": 2}},
    )
    hits = run(talks, talks_info, the_spec, query="launch roadmap budget")
    plan = next(h for h in hits if h.object_id == "plan")
    starts = [m.start_s for m in plan.moments]
    assert starts == sorted(starts) and len(plan.moments) <= 2
    fused = [
        s.score for name, s in plan.provenance.items() if name == "search"
    ]  # the group's own best moment
    assert plan.score >= fused[0]


def test_mmr_passes_over_a_near_copy(talks: Talks) -> None:
    info = talks.collection(
        "copies",
        [
            Moment("a", 0, "revenue revenue"),
            Moment("b", 0, "revenue revenue"),
            Moment("c", 0, "revenue churn"),
        ],
    )
    the_spec = spec(
        search({"feature": VECTOR, "top_k": 3}),
        {"type": "mmr", "params": {"feature": VECTOR, "lambda": 0.3, "top_k": 3}},
        collections=["copies"],
    )
    hits = talks.retriever(the_spec, info).run({"query": "revenue"}).hits
    assert hits[0].object_id in ("a", "b") and hits[1].object_id == "c"
    plain = talks.retriever(
        spec(search({"feature": VECTOR, "top_k": 3}), collections=["copies"]), info
    )
    assert plain.run({"query": "revenue"}).hits[2].object_id == "c"


def test_deduplicate_by_field_and_by_vector(talks: Talks, talks_info: CollectionInfo) -> None:
    by_field = spec(
        search({"feature": VECTOR, "top_k": 10}),
        {"type": "deduplicate", "params": {"field": "object_id"}},
    )
    assert [h.object_id for h in run(talks, talks_info, by_field, query="revenue")] == [
        "q3",
        "plan",
    ]
    info = talks.collection("copies", [Moment("a", 0, "churn"), Moment("b", 0, "churn churn")])
    by_vector = spec(
        search({"feature": VECTOR, "top_k": 10}),
        {"type": "deduplicate", "params": {"feature": VECTOR, "threshold": 0.99}},
        collections=["copies"],
    )
    assert len(talks.retriever(by_vector, info).run({"query": "churn"}).hits) == 1


def test_sort_and_paged_limit(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(
        search({"feature": TEXT, "top_k": 10}),
        {"type": "sort", "params": {"field": "start_s", "order": "desc"}},
        {"type": "limit", "params": {"limit": 2, "offset": 1}},
    )
    hits = run(talks, talks_info, the_spec, query="revenue pricing launch")
    everything = run(
        talks,
        talks_info,
        spec(
            search({"feature": TEXT, "top_k": 10}),
            {"type": "sort", "params": {"field": "start_s", "order": "desc"}},
        ),
        query="revenue pricing launch",
    )
    assert ids(hits) == ids(everything)[1:3]
    assert [h.start_s for h in everything] == sorted((h.start_s for h in everything), reverse=True)


def test_explain_reports_each_stage(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(
        {"type": "attribute_filter", "params": {"where": "kind = 'scene'"}},
        search({"feature": TEXT, "top_k": 10}),
        {"type": "limit", "params": {"limit": 1}},
    )
    result = talks.retriever(the_spec, talks_info).run({"query": "revenue"})
    assert [(s.id, s.candidates_in, s.candidates_out) for s in result.stages] == [
        ("attribute_filter", 0, 0),
        ("search", 0, 2),
        ("limit", 2, 1),
    ]
    assert all(s.ms >= 0 for s in result.stages) and result.total_ms >= 0


# --- specs that cannot work are refused when saved --------------------------------------------


@pytest.mark.parametrize(
    ("stages", "inputs", "field", "says"),
    [
        (
            [search({"feature": "caption@v1/text"})],
            None,
            "stages[0].params.searches[0].feature",
            "no collection",
        ),
        (
            [
                {"type": "attribute_filter", "params": {"where": "kind = {{inputs.kind}}"}},
                search({"feature": TEXT}),
            ],
            None,
            "stages[0].params.where",
            "does not declare",
        ),
        ([{"type": "teleport"}], None, "stages[0].type", "unknown stage type"),
        (
            [search({"feature": TEXT, "top_k": "many"})],
            None,
            "stages[0].params.searches.0.top_k",
            "integer",
        ),
        (
            [search({"feature": TEXT}), {"type": "mmr", "params": {"feature": TEXT}}],
            None,
            "stages[1].params.feature",
            "not a vector",
        ),
        ([{"type": "limit"}], None, "stages", "feature_search"),
        (
            [
                {"type": "attribute_filter", "params": {"where": "kind = = 'x'"}},
                search({"feature": TEXT}),
            ],
            None,
            "stages[0].params.where",
            "expected a value",
        ),
        (
            [search({"feature": VECTOR, "query": "{{inputs.photo}}"})],
            {"photo": {"type": "image"}},
            "stages[0].params.searches[0].query",
            "image",
        ),
        (
            [search({"feature": TEXT}), {"type": "rerank", "params": {"field": VECTOR}}],
            None,
            "stages[1].params.field",
            "not a text",
        ),
    ],
)
def test_a_spec_that_cannot_work_is_refused_naming_stage_and_field(
    talks: Talks,
    talks_info: CollectionInfo,
    stages: list[dict[str, Any]],
    inputs: dict[str, Any] | None,
    field: str,
    says: str,
) -> None:
    with pytest.raises(InvalidSpecError, match=says) as error:
        talks.retriever(spec(*stages, inputs=inputs), talks_info)
    assert error.value.context["field"] == field


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({}, "inputs.query"),
        ({"query": 3}, "inputs.query"),
        ({"query": "x", "nope": 1}, "inputs.nope"),
    ],
)
def test_inputs_are_checked_when_run(
    talks: Talks, talks_info: CollectionInfo, given: dict[str, Any], field: str
) -> None:
    retriever = talks.retriever(spec(search({"feature": TEXT})), talks_info)
    with pytest.raises(InvalidSpecError) as error:
        retriever.run(given)
    assert error.value.context["field"] == field


def test_typed_inputs_are_converted(talks: Talks, talks_info: CollectionInfo) -> None:
    the_spec = spec(
        {"type": "attribute_filter", "params": {"where": "year >= {{inputs.year}}"}},
        search({"feature": TEXT, "top_k": 10}),
        inputs={
            "query": {"type": "text"},
            "year": {"type": "number", "required": False, "default": 2024},
            "day": {"type": "date", "required": False},
        },
    )
    retriever = talks.retriever(the_spec, talks_info)
    assert all(h.metadata["year"] >= 2024 for h in retriever.run({"query": "pricing"}).hits)
    assert retriever.run({"query": "pricing", "year": "2020"}).hits
    with pytest.raises(InvalidSpecError, match="date"):
        retriever.run({"query": "pricing", "day": "next tuesday"})


@pytest.mark.parametrize("k", [250, 251, 1000])
def test_the_default_retriever_runs_for_every_documented_k(
    talks: Talks, talks_info: CollectionInfo, k: int
) -> None:
    features = [(f.address, f.type) for f in FEATURES]
    the_spec = default_retriever_spec(talks_info.name, features, {VECTOR: frozenset({"text"})}, k)
    hits = talks.retriever(the_spec, talks_info).run({"query": "pricing"}).hits
    assert hits and len(hits) <= k
