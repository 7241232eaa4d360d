"""``group_by``: one result per object (a video, a PDF) with its best moments inside it.

Candidates are grouped by ``field`` (default ``object_id``; any document field or
``metadata.key``). Within a group, moments grow from the best candidate down: each candidate, in
score order, joins the moments it touches — time ranges at most ``merge_gap_s`` apart, or
consecutive pages — whose best part ranks within the group no worse than ``merge_rank_factor``
times better than it (3: the 6th best joins a moment led by the 2nd best, not one led by the 1st),
and otherwise starts a moment of its own. Ranks, not scores, so it means the same after a fusion,
a cosine or a cross-encoder's logits. So a moment is a run of comparably strong candidates, never
the whole video because every scene of it touches the next one. A moment spans its parts
(``start_s`` to ``end_s``, ``page`` to ``end_page``) and is scored by its best part. A group keeps
its ``top_n`` best moments, in time order, and is scored by its best candidate (``max``) or the sum
of all (``sum``). The group's hit is its best candidate; its ``moments`` list the ranges, each with
a snippet of its best part. Groups come out best first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from omnidex.retrieval.candidates import Candidate, RunContext, Source
from omnidex.retrieval.snippets import snippet
from omnidex.retrieval.stage import Stage
from omnidex.types import Document, Moment

T = TypeVar("T", int, float)


class GroupByParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = "object_id"
    top_n: int = Field(3, ge=1, le=100)
    merge_gap_s: float = Field(1.0, ge=0)
    merge_rank_factor: float = Field(3.0, ge=1)
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
            moments = merge_moments(members, self.params.merge_gap_s, self.params.merge_rank_factor)
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


def merge_moments(members: list[Candidate], gap_s: float, rank_factor: float) -> list[Moment]:
    """The members' moments in time (or page) order, grown best first: the member ranked ``r``
    joins (bridging them) every moment it touches whose best part ranks ``r / rank_factor`` or
    better, else starts one. A moment's first id is its best part's."""
    moments: list[tuple[int, Moment]] = []  # (rank of the best part, moment)
    for rank, candidate in enumerate(sorted(members, key=lambda c: -c.score), start=1):
        moment, lead = _moment(candidate), rank
        for other in [
            (r, m) for r, m in moments if _touch(m, moment, gap_s) and rank <= rank_factor * r
        ]:
            moments.remove(other)
            lead, moment = min(lead, other[0]), _join(other[1], moment)
        moments.append((lead, moment))
    return sorted((m for _, m in moments), key=_position)


def _moment(candidate: Candidate) -> Moment:
    document = candidate.document
    return Moment(
        score=candidate.score,
        ids=[document.id],
        page=document.page,
        end_page=document.page,
        start_s=document.start_s,
        end_s=document.end_s,
    )


def _position(moment: Moment) -> tuple[float, float]:
    return (moment.start_s if moment.start_s is not None else -1.0, moment.page or 0)


def _touch(a: Moment, b: Moment, gap_s: float) -> bool:
    """Whether two moments overlap or lie at most ``gap_s`` apart, or their pages run on."""
    if (
        a.start_s is not None
        and a.end_s is not None
        and b.start_s is not None
        and b.end_s is not None
    ):
        return max(a.start_s, b.start_s) - min(a.end_s, b.end_s) <= gap_s
    if (
        a.page is not None
        and a.end_page is not None
        and b.page is not None
        and b.end_page is not None
    ):
        return max(a.page, b.page) - min(a.end_page, b.end_page) <= 1
    return False


def _join(a: Moment, b: Moment) -> Moment:
    """One moment spanning both, scored and led by the better one."""
    first, second = (a, b) if a.score >= b.score else (b, a)
    return Moment(
        score=first.score,
        ids=first.ids + second.ids,
        page=_bound(min, a.page, b.page),
        end_page=_bound(max, a.end_page, b.end_page),
        start_s=_bound(min, a.start_s, b.start_s),
        end_s=_bound(max, a.end_s, b.end_s),
    )


def _bound(pick: Callable[[T, T], T], x: T | None, y: T | None) -> T | None:
    """``pick`` of the two, ignoring a missing one."""
    return y if x is None else x if y is None else pick(x, y)
