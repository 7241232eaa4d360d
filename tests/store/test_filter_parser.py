"""Parsing ``where`` strings into the typed filter AST; bad strings are typed errors."""

import pytest

from omnidex.errors import InvalidFilterError
from omnidex.store.filters import (
    And,
    Compare,
    Field,
    Filter,
    In,
    Not,
    Or,
    check_depth,
    depth,
    parse_filter,
)


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


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("page = 99999999999999999999", 7),  # beyond int64
        ("page = -9223372036854775809", 7),
        ("x = 1e400", 4),  # not a finite double
        ("x = " + "1" * 41, 4),
        ("(" * 17 + "page = 1" + ")" * 17, 16),
        ("(" * 1500 + "page = 1" + ")" * 1500, 16),
        ("not " * 17 + "page = 1", 64),
        ("x = '" + "a" * 3990 + "' or y = 1" + " " * 10, 4000),  # longer than 4000 characters
    ],
)
def test_limits_are_checked_while_reading_and_name_the_position(text: str, position: int) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_filter(text)
    assert info.value.context["position"] == position


def test_values_at_the_limits_parse() -> None:
    assert parse_filter("page = 9223372036854775807") == Compare(Field("page"), "=", 2**63 - 1)
    nested = "(" * 16 + "page = 1" + ")" * 16
    assert parse_filter(nested) == Compare(Field("page"), "=", 1)
    assert depth(parse_filter("not " * 16 + "page = 1")) == 16


def test_bound_values_meet_the_same_limits() -> None:
    with pytest.raises(InvalidFilterError):
        parse_filter("year = $y", {"y": 10**30})
    with pytest.raises(InvalidFilterError):
        parse_filter("who = $w", {"w": "x" * 5000})


def test_depth_counts_not_and_alternations_and_flattens_runs() -> None:
    a, b = Compare(Field("page"), "=", 1), Compare(Field("page"), "=", 2)
    assert depth(a) == 0
    assert depth(And((a, And((b, a))))) == 1
    assert depth(And((a, Or((b, Not(a)))))) == 3
    deep: Filter = a
    for _ in range(5000):  # a filter built in code: checked without recursion
        deep = Not(deep)
    with pytest.raises(InvalidFilterError):
        check_depth(deep)
