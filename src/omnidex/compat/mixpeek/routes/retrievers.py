"""``/v1/retrievers``: create (stages mapped onto omnidex's), get, list, delete, execute with
inputs, explain. A Mixpeek retriever is an omnidex retriever of the same name over the named
collections; the stages are kept as sent, to be shown back in Mixpeek's form."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import Caller, Reader, Writer, note_ignored
from omnidex.compat.mixpeek.routes.collections import find_collection
from omnidex.compat.mixpeek.routes.documents import document_out
from omnidex.compat.mixpeek.stages import input_names, omnidex_stage, stage_parts, where_of
from omnidex.compat.mixpeek.store import Row
from omnidex.compat.mixpeek.wire import Paged, Paging, listing
from omnidex.errors import AlreadyExistsError, InvalidSpecError
from omnidex.types import RetrievalResult

router = APIRouter(prefix="/v1/retrievers", tags=["retrievers"])
INPUT_TYPES = {
    "text": "text",
    "string": "string",
    "number": "number",
    "integer": "number",
    "float": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
    "image": "image",
}


class StageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    stage_name: str = Field(min_length=1, max_length=128)
    stage_type: Literal["filter", "sort", "reduce", "apply", "enrich"] | None = None
    config: dict[str, Any]


class RetrieverIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    retriever_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    description: str | None = None
    collection_identifiers: list[str] | None = None
    stages: list[StageIn] = Field(min_length=1, max_length=32)
    input_schema: dict[str, dict[str, Any]] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputs: dict[str, Any] = Field(default_factory=dict)
    filters: dict[str, Any] | None = None
    limit: int | None = Field(None, ge=1, le=1000)


def _inputs(body: RetrieverIn, stages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """omnidex input specs: from ``input_schema``, else from the references in the stages
    (a search's query is text, any other reference a string)."""
    if body.input_schema:
        out = {}
        for name, spec in body.input_schema.items():
            kind = str(spec.get("type", "text"))
            if kind not in INPUT_TYPES:
                raise InvalidSpecError(
                    f"input {name!r} has type {kind!r}; omnidex supports: {', '.join(INPUT_TYPES)}",
                    field=f"input_schema.{name}.type",
                )
            out[name] = {
                "type": INPUT_TYPES[kind],
                "required": bool(spec.get("required", spec.get("default") is None)),
                "default": spec.get("default"),
                "description": str(spec.get("description") or ""),
            }
        return out
    queries = {
        n
        for s in stages
        if s["type"] in ("feature_search", "rerank")
        for n in input_names(s["params"])
    }
    return {
        name: {"type": "text" if name in queries else "string"}
        for s in stages
        for name in input_names(s["params"])
    }


def retriever_out(row: Row) -> dict[str, Any]:
    stages = []
    for stage in row["stages"]:
        stage_id, params = stage_parts(stage)
        config = {"stage_id": stage_id, "parameters": params}
        stages.append(
            {
                "stage_name": stage["stage_name"],
                "stage_type": stage.get("stage_type"),
                "config": config,
                "parameters": params,
            }
        )
    return {
        "retriever_id": row["id"],
        "retriever_name": row["retriever_name"],
        "description": row.get("description"),
        "collection_ids": row["collection_ids"],
        "collection_identifiers": row["collection_ids"],
        "stages": stages,
        "input_schema": {
            name: {
                "type": spec["type"],
                "required": spec.get("required", True),
                "description": spec.get("description", ""),
            }
            for name, spec in row["inputs"].items()
        },
        "metadata": row.get("metadata") or {},
        "fusion": None,
        "version": row.get("version", 1),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@router.post("")
def create_retriever(body: RetrieverIn, who: Writer, response: Response) -> dict[str, Any]:
    note_ignored(
        response,
        body,
        {
            "retriever_name",
            "description",
            "collection_identifiers",
            "stages",
            "input_schema",
            "metadata",
        },
    )
    if who.store.find("retrievers", who.namespace, body.retriever_name):
        raise AlreadyExistsError(
            f"retriever {body.retriever_name!r} already exists", field="retriever_name"
        )
    wanted = body.collection_identifiers or [
        c
        for s in body.stages
        for c in stage_parts(s.model_dump())[1].get("collection_identifiers") or []
    ]
    rows = [find_collection(who, c) for c in wanted] or who.store.rows("collections", who.namespace)
    if not rows:
        raise InvalidSpecError(
            "name the collections to search in collection_identifiers",
            field="collection_identifiers",
        )
    sent = [s.model_dump(exclude_none=True) for s in body.stages]
    stages = [omnidex_stage(s, i) for i, s in enumerate(sent)]
    inputs = _inputs(body, stages)
    spec = {
        "name": body.retriever_name,
        "description": body.description or "",
        "collections": [r["collection_name"] for r in rows],
        "inputs": inputs,
        "stages": stages,
    }
    info = who.db.create_retriever(spec)
    row = who.store.insert(
        "retrievers",
        who.namespace,
        {
            "retriever_name": body.retriever_name,
            "description": body.description,
            "collection_ids": [r["id"] for r in rows],
            "stages": sent,
            "inputs": inputs,
            "metadata": body.metadata,
            "version": info.version,
        },
        name=body.retriever_name,
    )
    return retriever_out(row)


def _list(who: Caller, at: Paging) -> dict[str, Any]:
    rows = who.store.rows("retrievers", who.namespace)
    chosen, pagination = listing(rows, at)
    results = [retriever_out(r) for r in chosen]
    return {"results": results, "total": len(rows), "pagination": pagination}


@router.get("")
def list_retrievers(who: Reader, at: Paged) -> dict[str, Any]:
    return _list(who, at)


@router.post("/list")
def list_retrievers_post(who: Reader, at: Paged) -> dict[str, Any]:
    return _list(who, at)


@router.get("/{retriever_id}")
def get_retriever(retriever_id: str, who: Reader) -> dict[str, Any]:
    return retriever_out(who.store.get("retrievers", who.namespace, retriever_id))


@router.delete("/{retriever_id}")
def delete_retriever(retriever_id: str, who: Writer) -> dict[str, Any]:
    row = who.store.get("retrievers", who.namespace, retriever_id)
    who.db.delete_retriever(row["retriever_name"])
    who.store.delete("retrievers", row["id"])
    return {"success": True, "message": f"retriever {row['retriever_name']!r} deleted"}


def _run(who: Caller, row: Row, body: ExecuteIn) -> RetrievalResult:
    """Run the retriever; ``filters`` become an ``attribute_filter`` before its stages (pushed
    down into the first search)."""
    saved = who.db.retriever(row["retriever_name"])
    if not body.filters:
        return saved.explain(body.inputs)
    spec = saved.info.spec.model_dump()
    spec["stages"] = [
        {"type": "attribute_filter", "id": "filters", "params": {"where": where_of(body.filters)}},
        *spec["stages"],
    ]
    return who.db.retrieve(spec, body.inputs, explain=True)


@router.post("/{retriever_id}/execute")
def execute_retriever(
    retriever_id: str, body: ExecuteIn, who: Reader, request: Request, response: Response
) -> dict[str, Any]:
    note_ignored(response, body, {"inputs", "filters", "limit"})
    row = who.store.get("retrievers", who.namespace, retriever_id)
    started = time.perf_counter()
    result = _run(who, row, body)
    hits = result.hits[: body.limit] if body.limit else result.hits
    collections = {c["collection_name"]: c for c in who.store.rows("collections", who.namespace)}
    documents = []
    for hit in hits:
        collection = collections[hit.collection]
        doc = who.db.collection(hit.collection).get(hit.id)
        documents.append(
            document_out(who, request, collection, doc)
            | {
                "score": hit.score,
                "snippet": hit.snippet,
                "stage_scores": {k: v.score for k, v in hit.provenance.items()},
            }
        )
    return {
        "retriever_id": row["id"],
        "execution_id": f"exec_{uuid.uuid4().hex[:16]}",
        "status": "completed",
        "documents": documents,
        "pagination": {"total": len(documents), "page": 1, "page_size": len(documents)},
        "diagnostics": {
            "total_ms": round((time.perf_counter() - started) * 1000, 3),
            "stages": [s.model_dump() for s in result.stages or []],
        },
    }


@router.post("/{retriever_id}/execute/explain")
def explain_retriever(retriever_id: str, body: ExecuteIn, who: Reader) -> dict[str, Any]:
    """The stages as they ran on these inputs: measured times and candidate counts (omnidex
    explains by running, so the figures are measured, not estimated)."""
    row = who.store.get("retrievers", who.namespace, retriever_id)
    result = _run(who, row, body)
    plan = [
        {
            "stage_index": i,
            "stage_name": report.id,
            "stage_type": report.type,
            "estimated_input": report.candidates_in,
            "estimated_output": report.candidates_out,
            "estimated_efficiency": round(report.candidates_out / report.candidates_in, 4)
            if report.candidates_in
            else 1.0,
            "estimated_cost_credits": 0.0,
            "estimated_duration_ms": round(report.ms, 3),
            "cache_likely": False,
            "optimization_notes": report.notes,
        }
        for i, report in enumerate(result.stages or [])
    ]
    slowest = max(result.stages, key=lambda r: r.ms).id if result.stages else None
    return {
        "retriever_id": row["id"],
        "retriever_name": row["retriever_name"],
        "estimated_cost": {"credits": 0.0, "duration_ms": round(result.total_ms, 3)},
        "execution_plan": plan,
        "total_estimated_stages": len(plan),
        "bottleneck_stages": [slowest] if slowest else [],
        "optimization_applied": False,
    }
