"""``group_by``: one result per object (a video, a PDF) with its best moments inside it.

Candidates are grouped by ``field`` (default ``object_id``; any document field or
``metadata.key``). Within a group, moments that touch — time ranges less than ``merge_gap_s``
apart, or consecutive pages — merge into one moment spanning them, scored by its best part. A
group keeps its ``top_n`` best moments, in time order, and is scored by its best candidate
(``max``) or the sum of all (``sum``). The group's hit is its best candidate; its ``moments`` list
the merged ranges, each with a snippet of its best part. Groups come out best first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.snippets import snippet
from omnidex.retrieval.stage import Stage
from omnidex.types import Document, Moment


class GroupByParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = "object_id"
    top_n: int = Field(3, ge=1, le=100)
    merge_gap_s: float = Field(1.0, ge=0)
    score: Literal["max", "sum"] = "max"


class GroupBy(Stage):
    type = "group_by"
    Params = GroupByParams
    params: GroupByParams

    def check(self, sources: Sequence[Source], inputs: Mapping[str, object]) -> None:
        if not self.params.field.strip():
            raise self.fail("params.field", "name a field to group by")

    def run(self, context: RunContext, candidates: list[Candidate]) -> list[Candidate]:
        groups: dict[Any, list[Candidate]] = {}
        for candidate in candidates:
            key = field_value(candidate.document, self.params.field)
            groups.setdefault((candidate.collection.id, repr(key)), []).append(candidate)
        out = []
        texts = {c.id: c for c in candidates}
        for members in groups.values():
            best = max(members, key=lambda c: c.score)
            moments = merge_moments(members, self.params.merge_gap_s)
            top = sorted(moments, key=lambda m: -m.score)[: self.params.top_n]
            best.moments = [
                m.model_copy(update={"snippet": snippet(texts[m.ids[0]].text(), context.query)})
                for m in sorted(top, key=_position)
            ]
            scores = [c.score for c in members]
            best.score = max(scores) if self.params.score == "max" else sum(scores)
            out.append(best)
        return sorted(out, key=lambda c: -c.score)


def field_value(document: Document, name: str) -> Any:
    """A document field, ``metadata.key`` or a feature address, read from a document."""
    if name.startswith("metadata."):
        return document.metadata.get(name.removeprefix("metadata."))
    if name in document.features:
        return document.features[name]
    return getattr(document, name, document.metadata.get(name))


def merge_moments(members: list[Candidate], gap_s: float) -> list[Moment]:
    """The members as moments in time (or page) order, touching ones merged; a moment's first
    id is its best part's."""
    merged: list[Moment] = []
    for moment in sorted((_moment(c) for c in members), key=_position):
        if merged and _touch(merged[-1], moment, gap_s):
            merged[-1] = _join(merged[-1], moment)
        else:
            merged.append(moment)
    return merged


def _moment(candidate: Candidate) -> Moment:
    document = candidate.document
    return Moment(
        score=candidate.score,
        ids=[document.id],
        page=document.page,
        start_s=document.start_s,
        end_s=document.end_s,
    )


def _position(moment: Moment) -> tuple[float, float]:
    return (moment.start_s if moment.start_s is not None else -1.0, moment.page or 0)


def _touch(a: Moment, b: Moment, gap_s: float) -> bool:
    if a.end_s is not None and b.start_s is not None:
        return b.start_s - a.end_s <= gap_s
    if a.page is not None and b.page is not None:
        return b.page - a.page <= 1
    return False


def _join(a: Moment, b: Moment) -> Moment:
    first, second = (a, b) if a.score >= b.score else (b, a)
    end = max(e for e in (a.end_s, b.end_s) if e is not None) if a.end_s is not None else b.end_s
    return Moment(
        score=first.score,
        ids=first.ids + second.ids,
        page=a.page,
        start_s=a.start_s,
        end_s=end,
    )
