"""``/v1/collections``: create (over buckets, with a mapped feature extractor), get, list,
delete. A Mixpeek collection is an omnidex collection of the same name; its source and extractor
are kept beside it in the Mixpeek store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import Caller, Reader, Writer, note_ignored
from omnidex.compat.mixpeek.extractors import feature_uri, pipeline
from omnidex.compat.mixpeek.store import Row
from omnidex.compat.mixpeek.wire import Paged, Paging, listing
from omnidex.errors import AlreadyExistsError, InvalidSpecError, NotFoundError
from omnidex.types import CollectionInfo

router = APIRouter(prefix="/v1/collections", tags=["collections"])
COLLECTION_PREFIX = "col_"


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    bucket_ids: list[str] = Field(default_factory=list)


class ExtractorIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    feature_extractor_name: str
    version: str = "v1"
    params: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] | None = None


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    collection_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    description: str | None = None
    source: SourceIn
    feature_extractor: ExtractorIn
    metadata: dict[str, Any] = Field(default_factory=dict)


def collection_id(info: CollectionInfo) -> str:
    """Mixpeek's ``col_…`` id: omnidex's own collection id, which has that form."""
    return info.id if info.id.startswith(COLLECTION_PREFIX) else COLLECTION_PREFIX + info.id


def collection_out(who: Caller, row: Row) -> dict[str, Any]:
    info = who.state.catalog.get_collection(who.namespace, row["collection_name"])
    count = who.db.document_count(info.name)  # None: its documents table is lost
    fe = row["feature_extractor"]
    return {
        "collection_id": collection_id(info),
        "collection_name": info.name,
        "description": row.get("description"),
        "feature_extractor": {
            "feature_extractor_name": fe["feature_extractor_name"],
            "version": fe["version"],
            "params": fe.get("params") or {},
            "feature_extractor_id": f"{fe['feature_extractor_name']}_{fe['version']}",
        },
        "source": {"type": "bucket", "bucket_ids": row["bucket_ids"]},
        "metadata": row.get("metadata") or {},
        "index_map": {
            feature_uri(fe["feature_extractor_name"], fe["version"]): "text_embedding@v1/vector"
        },
        "document_count": count or 0,
        "enabled": count is not None,
        "created_at": info.created_at.isoformat(),
        "updated_at": info.updated_at.isoformat(),
    }


def find_collection(who: Caller, identifier: str) -> Row:
    """The Mixpeek collection ``identifier`` (``col_<omnidex id>`` or its name) names."""
    return who.store.get("collections", who.namespace, identifier)


@router.post("")
def create_collection(body: CollectionIn, who: Writer, response: Response) -> dict[str, Any]:
    if body.source.type != "bucket":
        raise InvalidSpecError(
            f"source type {body.source.type!r} is not supported; omnidex supports: bucket",
            field="source.type",
        )
    if not body.source.bucket_ids:
        raise InvalidSpecError("source.bucket_ids names no bucket", field="source.bucket_ids")
    buckets = [who.store.get("buckets", who.namespace, b)["id"] for b in body.source.bucket_ids]
    fe = body.feature_extractor
    extractors, unused = pipeline(fe.feature_extractor_name, fe.version, fe.params)
    note_ignored(
        response,
        body,
        {"collection_name", "description", "source", "feature_extractor", "metadata"},
        also=[f"feature_extractor.params.{k}" for k in unused],
    )
    if who.store.find("collections", who.namespace, body.collection_name):
        raise AlreadyExistsError(
            f"collection {body.collection_name!r} already exists", field="collection_name"
        )
    collection = who.db.create_collection(body.collection_name, extractors)
    row = who.store.insert(
        "collections",
        who.namespace,
        {
            "id": collection_id(collection.info),
            "collection_name": body.collection_name,
            "description": body.description,
            "bucket_ids": buckets,
            "feature_extractor": fe.model_dump(
                include={"feature_extractor_name", "version", "params"}
            ),
            "metadata": body.metadata,
        },
        name=body.collection_name,
    )
    return collection_out(who, row)


def _list(who: Caller, at: Paging) -> dict[str, Any]:
    results = []
    for row in who.store.rows("collections", who.namespace):
        try:
            results.append(collection_out(who, row))
        except NotFoundError:  # dropped through omnidex's own API: forget it here too
            who.store.delete("collections", row["id"])
    chosen, pagination = listing(results, at)
    return {"results": chosen, "total_count": len(results), "pagination": pagination}


@router.get("")
def list_collections(who: Reader, at: Paged) -> dict[str, Any]:
    return _list(who, at)


@router.post("/list")
def list_collections_post(who: Reader, at: Paged) -> dict[str, Any]:
    return _list(who, at)


@router.get("/{collection_identifier}")
def get_collection(collection_identifier: str, who: Reader) -> dict[str, Any]:
    return collection_out(who, find_collection(who, collection_identifier))


@router.delete("/{collection_identifier}")
def delete_collection(collection_identifier: str, who: Writer) -> dict[str, Any]:
    row = find_collection(who, collection_identifier)
    who.db.drop_collection(row["collection_name"])
    who.store.delete("collections", row["id"])
    return {"success": True, "message": f"collection {row['collection_name']!r} deleted"}
