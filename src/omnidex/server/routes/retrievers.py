"""``/v1/retrievers``: save, list, get, delete, execute and explain retrievers; run one ad hoc.

Every run answers a ``RetrievalResult``: ``execute`` with ``stages`` null, ``explain`` (and an ad
hoc run with ``explain: true``) with each stage's report.

Paths follow Mixpeek's v1 conventions (``/v1/retrievers/{id}/execute``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.embedded import Database
from omnidex.server.auth import database, writable_database
from omnidex.types import RetrievalResult, RetrieverInfo, RetrieverSpec

router = APIRouter(prefix="/v1/retrievers", tags=["retrievers"])
Reader = Annotated[Database, Depends(database)]
Writer = Annotated[Database, Depends(writable_database)]


class ExecuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(None, ge=1)


class AdHocIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: RetrieverSpec
    inputs: dict[str, Any] = Field(default_factory=dict)
    explain: bool = False


@router.post("", status_code=201)
def create_retriever(spec: RetrieverSpec, db: Writer) -> RetrieverInfo:
    return db.create_retriever(spec)


@router.get("")
def list_retrievers(db: Reader) -> list[RetrieverInfo]:
    return db.retrievers()


@router.get("/{name}")
def get_retriever(name: str, db: Reader, version: int | None = None) -> RetrieverInfo:
    return db.retriever(name, version).info


@router.delete("/{name}", status_code=204)
def delete_retriever(name: str, db: Writer) -> Response:
    db.delete_retriever(name)
    return Response(status_code=204)


@router.post("/execute")
def execute_ad_hoc(body: AdHocIn, db: Reader) -> RetrievalResult:
    return db.retrieve(body.spec, body.inputs, explain=body.explain)


@router.post("/{name}/execute")
def execute(name: str, body: ExecuteIn, db: Reader) -> RetrievalResult:
    return db.retriever(name, body.version).run(body.inputs)


@router.post("/{name}/explain")
def explain(name: str, body: ExecuteIn, db: Reader) -> RetrievalResult:
    return db.retriever(name, body.version).explain(body.inputs)
