"""The DocumentStore conformance suite: every store in ``conftest.DOCUMENT_STORES`` passes it.

Vectors are small and hand-made (8-d), texts are chosen so that the expected BM25 order is
obvious; no models are involved.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from omnidex.errors import InvalidFilterError, NotFoundError, StoreError
from omnidex.store.documents import DocumentStore
from omnidex.store.filter_match import matches
from omnidex.store.filters import MAX_FILTER_DEPTH, And, Compare, Field, In, Not, Or, depth
from omnidex.types import Document, FeatureColumn, FeatureType

COL = "col_0123456789abcdef"
CAPTION = "scene_caption@v1/caption"
OCR = "ocr@v1/text"
VECTOR = "text_embedding@v1/vector"
LABELS = "tagger@v1/labels"
CONFIDENCE = "ocr@v1/confidence"
FEATURES = [
    FeatureColumn(name="caption", type=FeatureType.TEXT, address=CAPTION),
    FeatureColumn(name="text", type=FeatureType.TEXT, address=OCR),
    FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=8, address=VECTOR),
    FeatureColumn(name="labels", type=FeatureType.JSON, address=LABELS),
    FeatureColumn(name="confidence", type=FeatureType.NUMBER, address=CONFIDENCE),
]


def axis(i: int, tilt: float = 0.0) -> list[float]:
    """A unit vector along axis ``i``, tilted towards the next axis by ``tilt`` radians."""
    vector = [0.0] * 8
    vector[i % 8] = math.cos(tilt)
    vector[(i + 1) % 8] = math.sin(tilt)
    return vector


def doc(object_id: str, key: str, **fields: Any) -> Document:
    features = fields.pop("features", {})
    return Document(
        id=f"{object_id}:{key}",
        object_id=object_id,
        kind=fields.pop("kind", "text"),
        key=key,
        source=fields.pop("source", f"/data/{object_id}.pdf"),
        features=features,
        **fields,
    )


@pytest.fixture
def docs(store: DocumentStore) -> DocumentStore:
    """A store whose collection holds two objects with three documents between them."""
    store.create_collection(COL, FEATURES)
    store.replace_objects(
        COL,
        {
            "a": [
                doc(
                    "a",
                    "p1",
                    page=1,
                    metadata={"speaker": "ann", "year": 2021, "tags": ["red", "blue"]},
                    features={CAPTION: "a cat sleeps on the mat", VECTOR: axis(0)},
                ),
                doc(
                    "a",
                    "p2",
                    page=2,
                    metadata={"speaker": "bob", "year": 2023, "draft": True},
                    features={OCR: "quarterly revenue report", VECTOR: axis(0, 0.3)},
                ),
            ],
            "b": [
                doc(
                    "b",
                    "s1",
                    kind="image",
                    source="/data/b.png",
                    start_s=1.5,
                    end_s=3.0,
                    metadata={"speaker": "ann", "year": 2023},
                    features={CAPTION: "a dog runs in the park", VECTOR: axis(1), CONFIDENCE: 0.9},
                )
            ],
        },
    )
    return store


def ids(found: list[Document] | list[tuple[Document, float]]) -> list[str]:
    return [item[0].id if isinstance(item, tuple) else item.id for item in found]


# --- collections -------------------------------------------------------------------------------


def test_create_collection_is_idempotent(docs: DocumentStore) -> None:
    docs.create_collection(COL, FEATURES)
    assert docs.count(COL) == 3


def test_create_collection_adds_new_features(docs: DocumentStore) -> None:
    extra = FeatureColumn(name="summary", type=FeatureType.TEXT, address="summary@v1/summary")
    docs.create_collection(COL, [*FEATURES, extra])
    docs.replace_objects(COL, {"c": [doc("c", "k", features={extra.address: "an otter swims"})]})
    assert ids(docs.text_search(COL, "otter", 5)) == ["c:k"]
    assert docs.count(COL) == 4


def test_drop_collection(docs: DocumentStore) -> None:
    docs.drop_collection(COL)
    docs.drop_collection(COL)
    docs.drop_collection("col_never_created")
    with pytest.raises(NotFoundError):
        docs.count(COL)
    docs.create_collection(COL, FEATURES)
    assert docs.count(COL) == 0


def test_missing_collection_is_not_found(store: DocumentStore) -> None:
    calls = [
        lambda: store.replace_objects("col_missing", {"a": []}),
        lambda: store.delete_object("col_missing", "a"),
        lambda: store.get("col_missing", "x"),
        lambda: store.list("col_missing"),
        lambda: store.count("col_missing"),
        lambda: store.vector_search("col_missing", VECTOR, axis(0), 3),
        lambda: store.text_search("col_missing", "cat", 3),
        lambda: store.optimize("col_missing"),
        lambda: store.count("../../etc"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            call()


def test_exists_says_whether_the_table_is_there(store: DocumentStore) -> None:
    assert not store.exists(COL)
    assert not store.exists("../../etc")
    store.create_collection(COL, FEATURES)
    assert store.exists(COL)
    store.drop_collection(COL)
    assert not store.exists(COL)


def test_collections_are_separate(docs: DocumentStore) -> None:
    docs.create_collection("col_other", FEATURES)
    docs.replace_objects("col_other", {"a": [doc("a", "only")]})
    assert docs.count("col_other") == 1 and docs.count(COL) == 3


# --- writes ------------------------------------------------------------------------------------


def test_features_round_trip(store: DocumentStore) -> None:
    store.create_collection(COL, FEATURES)
    thumbnail = bytes(range(256)) * 4
    original = doc(
        "a",
        "p1",
        page=3,
        start_s=0.25,
        end_s=9.75,
        start_frame=6,
        end_frame=234,
        fps=29.97,
        thumbnail=thumbnail,
        spec_version=2,
        extractors=["scene_caption@v1", "text_embedding@v1"],
        metadata={"speaker": "ann", "nested": {"list": [1, 2.5, None, "x"], "ok": True}},
        features={
            CAPTION: "naïve café — ünïcode ✓",
            VECTOR: [0.5, -0.25, 0.125, 0.0, 1.0, -1.0, 2.0, 3.0],
            LABELS: {"objects": ["cat", "mat"], "scores": [0.9, 0.1], "deep": {"k": None}},
            CONFIDENCE: 0.75,
        },
    )
    store.replace_objects(COL, {"a": [original]})
    got = store.get(COL, original.id)
    assert got == original
    assert got is not None and got.features.keys() == original.features.keys()
    assert store.get(COL, "missing") is None


def test_replace_is_idempotent(docs: DocumentStore) -> None:
    again = [doc("b", "s1", features={CAPTION: "a dog runs in the park"})]
    docs.replace_objects(COL, {"b": again})
    docs.replace_objects(COL, {"b": again})
    assert docs.count(COL) == 3
    assert docs.count(COL, Compare(Field("object_id"), "=", "b")) == 1


def test_replace_updates_and_removes_stale_documents_of_that_object_only(
    docs: DocumentStore,
) -> None:
    new_p2 = doc("a", "p2", page=20, features={OCR: "annual profit"})
    docs.replace_objects(COL, {"a": [new_p2, doc("a", "p3")]})
    assert ids(docs.list(COL)) == ["a:p2", "a:p3", "b:s1"]
    assert docs.get(COL, "a:p2") == new_p2
    assert docs.get(COL, "a:p1") is None
    assert docs.get(COL, "b:s1") is not None


def test_replace_with_empty_list_removes_the_object(docs: DocumentStore) -> None:
    docs.replace_objects(COL, {"a": []})
    assert ids(docs.list(COL)) == ["b:s1"]
    docs.replace_objects(COL, {})
    assert docs.count(COL) == 1


def test_replace_many_objects_at_once(docs: DocumentStore) -> None:
    docs.replace_objects(
        COL,
        {
            "a": [doc("a", "new")],
            "b": [],
            "c": [doc("c", "k1"), doc("c", "k2")],
        },
    )
    assert ids(docs.list(COL)) == ["a:new", "c:k1", "c:k2"]


def test_failed_replace_changes_nothing(docs: DocumentStore) -> None:
    for bad in ([1.0, 2.0], [math.nan] * 8):
        with pytest.raises(StoreError) as error:
            docs.replace_objects(
                COL, {"a": [], "c": [doc("c", "ok"), doc("c", "k", features={VECTOR: bad})]}
            )
        assert error.value.context["field"] == VECTOR
        assert ids(docs.list(COL)) == ["a:p1", "a:p2", "b:s1"]


def test_delete_object(docs: DocumentStore) -> None:
    assert docs.delete_object(COL, "a") == 2
    assert docs.delete_object(COL, "a") == 0
    assert docs.delete_object(COL, "x' OR '1'='1") == 0
    assert ids(docs.list(COL)) == ["b:s1"]


def test_set_metadata_changes_the_metadata_of_one_object_only(docs: DocumentStore) -> None:
    before = {d.id: d for d in docs.list(COL)}
    docs.vector_search(COL, VECTOR, axis(0), k=3)  # an index built before the change
    new = {"speaker": "cy", "year": 2024, "reviewed": True, "tags": ["green"]}
    assert docs.set_metadata(COL, "a", new) == 2
    after = {d.id: d for d in docs.list(COL)}
    assert [after[i].metadata for i in ("a:p1", "a:p2")] == [new, new]
    assert after["b:s1"] == before["b:s1"]
    for doc_id in ("a:p1", "a:p2"):  # only the metadata changed
        assert after[doc_id].model_copy(update={"metadata": {}}) == before[doc_id].model_copy(
            update={"metadata": {}}
        )
    assert docs.vectors(COL, VECTOR, ["a:p1"]) == {"a:p1": axis(0)}
    # filters read the new values: typed columns (speaker, year), keys new to the table, JSON
    assert ids(docs.list(COL, Compare(Field("speaker", True), "=", "ann"))) == ["b:s1"]
    assert ids(docs.list(COL, Compare(Field("speaker", True), "=", "cy"))) == ["a:p1", "a:p2"]
    assert ids(docs.list(COL, Compare(Field("year", True), ">", 2023))) == ["a:p1", "a:p2"]
    assert ids(docs.list(COL, Compare(Field("reviewed", True), "=", True))) == ["a:p1", "a:p2"]
    assert ids(docs.list(COL, Compare(Field("draft", True), "=", True))) == []
    assert ids(docs.list(COL, Compare(Field("tags", True), "contains", "green"))) == [
        "a:p1",
        "a:p2",
    ]
    hits = docs.vector_search(
        COL, VECTOR, axis(0), k=3, where=Compare(Field("speaker", True), "=", "cy")
    )
    assert [(d.id, d.metadata) for d, _ in hits] == [("a:p1", new), ("a:p2", new)]
    assert docs.set_metadata(COL, "missing", new) == 0
    assert docs.count(COL) == 3
    odd = {"speaker": 'o\'neil \\ "zoë" ünïcode', "year": 2**60}  # quotes, escapes, big ints
    assert docs.set_metadata(COL, "b", odd) == 1
    assert [d.metadata for d in docs.list(COL, Compare(Field("object_id"), "=", "b"))] == [odd]
    assert ids(docs.list(COL, Compare(Field("speaker", True), "=", odd["speaker"]))) == ["b:s1"]
    assert ids(docs.list(COL, Compare(Field("year", True), ">", 2**59))) == ["b:s1"]


def test_object_ids_are_those_with_a_matching_document(docs: DocumentStore) -> None:
    assert docs.object_ids(COL, Compare(Field("speaker", True), "=", "ann")) == {"a", "b"}
    assert docs.object_ids(COL, Compare(Field("draft", True), "=", True)) == {"a"}
    assert docs.object_ids(COL, Compare(Field("kind"), "=", "image")) == {"b"}
    assert docs.object_ids(COL, Compare(Field("speaker", True), "=", "nobody")) == set()


def test_object_counts(docs: DocumentStore) -> None:
    assert docs.object_counts(COL) == {"a": 2, "b": 1}
    docs.delete_object(COL, "a")
    assert docs.object_counts(COL) == {"b": 1}


# --- list, count, filters ----------------------------------------------------------------------


def test_list_is_ordered_and_paged(store: DocumentStore) -> None:
    store.create_collection(COL, FEATURES)
    store.replace_objects(COL, {"b": [doc("b", "2"), doc("b", "1")]})
    store.replace_objects(COL, {"a": [doc("a", "z"), doc("a", "m")]})
    assert ids(store.list(COL)) == ["a:m", "a:z", "b:1", "b:2"]
    assert ids(store.list(COL, limit=2, offset=1)) == ["a:z", "b:1"]
    assert store.list(COL, offset=10) == []


FILTER_CASES = [
    (Compare(Field("kind"), "=", "image"), ["b:s1"]),
    (Compare(Field("page"), ">=", 2), ["a:p2"]),
    (Compare(Field("page"), "=", None), ["b:s1"]),
    (Compare(Field("page"), "!=", None), ["a:p1", "a:p2"]),
    (Compare(Field("start_s"), "<", 2), ["b:s1"]),
    (Compare(Field("source"), "contains", "b.p"), ["b:s1"]),
    (In(Field("key"), ("p1", "s1", "nope")), ["a:p1", "b:s1"]),
    (In(Field("page"), (2, None)), ["a:p2", "b:s1"]),
    (In(Field("key"), ()), []),
    (Compare(Field("speaker", metadata=True), "=", "ann"), ["a:p1", "b:s1"]),
    (Compare(Field("speaker", metadata=True), "!=", "ann"), ["a:p2"]),
    (Compare(Field("year", metadata=True), ">", 2022), ["a:p2", "b:s1"]),
    (Compare(Field("year", metadata=True), "=", 2021.0), ["a:p1"]),
    (Compare(Field("draft", metadata=True), "=", True), ["a:p2"]),
    (Compare(Field("draft", metadata=True), "=", None), ["a:p1", "b:s1"]),
    (Compare(Field("tags", metadata=True), "contains", "blue"), ["a:p1"]),
    (Compare(Field("speaker", metadata=True), "contains", "bo"), ["a:p2"]),
    (In(Field("speaker", metadata=True), ("bob", "cid")), ["a:p2"]),
    (Compare(Field(CONFIDENCE), ">", 0.5), ["b:s1"]),
    (Compare(Field(CAPTION), "contains", "dog"), ["b:s1"]),
    (Compare(Field(OCR), "=", None), ["a:p1", "b:s1"]),
    (
        And((Compare(Field("speaker", metadata=True), "=", "ann"), Compare(Field("page"), "=", 1))),
        ["a:p1"],
    ),
    (
        Or((Compare(Field("key"), "=", "p2"), Compare(Field("kind"), "=", "image"))),
        ["a:p2", "b:s1"],
    ),
    (Not(Compare(Field("draft", metadata=True), "=", True)), ["a:p1", "b:s1"]),
    (Not(Compare(Field("speaker", metadata=True), "=", "ann")), ["a:p2"]),
]


@pytest.mark.parametrize(("where", "expected"), FILTER_CASES)
def test_filters(docs: DocumentStore, where: Any, expected: list[str]) -> None:
    assert ids(docs.list(COL, where=where)) == expected
    assert docs.count(COL, where) == len(expected)


@pytest.mark.parametrize(("where", "expected"), FILTER_CASES)
def test_filters_read_the_same_in_memory(
    docs: DocumentStore, where: Any, expected: list[str]
) -> None:
    # a retriever filters candidates it already holds this way; it must agree with the store
    assert [d.id for d in docs.list(COL) if matches(where, d)] == expected


def test_vectors_by_id(docs: DocumentStore) -> None:
    found = docs.vectors(COL, VECTOR, ["b:s1", "a:p1", "missing"])
    assert set(found) == {"a:p1", "b:s1"}
    assert found["b:s1"] == pytest.approx(axis(1))
    assert docs.vectors(COL, VECTOR, []) == {}


def test_unknown_feature_in_filter(docs: DocumentStore) -> None:
    with pytest.raises(InvalidFilterError) as error:
        docs.list(COL, where=Compare(Field("nope@v1/x"), "=", "y"))
    assert error.value.context["field"] == "nope@v1/x"


INJECTIONS = ["x' OR '1'='1", "'; DROP TABLE x; --", "a\\", "\\' OR 1=1 --", "%", "_", "ann' --"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_attempts_match_nothing(docs: DocumentStore, value: str) -> None:
    for where in [
        Compare(Field("key"), "=", value),
        Compare(Field("key"), "contains", value),
        Compare(Field("speaker", metadata=True), "=", value),
        Compare(Field("tags", metadata=True), "contains", value),
        In(Field("object_id"), (value,)),
    ]:
        assert docs.list(COL, where=where) == []
        assert not any(matches(where, d) for d in docs.list(COL))
    assert docs.count(COL) == 3


def test_odd_values_match_literally(store: DocumentStore) -> None:
    store.create_collection(COL, FEATURES)
    weird = ["it's", "50%_off", "back\\slash", "ünï ✓", "x' OR '1'='1"]
    store.replace_objects(
        COL, {"o": [doc("o", f"k{i}", metadata={"v": v}) for i, v in enumerate(weird)]}
    )
    for i, value in enumerate(weird):
        assert ids(store.list(COL, where=Compare(Field("v", metadata=True), "=", value))) == [
            f"o:k{i}"
        ]
    found = store.list(COL, where=Compare(Field("v", metadata=True), "contains", "%_"))
    assert ids(found) == ["o:k1"]


# --- vector search -----------------------------------------------------------------------------


def test_vector_search_order_and_similarity(docs: DocumentStore) -> None:
    found = docs.vector_search(COL, VECTOR, axis(0, 0.1), k=3)
    assert ids(found) == ["a:p1", "a:p2", "b:s1"]
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(math.cos(0.1), abs=1e-5)
    assert scores[1] == pytest.approx(math.cos(0.2), abs=1e-5)
    assert scores[2] == pytest.approx(math.sin(0.1), abs=1e-5)
    top = docs.vector_search(COL, VECTOR, [2 * x for x in axis(1)], k=1)
    assert ids(top) == ["b:s1"] and top[0][1] == pytest.approx(1.0, abs=1e-5)
    whole = docs.get(COL, "b:s1")
    assert whole is not None and VECTOR in whole.features
    # a search reads only what a hit shows: no vectors, no thumbnail
    assert top[0][0] == whole.model_copy(
        update={
            "features": {a: v for a, v in whole.features.items() if a != VECTOR},
            "thumbnail": None,
        }
    )


def test_vector_search_prefilter(docs: DocumentStore) -> None:
    where = Compare(Field("speaker", metadata=True), "=", "ann")
    assert ids(docs.vector_search(COL, VECTOR, axis(0, 0.3), k=1, where=where)) == ["a:p1"]
    kind = Compare(Field("kind"), "=", "image")
    assert ids(docs.vector_search(COL, VECTOR, axis(0), k=1, where=kind)) == ["b:s1"]


def test_vector_search_skips_documents_without_vectors(docs: DocumentStore) -> None:
    docs.replace_objects(
        COL,
        {
            "c": [
                doc("c", "novec", features={CAPTION: "no vector"}),
                doc("c", "vec", features={VECTOR: axis(5)}),
            ]
        },
    )
    found = docs.vector_search(COL, VECTOR, axis(5), k=10)
    assert sorted(ids(found)) == ["a:p1", "a:p2", "b:s1", "c:vec"]
    assert ids(found)[0] == "c:vec"
    novec = docs.get(COL, "c:novec")
    assert novec is not None and VECTOR not in novec.features


def test_vector_search_needs_a_vector_feature(docs: DocumentStore) -> None:
    with pytest.raises(Exception, match="vector"):
        docs.vector_search(COL, CAPTION, axis(0), k=1)


# --- full-text search --------------------------------------------------------------------------


def test_bm25_ranks_the_better_match_first(store: DocumentStore) -> None:
    store.create_collection(COL, FEATURES)
    store.replace_objects(
        COL,
        {
            "o": [
                doc("o", "best", features={CAPTION: "Kittens playing with kittens and a kitten"}),
                doc("o", "weak", features={OCR: "a long report about many things and a kitten"}),
                doc("o", "none", features={CAPTION: "quarterly revenue grew"}),
            ]
        },
    )
    found = store.text_search(COL, "kitten", k=10)
    assert ids(found) == ["o:best", "o:weak"]
    assert found[0][1] > found[1][1] > 0
    assert ids(store.text_search(COL, "kitten", k=10, addresses=[OCR])) == ["o:weak"]
    assert ids(store.text_search(COL, "KITTENS", k=1)) == ["o:best"]


def test_text_search_prefilter(docs: DocumentStore) -> None:
    where = Compare(Field("kind"), "=", "image")
    assert ids(docs.text_search(COL, "cat dog", k=1, where=where)) == ["b:s1"]
    assert docs.text_search(COL, "revenue", k=5, where=where) == []


def test_text_search_finds_rows_added_after_optimize(docs: DocumentStore) -> None:
    docs.optimize(COL)
    docs.replace_objects(COL, {"c": [doc("c", "k", features={OCR: "zebra crossing"})]})
    assert ids(docs.text_search(COL, "zebra", 5)) == ["c:k"]
    docs.optimize(COL)
    assert ids(docs.text_search(COL, "zebra", 5)) == ["c:k"]
    assert docs.count(COL) == 4


@pytest.mark.parametrize(
    "query",
    [
        '"revenue" AND (report:',
        "revenue) OR NOT *",
        "revenue'; DROP TABLE x; --",
        "revenue~2^3 [a TO b] {c} \\",
        "  REVENUE!!!  ",
    ],
)
def test_punctuation_heavy_queries(docs: DocumentStore, query: str) -> None:
    assert ids(docs.text_search(COL, query, k=5))[:1] == ["a:p2"]


@pytest.mark.parametrize("query", ["", "   ", "the and of", "!!! ??? :::", '""', "()"])
def test_empty_queries_find_nothing(docs: DocumentStore, query: str) -> None:
    assert docs.text_search(COL, query, k=5) == []


def test_text_search_needs_text_features(docs: DocumentStore) -> None:
    with pytest.raises(Exception, match="text"):
        docs.text_search(COL, "cat", k=1, addresses=[VECTOR])


# --- optimize ----------------------------------------------------------------------------------


def test_optimize_keeps_everything(docs: DocumentStore) -> None:
    for i in range(5):
        docs.replace_objects(COL, {f"x{i}": [doc(f"x{i}", "k", features={OCR: f"note {i}"})]})
    before = docs.list(COL, limit=100)
    docs.optimize(COL)
    docs.optimize(COL)
    assert docs.list(COL, limit=100) == before
    assert ids(docs.vector_search(COL, VECTOR, axis(1), k=1)) == ["b:s1"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Compare(Field("page"), "=", 1.5), []),  # a decimal against an integer column
        (Compare(Field("page"), "<", 1.5), ["a:p1"]),
        (Compare(Field("page"), ">", 1.5), ["a:p2"]),
        (Compare(Field("page"), "=", 2.0), ["a:p2"]),
        (Compare(Field("page"), "=", 2**40), []),  # beyond what the int32 column holds
        (Compare(Field("page"), "<", 2**40), ["a:p1", "a:p2"]),
        (Compare(Field("page"), ">=", -(2**62)), ["a:p1", "a:p2"]),
        (Compare(Field("page"), "!=", 2**40), ["a:p1", "a:p2"]),
        (Compare(Field("year", metadata=True), "<", 2**63 - 1), ["a:p1", "a:p2", "b:s1"]),
        (Compare(Field("start_frame"), "<", 2**63 - 1), []),
    ],
)
def test_numbers_any_column_cannot_hold_compare_by_value(
    docs: DocumentStore, where: Any, expected: list[str]
) -> None:
    assert ids(docs.list(COL, where=where)) == expected
    assert [d.id for d in docs.list(COL) if matches(where, d)] == expected


def test_the_deepest_filter_allowed_runs(docs: DocumentStore) -> None:
    # nested NOT/coalesce made DataFusion's planner take exponential time, and deep SQL failed
    # its parser; the compiled SQL holds no NOT and nests only as deep as and/or alternate
    where: Any = Compare(Field("page"), "=", 1)
    for level in range(MAX_FILTER_DEPTH):
        other = Compare(Field("kind"), "=", "image")
        where = Not(where) if level % 3 == 0 else (And if level % 2 else Or)((other, where))
    assert depth(where) <= MAX_FILTER_DEPTH
    assert ids(docs.list(COL, where=where)) == [d.id for d in docs.list(COL) if matches(where, d)]
    with pytest.raises(InvalidFilterError):
        docs.list(COL, where=Not(Or((where, Not(where)))))
