"""``attribute_filter``: keep the candidates a typed filter accepts.

``where`` is the filter language of :mod:`omnidex.store.filters` (``speaker = 'ann' and start_s
>= 60``); ``{{inputs.name}}`` inside it is bound as a value, never pasted in as text. Before any
search the filter is pushed down into the next search's store query (so top-k is taken among
matching documents); after one, it is applied to the candidates in memory, with the same meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omnidex.errors import InvalidFilterError
from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.stage import Stage
from omnidex.retrieval.templates import as_filter_parameters
from omnidex.store.filter_match import matches
from omnidex.store.filters import (
    DOCUMENT_FIELDS,
    And,
    Compare,
    Filter,
    In,
    Not,
    Or,
    Scalar,
    parse_filter,
)


class AttributeFilterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    where: str = Field(min_length=1, max_length=4000)


class AttributeFilter(Stage):
    type = "attribute_filter"
    Params = AttributeFilterParams
    params: AttributeFilterParams

    @classmethod
    def bind(cls, params: dict[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        return params  # inputs are bound as filter values by ``parsed``, never as text

    def parsed(self, inputs: Mapping[str, object]) -> Filter:
        """The filter with the inputs bound; InvalidSpecError naming ``params.where``."""
        values = {k: v for k, v in inputs.items() if isinstance(v, Scalar)}
        try:
            return parse_filter(as_filter_parameters(self.params.where), values)
        except InvalidFilterError as exc:
            raise self.fail("params.where", exc.message) from None

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        known = {f.address for s in sources for f in s.info.features}
        for name in _feature_fields(self.parsed(inputs)):
            if name not in known and name not in DOCUMENT_FIELDS:
                raise self.fail("params.where", f"no collection of this retriever has {name!r}")

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        where = self.parsed(context.inputs)
        if not context.searched:
            context.push_filter(where)
            context.notes.append(f"{self.id}: pushed down into the next search")
            return candidates
        return [c for c in candidates if matches(where, c.document)]


def _feature_fields(f: Filter) -> list[str]:
    """Feature addresses a filter names (``name@vN/feature``)."""
    if isinstance(f, Compare | In):
        return [f.field.name] if not f.field.metadata and "@" in f.field.name else []
    if isinstance(f, And | Or):
        return [name for item in f.items for name in _feature_fields(item)]
    if isinstance(f, Not):
        return _feature_fields(f.item)
    return []
