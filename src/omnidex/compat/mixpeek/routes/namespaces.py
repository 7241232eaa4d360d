"""``/v1/namespaces``: create, get, list. Namespaces are omnidex's; a key sees its own only.

An omnidex key belongs to one namespace, so creating a namespace through a key is only the
idempotent ``create`` of the key's own one; any other name is refused (403) with what to run
instead. A ``--dev`` server (no keys) creates any namespace asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import (
    Caller,
    Reader,
    Writer,
    namespace_id,
    namespace_name,
    note_ignored,
)
from omnidex.compat.mixpeek.wire import page
from omnidex.errors import NotFoundError, PermissionDeniedError

router = APIRouter(prefix="/v1/namespaces", tags=["namespaces"])


class NamespaceIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    namespace_name: str = Field(
        min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    description: str | None = None


def namespace_out(who: Caller, name: str, description: str | None = None) -> dict[str, Any]:
    db = who.state.database(name)
    collections = db.collections()
    store = who.store
    return {
        "object": "namespace",
        "namespace_id": namespace_id(name),
        "namespace_name": name,
        "description": description,
        "mode": "managed",
        "collection_count": len(collections),
        "bucket_count": len(store.rows("buckets", name)),
        "object_count": len(store.rows("objects", name)),
        "document_count": sum(db.document_count(c.name) or 0 for c in collections),
        "namespace_ready": True,
    }


@router.post("")
def create_namespace(body: NamespaceIn, who: Writer, response: Response) -> dict[str, Any]:
    note_ignored(response, body, {"namespace_name", "description"})
    name = body.namespace_name
    if who.who.key_id is None:
        who.state.ensure_namespace(name)
    elif name != who.namespace:
        raise PermissionDeniedError(
            f"this API key belongs to namespace {who.namespace!r}; omnidex keys reach one "
            f"namespace each: create {name!r} with `omnidex namespace create {name}` and give "
            f"it a key with `omnidex key create NAME --namespace {name} --role write`",
            field="namespace_name",
        )
    return namespace_out(who, name, body.description)


def _visible(who: Caller) -> list[str]:
    if who.who.key_id is None:
        return who.state.catalog.list_namespaces()
    return [who.namespace]


@router.get("/{namespace_identifier}")
def get_namespace(namespace_identifier: str, who: Reader) -> dict[str, Any]:
    name = namespace_name(namespace_identifier)
    if name not in _visible(who):
        raise NotFoundError(f"namespace {namespace_identifier!r} does not exist")
    return namespace_out(who, name)


def _list(who: Caller) -> dict[str, Any]:
    results = [namespace_out(who, name) for name in _visible(who)]
    return {"results": results, "total_count": len(results), "pagination": page(len(results))}


@router.get("")
def list_namespaces(who: Reader) -> dict[str, Any]:
    return _list(who)


@router.post("/list")
def list_namespaces_post(who: Reader) -> dict[str, Any]:
    return _list(who)
