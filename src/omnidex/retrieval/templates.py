"""``{{inputs.name}}`` in retriever stage parameters: finding the references and filling them in.

A parameter that is exactly one reference takes the input's value as it is (a number stays a
number); a reference inside a longer string is written into it as text. Filter expressions are
different: there a reference becomes a bound ``$name`` parameter of the filter parser, so an
input's value is always one value and never filter syntax (``omnidex.store.filters``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_REFERENCE = re.compile(r"\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def references(value: Any, path: str = "params") -> Iterator[tuple[str, str]]:
    """``(parameter path, input name)`` for every reference inside ``value``."""
    if isinstance(value, str):
        for match in _REFERENCE.finditer(value):
            yield path, match[1]
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]")


def fill(value: Any, inputs: Mapping[str, Any]) -> Any:
    """``value`` with every reference replaced by its input."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value.strip())
        if whole:
            return inputs.get(whole[1])
        return _REFERENCE.sub(lambda m: str(inputs.get(m[1], "")), value)
    if isinstance(value, Mapping):
        return {key: fill(item, inputs) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill(item, inputs) for item in value]
    return value


def as_filter_parameters(expression: str) -> str:
    """A filter expression whose references are ``$name`` parameters of the filter parser."""
    return _REFERENCE.sub(lambda m: "$" + m[1], expression)
