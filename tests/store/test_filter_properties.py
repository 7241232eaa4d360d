"""Generated documents and filters: every way a filter is applied selects exactly the documents
the plain-Python reference (``filter_reference``) says it means.

Each example writes its documents to a fresh LanceDB collection in two writes (so some metadata
keys have typed columns and some live in the JSON alone), then checks a batch of filters on the
store side (``list``/``count``, a vector search answered by the in-memory index, a BM25 search)
and on the document side (``filter_match``, as a retriever filters candidates it holds), and that
each filter survives being written as a ``where`` string and as a retriever template whose
literals are ``{{inputs.*}}``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidex.retrieval.templates import as_filter_parameters
from omnidex.store.filter_match import matches
from omnidex.store.filters import And, Compare, Field, Filter, In, Not, Or, Scalar, parse_filter
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import Document, FeatureColumn, FeatureType

from .filter_reference import holds

TEXT, NUMBER, VECTOR = "ocr@v1/text", "ocr@v1/confidence", "text_embedding@v1/vector"
FEATURES = [
    FeatureColumn(name="text", type=FeatureType.TEXT, address=TEXT),
    FeatureColumn(name="confidence", type=FeatureType.NUMBER, address=NUMBER),
    FeatureColumn(name="vector", type=FeatureType.VECTOR, dim=4, address=VECTOR),
]
KEYS = ["speaker", "a.b", "a", "n", "it's", 'q"k']
WORDS = ["ann", "bob", "5", "", "it's", "a!", "A", 'q"', "\\", "é", "1.5", "true", "an"]
NUMBERS = [0, 1, 2, -1, 1.5, 2.0, -0.5, 2**40, 2**62]
numbers = st.sampled_from(NUMBERS)
words = st.sampled_from(WORDS)
scalars = st.one_of(st.booleans(), numbers, words)
metadata_values = st.one_of(
    st.none(),
    scalars,
    st.lists(st.sampled_from(["ann", "5", 5, True, "bob"]), max_size=3),
    st.just({"b": 1}),
)
documents = st.lists(
    st.fixed_dictionaries(
        {
            "page": st.one_of(st.none(), st.integers(-2, 3)),
            "start_s": st.one_of(st.none(), st.sampled_from([0.0, 1.5, 2.5, 2.0])),
            "kind": st.sampled_from(["text", "image"]),
            "text": st.one_of(st.none(), words),
            "number": st.one_of(st.none(), numbers.map(float)),
            "metadata": st.dictionaries(st.sampled_from(KEYS), metadata_values, max_size=4),
        }
    ),
    min_size=1,
    max_size=8,
)


def _leaf(draw: st.DrawFn) -> Filter:
    target = draw(st.sampled_from(["page", "start_s", "kind", "key", TEXT, NUMBER, "meta"]))
    if target == "meta":
        field = Field(draw(st.sampled_from(KEYS)), metadata=True)
        value: Scalar = draw(st.one_of(st.none(), scalars))
    else:
        field = Field(target)
        numeric = target in ("page", "start_s", NUMBER)
        value = draw(st.one_of(st.none(), numbers if numeric else words))
    if draw(st.integers(0, 5)) == 0:
        options = numbers if target in ("page", "start_s", NUMBER) else words
        if target == "meta":
            options = scalars
        listed = draw(st.lists(st.one_of(st.none(), options), min_size=1, max_size=3))
        return In(field, tuple(listed))
    if value is None:
        return Compare(field, draw(st.sampled_from(["=", "!="])), None)
    ops = ["=", "!="]
    if not isinstance(value, bool):
        ops += ["<", "<=", ">", ">="]
    if isinstance(value, str) and target not in ("page", "start_s", NUMBER):
        ops.append("contains")
    return Compare(field, draw(st.sampled_from(ops)), value)


@st.composite
def filters(draw: st.DrawFn, level: int = 0) -> Filter:
    shape = draw(st.integers(0, 6 if level < 3 else 0))
    if shape <= 3:
        return _leaf(draw)
    if shape == 4:
        return Not(draw(filters(level + 1)))
    items = tuple(draw(st.lists(filters(level + 1), min_size=1, max_size=3)))
    return And(items) if shape == 5 else Or(items)


def _documents(rows: list[dict[str, Any]]) -> list[Document]:
    out = []
    for i, row in enumerate(rows):
        features: dict[str, Any] = {VECTOR: [1.0, float(i % 3), 0.5, float(i)]}
        if row["text"] is not None:
            features[TEXT] = "common " + row["text"]
        if row["number"] is not None:
            features[NUMBER] = row["number"]
        out.append(
            Document(
                id=f"o{i % 2}:{i}",
                object_id=f"o{i % 2}",
                kind=row["kind"],
                key=str(i),
                source="/x",
                page=row["page"],
                start_s=row["start_s"],
                metadata=row["metadata"],
                features=features,
            )
        )
    return out


def _literal(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def where_text(f: Filter, literal: Any = _literal) -> str | None:
    """``f`` as a ``where`` string (None where a key has no spelling in the grammar)."""
    if isinstance(f, Not):
        inner = where_text(f.item, literal)
        return None if inner is None else f"not ({inner})"
    if isinstance(f, And | Or):
        parts = [where_text(item, literal) for item in f.items]
        if any(p is None for p in parts):
            return None
        return f" {'and' if isinstance(f, And) else 'or'} ".join(f"({p})" for p in parts)
    name = ("metadata." if f.field.metadata else "") + f.field.name
    if not all(c.isalnum() or c in "._@/" for c in name):
        return None
    if isinstance(f, In):
        return f"{name} in ({', '.join(literal(v) for v in f.values)})"
    if f.value is None:
        return f"{name} is {'not ' if f.op == '!=' else ''}null"
    return f"{name} {f.op} {literal(f.value)}"


def _input(bound: dict[str, Scalar], value: Scalar) -> str:
    """A ``{{inputs.pN}}`` reference to ``value``, which is recorded in ``bound``."""
    name = f"p{len(bound)}"
    bound[name] = value
    return "{{inputs." + name + "}}"


COUNTER = itertools.count()
CHECKED = {"examples": 0, "filters": 0}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LanceDocumentStore:
    return LanceDocumentStore(tmp_path_factory.mktemp("filters") / "docs")


@given(rows=documents, batch=st.lists(filters(), min_size=1, max_size=6))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_filter_selects_what_the_reference_says(
    store: LanceDocumentStore, rows: list[dict[str, Any]], batch: list[Filter]
) -> None:
    docs = _documents(rows)
    collection = f"col_{next(COUNTER):016x}"
    store.create_collection(collection, FEATURES)
    for object_id in ("o0", "o1"):  # two writes: later keys may get typed columns of their own
        store.replace_objects(
            collection, {object_id: [d for d in docs if d.object_id == object_id]}
        )
    CHECKED["examples"] += 1
    for f in batch:
        CHECKED["filters"] += 1
        expected = {d.id for d in docs if holds(f, d)}
        note = f"{f!r} over {json.dumps([d.model_dump(mode='json') for d in docs])[:3000]}"
        assert {d.id for d in store.list(collection, where=f)} == expected, note
        assert store.count(collection, f) == len(expected), note
        assert {d.id for d in docs if matches(f, d)} == expected, note
        found = store.vector_search(collection, VECTOR, [1.0, 0.0, 0.0, 0.0], len(docs), f)
        assert {d.id for d, _ in found} == expected, note
        texts = {d.id for d in docs if TEXT in d.features}
        found = store.text_search(collection, "common", len(docs), where=f)
        assert {d.id for d, _ in found} == expected & texts, note
        text = where_text(f)
        if text is not None:
            assert {d.id for d in docs if holds(parse_filter(text), d)} == expected, text
            bound: dict[str, Scalar] = {}
            templated = where_text(f, lambda value, bound=bound: _input(bound, value))
            assert templated is not None
            parsed = parse_filter(as_filter_parameters(templated), bound)
            assert {d.id for d in docs if holds(parsed, d)} == expected, templated


def test_the_property_run_checked_filters() -> None:
    # runs after the property test in file order; says how much it covered
    print(f"filter property examples: {CHECKED}")
