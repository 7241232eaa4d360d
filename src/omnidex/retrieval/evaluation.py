"""Evaluate a retriever on labelled queries: recall@k, MRR and nDCG@k.

A qrels file holds one query per line (JSON Lines) or a JSON list of them::

    {"query": "where is the Frankfurt facility", "relevant": ["doc_3f…",
     {"object_id": "obj_9a…", "start_s": 30, "end_s": 40}, {"source": "manual.pdf", "page": 2}]}

``inputs`` may replace or complete ``query`` (``{"query": …, "speaker": "ann"}``). A relevant
item is a document id, or a place: an object (by ``object_id`` or ``source``, the file name
matching too), optionally narrowed to a time range (a hit matches when its range, or one of its
moments, overlaps) or a page. Each relevant item counts once, for the first hit that matches it.

- recall@k: the share of relevant items matched in the first k hits;
- MRR: 1 / the rank of the first hit that matches one (0 if none in the first k);
- nDCG@k: binary gains, ``Σ 1/log2(rank + 1)`` over hits that match a new item, divided by the
  same sum for a perfect ranking.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from omnidex.errors import InvalidSpecError
from omnidex.types import Hit


class Place(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_id: str | None = None
    source: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    page: int | None = None

    @model_validator(mode="after")
    def _names_an_object(self) -> Place:
        if self.object_id is None and self.source is None:
            raise ValueError("a relevant place names an object_id or a source")
        return self


class Qrel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    relevant: list[str | Place] = Field(min_length=1)

    def run_inputs(self) -> dict[str, Any]:
        return {"query": self.query, **self.inputs} if self.query is not None else self.inputs


class QueryScore(BaseModel):
    query: str
    recall: float
    reciprocal_rank: float
    ndcg: float


class EvalReport(BaseModel):
    k: int
    queries: int
    recall_at_k: float
    mrr: float
    ndcg_at_k: float
    per_query: list[QueryScore]


def load_qrels(path: Path) -> list[Qrel]:
    """The labelled queries of ``path``; InvalidSpecError naming the line of a bad one."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    rows: list[tuple[str, Any]]
    try:
        if stripped.startswith("["):
            rows = [(f"item {i}", item) for i, item in enumerate(json.loads(text), start=1)]
        else:
            rows = [
                (f"line {n}", json.loads(line))
                for n, line in enumerate(text.splitlines(), start=1)
                if line.strip()
            ]
    except json.JSONDecodeError as exc:
        raise InvalidSpecError(f"{path}: not JSON: {exc}", field="qrels") from None
    qrels = []
    for where, row in rows:
        try:
            qrels.append(Qrel.model_validate(row))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            raise InvalidSpecError(
                f"{path}, {where}: {field}: {error['msg']}", field="qrels"
            ) from None
    if not qrels:
        raise InvalidSpecError(f"{path}: no queries", field="qrels")
    return qrels


def evaluate(
    run: Callable[[dict[str, Any]], Sequence[Hit]], qrels: Sequence[Qrel], k: int
) -> EvalReport:
    """Run every labelled query through ``run`` and score the first ``k`` hits."""
    scores = [score_query(q, run(q.run_inputs())[:k], k) for q in qrels]
    count = len(scores)
    return EvalReport(
        k=k,
        queries=count,
        recall_at_k=sum(s.recall for s in scores) / count,
        mrr=sum(s.reciprocal_rank for s in scores) / count,
        ndcg_at_k=sum(s.ndcg for s in scores) / count,
        per_query=scores,
    )


def score_query(qrel: Qrel, hits: Sequence[Hit], k: int) -> QueryScore:
    credited: set[int] = set()
    first = 0
    dcg = 0.0
    for rank, hit in enumerate(hits[:k], start=1):
        new = [
            i for i, item in enumerate(qrel.relevant) if i not in credited and matches(hit, item)
        ]
        if not new:
            continue
        credited.add(new[0])
        first = first or rank
        dcg += 1 / math.log2(rank + 1)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(k, len(qrel.relevant)) + 1))
    return QueryScore(
        query=qrel.query or json.dumps(qrel.inputs, sort_keys=True),
        recall=len(credited) / len(qrel.relevant),
        reciprocal_rank=1 / first if first else 0.0,
        ndcg=dcg / ideal if ideal else 0.0,
    )


def matches(hit: Hit, item: str | Place) -> bool:
    """Whether ``hit`` is the relevant document, or lies in the relevant place."""
    if isinstance(item, str):
        return hit.id == item or any(item in m.ids for m in hit.moments)
    if item.object_id is not None and hit.object_id != item.object_id:
        return False
    if (
        item.source is not None
        and hit.source != item.source
        and Path(hit.source).name != item.source
    ):
        return False
    if item.page is not None:
        return hit.page == item.page or any(
            m.page is not None and m.page <= item.page <= (m.end_page or m.page)
            for m in hit.moments
        )
    if item.start_s is None or item.end_s is None:
        return True
    spans = [(hit.start_s, hit.end_s), *((m.start_s, m.end_s) for m in hit.moments)]
    return any(
        start is not None and end is not None and start < item.end_s and item.start_s < end
        for start, end in spans
    )
