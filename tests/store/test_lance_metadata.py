"""Typed, indexed copies of metadata keys in the Lance store: filters read them when they can,
and stay right when they cannot."""

from __future__ import annotations

from pathlib import Path

from omnidex.store.filters import parse_filter
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.types import Document

COL = "col_meta"


def doc(i: int, **metadata: object) -> Document:
    return Document(
        id=f"d{i}", object_id=f"o{i}", kind="text", key="k", source=f"/s/{i}", metadata=metadata
    )


def found(store: LanceDocumentStore, where: str) -> list[str]:
    return [d.id for d in store.list(COL, parse_filter(where))]


def test_keys_get_typed_columns_and_filters_agree_with_the_json(tmp_path: Path) -> None:
    store = LanceDocumentStore(tmp_path)
    store.create_collection(COL, [])
    store.replace_objects(COL, {"o1": [doc(1, speaker="ann", year=2021, live=True)]})
    store.replace_objects(
        COL, {"o2": [doc(2, speaker="bob", year=2024)], "o3": [doc(3, year="2023")]}
    )
    store.replace_objects(COL, {"o4": [doc(4, speaker=5, tags=["x"])]})
    layout = store._layout(COL)
    assert set(layout.meta) == {
        ("speaker", "s"),
        ("speaker", "n"),
        ("year", "n"),
        ("year", "s"),
        ("live", "b"),
    }
    store.optimize(COL)
    indexed = {c for index in layout.table.list_indices() for c in index.columns}
    assert set(layout.meta.values()) <= indexed
    assert layout.where(parse_filter("speaker = 'ann'")).startswith("(m__speaker")
    assert found(store, "speaker = 'ann'") == ["d1"]
    assert found(store, "speaker in ('bob', 'cid')") == ["d2"]
    assert found(store, "speaker = 5") == ["d4"]
    assert found(store, "year >= 2022") == ["d2"]  # the text "2023" is no number
    assert found(store, "year = '2023'") == ["d3"]
    assert found(store, "live = true") == ["d1"]
    assert found(store, "speaker != 'ann'") == ["d2", "d4"]  # != reads the JSON
    assert found(store, "tags contains 'x'") == ["d4"]


def test_a_key_rows_already_hold_stays_in_the_json(tmp_path: Path) -> None:
    store = LanceDocumentStore(tmp_path)
    store.create_collection(COL, [])
    store.replace_objects(COL, {"o1": [doc(1, speaker="ann")]})
    table = store._layout(COL).table
    table.drop_columns(list(store._layout(COL).meta.values()))  # as a table written before
    store._layouts.clear()
    store.replace_objects(COL, {"o2": [doc(2, speaker="bob")]})
    assert ("speaker", "s") not in store._layout(COL).meta  # d1 would read as missing there
    assert found(store, "speaker = 'ann'") == ["d1"]
    assert found(store, "speaker = 'bob'") == ["d2"]
