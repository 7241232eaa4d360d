"""Typed filters over documents: the AST every store compiles, and the parser for ``where`` strings.

Fields are document coordinates (``kind``, ``source``, ``object_id``, ``key``, ``page``,
``start_s``, ``end_s``, ``start_frame``, ``end_frame``, ``fps``), feature addresses of text or
number features (``ocr@v1/confidence``) and user metadata (``metadata.speaker``, or a bare name
that is none of the above, e.g. ``speaker``). Values are literals; nothing a user types reaches a
store unparsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, NoReturn, cast

from omnidex.errors import InvalidFilterError

Scalar = str | int | float | bool | None
CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "contains"]

DOCUMENT_FIELDS: dict[str, type] = {
    "id": str,
    "object_id": str,
    "kind": str,
    "key": str,
    "source": str,
    "page": int,
    "start_s": float,
    "end_s": float,
    "start_frame": int,
    "end_frame": int,
    "fps": float,
}


@dataclass(frozen=True)
class Field:
    """A document field, a feature address, or a metadata key (``metadata`` is True)."""

    name: str
    metadata: bool = False


@dataclass(frozen=True)
class Compare:
    field: Field
    op: CompareOp
    value: Scalar


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    item: Filter


Filter = Compare | In | And | Or | Not


# --- parsing ``where`` strings ----------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w@./])
      | (?P<param>\$[A-Za-z_]\w*)
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][\w.@/-]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "is", "null", "true", "false"}


def parse_filter(expression: str, params: Mapping[str, Scalar] | None = None) -> Filter:
    """Parse ``page >= 2 and (speaker = 'ann' or metadata.lang in ('en', 'fr'))``.

    Grammar: ``or``/``and``/``not`` with parentheses; comparisons ``= != < <= > >=``,
    ``contains``, ``in (…)``, ``is [not] null``; literals are quoted strings, numbers,
    ``true``, ``false``, ``null``, or ``$name`` for ``params[name]`` — a value bound after
    parsing, so whatever it holds stays one value. Raises InvalidFilterError saying where it
    stopped.
    """
    parser = _Parser(expression, params or {})
    result = parser.parse_or()
    if parser.peek() is not None:
        parser.fail("unexpected text")
    return result


def field_of(name: str) -> Field:
    """Classify a field name: document field, feature address, or metadata key."""
    if name.startswith("metadata."):
        key = name.removeprefix("metadata.")
        if not key:
            raise InvalidFilterError("empty metadata key in filter", field=name)
        return Field(key, metadata=True)
    if name in DOCUMENT_FIELDS or "@" in name:
        return Field(name)
    return Field(name, metadata=True)


class _Parser:
    def __init__(self, text: str, params: Mapping[str, Scalar]) -> None:
        self.params = params
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            if not text[position:].strip():
                break
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                rest = text[position : position + 20]
                raise InvalidFilterError(
                    f"cannot read filter at position {position}: {rest!r}", field="where"
                )
            kind = match.lastgroup or ""
            self.tokens.append((kind, match[kind], match.start(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, why: str) -> NoReturn:
        token = self.peek()
        where = f"at {token[1]!r} (position {token[2]})" if token else "at the end"
        raise InvalidFilterError(f"bad filter {self.text!r}: {why} {where}", field="where")

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            self.fail("incomplete expression")
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.index += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token and token[0] == "punct" and token[1] == char:
            self.index += 1
            return True
        return False

    def parse_or(self) -> Filter:
        items = [self.parse_and()]
        while self.keyword("or"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Filter:
        items = [self.parse_not()]
        while self.keyword("and"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Filter:
        if self.keyword("not"):
            return Not(self.parse_not())
        if self.punct("("):
            inner = self.parse_or()
            if not self.punct(")"):
                self.fail("expected ')'")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Filter:
        kind, name, _ = self.take()
        if kind != "word" or name.lower() in _KEYWORDS:
            self.index -= 1
            self.fail("expected a field name")
        field = field_of(name)
        if self.keyword("in"):
            return In(field, self.parse_list())
        if self.keyword("contains"):
            return _checked(Compare(field, "contains", self.parse_value()))
        if self.keyword("is"):
            negate = self.keyword("not")
            if not self.keyword("null"):
                self.fail("expected 'null'")
            return Compare(field, "!=" if negate else "=", None)
        kind, op, _ = self.take()
        if kind != "op":
            self.index -= 1
            self.fail("expected an operator (= != < <= > >= in contains is)")
        op = {"==": "=", "<>": "!="}.get(op, op)
        return _checked(Compare(field, cast(CompareOp, op), self.parse_value()))

    def parse_list(self) -> tuple[Scalar, ...]:
        if not self.punct("("):
            self.fail("expected '(' after in")
        values = [self.parse_value()]
        while self.punct(","):
            values.append(self.parse_value())
        if not self.punct(")"):
            self.fail("expected ')'")
        return tuple(values)

    def parse_value(self) -> Scalar:
        kind, text, _ = self.take()
        if kind == "string":
            quote = text[0]
            return text[1:-1].replace(quote * 2, quote)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        if kind == "param":
            if text[1:] not in self.params:
                self.index -= 1
                self.fail(f"no value for {text}")
            return self.params[text[1:]]
        self.index -= 1
        self.fail("expected a value (a quoted string, a number, true, false or null)")


def _checked(compare: Compare) -> Compare:
    """Reject comparisons that cannot mean anything, e.g. ``page > 'x'`` or ``contains 3``."""
    expected = DOCUMENT_FIELDS.get(compare.field.name) if not compare.field.metadata else None
    value = compare.value
    if compare.op == "contains" and not isinstance(value, str):
        raise InvalidFilterError("contains needs a quoted string", field=compare.field.name)
    if expected in (int, float) and not (
        isinstance(value, int | float) and not isinstance(value, bool)
    ):
        raise InvalidFilterError(
            f"{compare.field.name} is a number; {value!r} is not", field=compare.field.name
        )
    ordered = compare.op not in ("=", "!=", "contains")
    if expected is str and ordered and value is not None and not isinstance(value, str):
        raise InvalidFilterError(
            f"{compare.field.name} is text; compare it with a quoted string",
            field=compare.field.name,
        )
    return compare
