"""Typed filters over documents: the AST every store compiles, and the parser for ``where`` strings.

Fields are document coordinates (``kind``, ``source``, ``object_id``, ``key``, ``page``,
``start_s``, ``end_s``, ``start_frame``, ``end_frame``, ``fps``), feature addresses of text or
number features (``ocr@v1/confidence``) and user metadata (``metadata.speaker``, or a bare name
that is none of the above, e.g. ``speaker``). Values are literals; nothing a user types reaches a
store unparsed.
"""

from __future__ import annotations

import math
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


# --- limits, checked before anything runs -------------------------------------------------------

MAX_FILTER_LENGTH = 4000
"""Longest ``where`` string, in characters."""
MAX_FILTER_DEPTH = 16
"""Deepest nesting of parentheses, ``not`` and alternating ``and``/``or`` in one filter."""
MAX_INTEGER = 2**63 - 1
"""Largest integer literal (in magnitude): an int64."""
MAX_STRING_LITERAL = 4000
"""Longest string value, in characters (bound ``$name`` values included)."""


def check_value(value: Scalar, position: int | None = None) -> Scalar:
    """``value`` if a filter may compare with it; InvalidFilterError saying why not (and where,
    given the ``position`` of the literal in the filter's text)."""
    at = "" if position is None else f" at position {position}"
    why = None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        why = f"number too large{at}: integers in filters are at most {MAX_INTEGER}"
    elif isinstance(value, float) and not math.isfinite(value):
        why = f"{value!r} is not a finite number{at}"
    elif isinstance(value, str) and len(value) > MAX_STRING_LITERAL:
        why = f"string too long{at}: at most {MAX_STRING_LITERAL} characters"
    elif isinstance(value, str) and "\x00" in value:
        why = f"a filter value may not contain a NUL character{at}"
    if why is not None:
        raise InvalidFilterError(why, field="where", position=position)
    return value


def depth(f: Filter) -> int:
    """How deep ``f`` nests: each ``not`` and each change between ``and`` and ``or`` is a level
    (an ``and`` inside an ``and`` adds none: the stores flatten it)."""
    stack: list[tuple[Filter, int, type | None]] = [(f, 0, None)]
    deepest = 0
    while stack:  # iterative: a filter built in code may nest deeper than Python's stack
        node, level, parent = stack.pop()
        if isinstance(node, And | Or):
            level += type(node) is not parent
            stack.extend((item, level, type(node)) for item in node.items)
        elif isinstance(node, Not):
            level += 1
            stack.append((node.item, level, None))
        deepest = max(deepest, level)
    return deepest


def check_depth(f: Filter) -> Filter:
    """``f`` if it nests no deeper than :data:`MAX_FILTER_DEPTH`."""
    if depth(f) > MAX_FILTER_DEPTH:
        raise InvalidFilterError(
            f"filter nests deeper than {MAX_FILTER_DEPTH} levels", field="where"
        )
    return f


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
    stopped; the limits (:data:`MAX_FILTER_LENGTH`, :data:`MAX_FILTER_DEPTH`,
    :data:`MAX_INTEGER`, :data:`MAX_STRING_LITERAL`) are checked as it reads.
    """
    if len(expression) > MAX_FILTER_LENGTH:
        raise InvalidFilterError(
            f"filter too long: {len(expression)} characters, at most {MAX_FILTER_LENGTH}",
            field="where",
            position=MAX_FILTER_LENGTH,
        )
    parser = _Parser(expression, params or {})
    result = parser.parse_or()
    if parser.peek() is not None:
        parser.fail("unexpected text")
    return check_depth(result)


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
                    f"cannot read filter at position {position}: {rest!r}",
                    field="where",
                    position=position,
                )
            kind = match.lastgroup or ""
            self.tokens.append((kind, match[kind], match.start(kind)))
            position = match.end()
        self.index = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, why: str) -> NoReturn:
        token = self.peek()
        position = token[2] if token else len(self.text)
        where = f"at {token[1][:40]!r} (position {position})" if token else "at the end"
        raise InvalidFilterError(
            f"bad filter {self.text[:200]!r}: {why} {where}", field="where", position=position
        )

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
        token = self.peek()
        opens = token is not None and (
            (token[0] == "word" and token[1].lower() == "not") or token[1] == "("
        )
        if not opens:
            return self.parse_comparison()
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            self.fail(f"nested deeper than {MAX_FILTER_DEPTH} levels")
        inner: Filter
        if self.keyword("not"):
            inner = Not(self.parse_not())
        else:
            self.punct("(")
            inner = self.parse_or()
            if not self.punct(")"):
                self.fail("expected ')'")
        self.depth -= 1
        return inner

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
        kind, text, position = self.take()
        if kind == "string":
            quote = text[0]
            return check_value(text[1:-1].replace(quote * 2, quote), position)
        if kind == "number":
            if len(text) > 40:  # no int64 or finite double needs more digits than this
                self.index -= 1
                self.fail("number too long")
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return check_value(number, position)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        if kind == "param":
            if text[1:] not in self.params:
                self.index -= 1
                self.fail(f"no value for {text}")
            return check_value(self.params[text[1:]], position)
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
