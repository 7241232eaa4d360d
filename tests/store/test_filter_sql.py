"""compile_filter: the SQL it writes, and the filters it refuses.

Whether the SQL selects the right documents is the conformance suite's job; this checks the text
and the refusals, including injection attempts that must stay inside string literals.
"""

from __future__ import annotations

import pytest

from omnidex.errors import InvalidFilterError
from omnidex.store.filter_sql import compile_filter, sql_literal
from omnidex.store.filters import And, Compare, Field, Filter, In, Not, Or

COLUMNS = {"ocr@v1/text": "f__ocr_v1__text", "ocr@v1/confidence": "f__ocr_v1__confidence"}


@pytest.mark.parametrize(
    ("value", "sql"),
    [
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        ("; DROP TABLE t; --", "'; DROP TABLE t; --'"),
        ("back\\slash\\'", "'back\\slash\\'''"),
        ("ünï ✓", "'ünï ✓'"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "TRUE"),
        (None, "NULL"),
    ],
)
def test_sql_literal(value: str | int | float | bool | None, sql: str) -> None:
    assert sql_literal(value) == sql


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nul\x00byte"])
def test_unrepresentable_literals_are_refused(value: str | float) -> None:
    with pytest.raises(InvalidFilterError):
        sql_literal(value)


@pytest.mark.parametrize(
    ("where", "sql"),
    [
        (Compare(Field("kind"), "=", "image"), "(kind = 'image')"),
        (Compare(Field("page"), "!=", 2), "(page <> 2)"),
        (Compare(Field("page"), "=", None), "(page IS NULL)"),
        (Compare(Field("ocr@v1/text"), "!=", None), "(f__ocr_v1__text IS NOT NULL)"),
        (Compare(Field("ocr@v1/confidence"), ">=", 0.5), "(f__ocr_v1__confidence >= 0.5)"),
        (Compare(Field("source"), "contains", "50%_"), "(strpos(source, '50%_') > 0)"),
        (In(Field("key"), ("a", "b'c")), "(key IN ('a', 'b''c'))"),
        (In(Field("page"), (1, None)), "(page IN (1) OR page IS NULL)"),
        (In(Field("key"), ()), "FALSE"),
        (And(()), "TRUE"),
        (Or(()), "FALSE"),
        (
            Compare(Field("speaker", metadata=True), "=", "it's"),
            """(json_extract(metadata, '$["speaker"]') = '"it''s"')""",
        ),
        (
            Compare(Field("year", metadata=True), ">", 2020),
            """(try_cast(json_extract(metadata, '$["year"]') AS DOUBLE) > 2020.0)""",
        ),
        (
            Compare(Field("draft", metadata=True), "=", False),
            """(json_extract(metadata, '$["draft"]') = 'false')""",
        ),
        (
            Not(Compare(Field("kind"), "=", "text")),
            "(NOT coalesce((kind = 'text'), FALSE))",
        ),
        (
            Or((Compare(Field("kind"), "=", "a"), And((Compare(Field("page"), "<", 3),)))),
            "((kind = 'a') OR ((page < 3)))",
        ),
    ],
)
def test_compiled_sql(where: Filter, sql: str) -> None:
    assert compile_filter(where, COLUMNS) == sql


def test_metadata_keys_cannot_escape_their_path() -> None:
    sql = compile_filter(Compare(Field("a'] OR 1=1 --", metadata=True), "=", "x"), COLUMNS)
    assert sql == """(json_extract(metadata, '$["a''] OR 1=1 --"]') = '"x"')"""


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (Compare(Field("nope@v1/x"), "=", "y"), "nope@v1/x"),
        (Compare(Field("unknown"), "=", "y"), "unknown"),
        (In(Field("nope@v1/x"), ("y",)), "nope@v1/x"),
        (Compare(Field("page"), "=", "three"), "page"),
        (Compare(Field("page"), "=", True), "page"),
        (Compare(Field("kind"), "=", 3), "kind"),
        (Compare(Field("page"), "contains", 3), "page"),
        (Compare(Field("page"), "<", None), "page"),
        (Compare(Field("tags", metadata=True), "contains", 3), "tags"),
        (Compare(Field("flag", metadata=True), "<", True), "flag"),
        (In(Field("key"), ("a", 1)), "key"),
    ],
)
def test_invalid_filters(where: Filter, field: str) -> None:
    with pytest.raises(InvalidFilterError) as error:
        compile_filter(where, COLUMNS)
    assert error.value.context["field"] == field
