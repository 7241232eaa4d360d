"""Parsing ``where`` strings into the typed filter AST; bad strings are typed errors."""

import pytest

from omnidex.errors import InvalidFilterError
from omnidex.store.filters import And, Compare, Field, In, Not, Or, parse_filter


def test_precedence_and_grouping() -> None:
    parsed = parse_filter("page >= 2 and (speaker = 'ann' or metadata.lang in ('en', \"fr\"))")
    assert parsed == And(
        (
            Compare(Field("page"), ">=", 2),
            Or(
                (
                    Compare(Field("speaker", metadata=True), "=", "ann"),
                    In(Field("lang", metadata=True), ("en", "fr")),
                )
            ),
        )
    )


def test_or_binds_looser_than_and() -> None:
    parsed = parse_filter("a = 1 or b = 2 and c = 3")
    assert isinstance(parsed, Or)
    assert isinstance(parsed.items[1], And)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not kind = 'image'", Not(Compare(Field("kind"), "=", "image"))),
        ("ocr@v1/confidence > 80.5", Compare(Field("ocr@v1/confidence"), ">", 80.5)),
        ("speaker is not null", Compare(Field("speaker", metadata=True), "!=", None)),
        ("speaker is null", Compare(Field("speaker", metadata=True), "=", None)),
        ("source contains 'report'", Compare(Field("source"), "contains", "report")),
        ("title = 'it''s'", Compare(Field("title", metadata=True), "=", "it's")),
        ("reviewed = true", Compare(Field("reviewed", metadata=True), "=", True)),
        ("page <> 3", Compare(Field("page"), "!=", 3)),
        ("page == 3", Compare(Field("page"), "=", 3)),
        ("start_s < -1.5e2", Compare(Field("start_s"), "<", -150.0)),
        (
            "NOT (page = 1 OR page = 2)",
            Not(Or((Compare(Field("page"), "=", 1), Compare(Field("page"), "=", 2)))),
        ),
    ],
)
def test_forms(text: str, expected: object) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "page > 'x'",
        "page =",
        "(page = 1",
        "and = 3",
        "page = 1 junk",
        "x = 1; drop table documents",
        "source contains 3",
        "kind < 3",
        "speaker = ann",
        "",
        "metadata. = 1",
        "x in 1, 2",
        "x is 3",
    ],
)
def test_bad_filters_raise_a_typed_error_naming_where(text: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_filter(text)
    assert info.value.code == "invalid_filter"
    assert info.value.message
