"""``/v1/buckets`` and their objects: an upload area per bucket, objects registered by URL, by
inline data or by a confirmed upload; list, get, delete. Ingest happens in batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import Caller, Reader, Writer, note_ignored
from omnidex.compat.mixpeek.blobs import FILE_TYPES, discard_blobs, file_properties, stored_blob
from omnidex.compat.mixpeek.store import Row
from omnidex.compat.mixpeek.wire import Paged, Paging, listing
from omnidex.errors import AlreadyExistsError, InvalidSpecError, NotFoundError

router = APIRouter(prefix="/v1/buckets", tags=["buckets"])
SCHEMA_TYPES = (
    frozenset(
        {"string", "number", "integer", "float", "boolean", "object", "array", "date", "datetime"}
    )
    | FILE_TYPES
)


class SchemaField(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str


class BucketSchema(BaseModel):
    model_config = ConfigDict(extra="allow")

    properties: dict[str, SchemaField] = Field(min_length=1)


class BucketIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    bucket_name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    bucket_schema: BucketSchema
    metadata: dict[str, Any] = Field(default_factory=dict)


class BlobIn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    property: str
    type: str | None = None
    data: Any = None
    upload_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ObjectIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    key_prefix: str | None = None
    blobs: list[BlobIn] = Field(min_length=1, max_length=32)
    metadata: dict[str, Any] = Field(default_factory=dict)


def bucket_out(who: Caller, bucket: Row) -> dict[str, Any]:
    objects = who.store.rows("objects", who.namespace, bucket["id"])
    return {
        "bucket_id": bucket["id"],
        "bucket_name": bucket["bucket_name"],
        "description": bucket.get("description"),
        "bucket_schema": bucket["bucket_schema"],
        "metadata": bucket.get("metadata") or {},
        "object_count": len(objects),
        "total_size_bytes": sum(b.get("size") or 0 for o in objects for b in o["blobs"]),
        "created_at": bucket["created_at"],
        "updated_at": bucket["updated_at"],
        "status": "ACTIVE",
    }


def object_out(row: Row) -> dict[str, Any]:
    return {
        "object_id": row["id"],
        "bucket_id": row["bucket_id"],
        "key_prefix": row.get("key_prefix"),
        "blobs": [
            {
                "blob_id": f"{row['id']}_{i}",
                "property": b["property"],
                "type": b["type"],
                "properties": {
                    "filename": b.get("filename"),
                    "source_url": b.get("url"),
                    "size_bytes": b.get("size"),
                },
            }
            for i, b in enumerate(row["blobs"])
        ],
        "metadata": row.get("metadata") or {},
        "status": "COMPLETED",
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@router.post("")
def create_bucket(body: BucketIn, who: Writer, response: Response) -> dict[str, Any]:
    note_ignored(response, body, {"bucket_name", "description", "bucket_schema", "metadata"})
    for name, spec in body.bucket_schema.properties.items():
        if spec.type not in SCHEMA_TYPES:
            raise InvalidSpecError(
                f"bucket_schema property {name!r} has type {spec.type!r}; omnidex supports: "
                f"{', '.join(sorted(SCHEMA_TYPES))}",
                field=f"bucket_schema.properties.{name}.type",
            )
    if who.store.find("buckets", who.namespace, body.bucket_name):
        raise AlreadyExistsError(f"bucket {body.bucket_name!r} already exists", field="bucket_name")
    row = who.store.insert(
        "buckets",
        who.namespace,
        {
            "bucket_name": body.bucket_name,
            "description": body.description,
            "bucket_schema": body.bucket_schema.model_dump(),
            "metadata": body.metadata,
        },
        name=body.bucket_name,
    )
    return bucket_out(who, row)


def _list(who: Caller, at: Paging) -> dict[str, Any]:
    rows = who.store.rows("buckets", who.namespace)
    chosen, pagination = listing(rows, at)
    results = [bucket_out(who, b) for b in chosen]
    return {"results": results, "total_count": len(rows), "pagination": pagination}


@router.get("")
def list_buckets(who: Reader, at: Paged) -> dict[str, Any]:
    return _list(who, at)


@router.post("/list")
def list_buckets_post(who: Reader, at: Paged) -> dict[str, Any]:
    return _list(who, at)


@router.get("/{bucket_identifier}")
def get_bucket(bucket_identifier: str, who: Reader) -> dict[str, Any]:
    return bucket_out(who, who.store.get("buckets", who.namespace, bucket_identifier))


@router.delete("/{bucket_identifier}")
def delete_bucket(bucket_identifier: str, who: Writer) -> dict[str, Any]:
    """Remove the bucket, its objects and their files; documents already made stay in their
    collections (as in Mixpeek)."""
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    for row in who.store.rows("objects", who.namespace, bucket["id"]):
        discard_blobs(who.state, row["blobs"])
        who.store.delete("objects", row["id"])
    for kind in ("batches", "uploads"):
        for row in who.store.rows(kind, who.namespace, bucket["id"]):
            who.store.delete(kind, row["id"])
    who.store.delete("buckets", bucket["id"])
    return {"success": True, "message": f"bucket {bucket['id']} deleted", "bucket_id": bucket["id"]}


@router.post("/{bucket_identifier}/objects")
def create_object(
    bucket_identifier: str, body: ObjectIn, who: Writer, response: Response
) -> dict[str, Any]:
    note_ignored(response, body, {"key_prefix", "blobs", "metadata"})
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    if not file_properties(bucket):
        raise InvalidSpecError(
            f"bucket {bucket['bucket_name']!r} declares no file property in its bucket_schema "
            f"(one of: {', '.join(sorted(FILE_TYPES))})",
            field="blobs",
        )
    blobs = [
        stored_blob(who.state, who.store, who.namespace, bucket, b.model_dump()) for b in body.blobs
    ]
    row = who.store.insert(
        "objects",
        who.namespace,
        {
            "bucket_id": bucket["id"],
            "key_prefix": body.key_prefix,
            "blobs": blobs,
            "metadata": body.metadata,
        },
        bucket_id=bucket["id"],
    )
    return object_out(row)


def _objects(bucket_identifier: str, who: Caller, at: Paging) -> dict[str, Any]:
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    chosen, pagination = listing(who.store.rows("objects", who.namespace, bucket["id"]), at)
    return {"results": [object_out(o) for o in chosen], "pagination": pagination}


@router.get("/{bucket_identifier}/objects")
def list_objects(bucket_identifier: str, who: Reader, at: Paged) -> dict[str, Any]:
    return _objects(bucket_identifier, who, at)


@router.post("/{bucket_identifier}/objects/list")
def list_objects_post(bucket_identifier: str, who: Reader, at: Paged) -> dict[str, Any]:
    return _objects(bucket_identifier, who, at)


def owned_object(who: Caller, bucket_identifier: str, object_identifier: str) -> Row:
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    row = who.store.get("objects", who.namespace, object_identifier)
    if row["bucket_id"] != bucket["id"]:
        raise NotFoundError(
            f"object {object_identifier!r} does not exist", object=object_identifier
        )
    return row


@router.get("/{bucket_identifier}/objects/{object_identifier}")
def get_object(bucket_identifier: str, object_identifier: str, who: Reader) -> dict[str, Any]:
    return object_out(owned_object(who, bucket_identifier, object_identifier))


@router.delete("/{bucket_identifier}/objects/{object_identifier}", status_code=204)
def delete_object(bucket_identifier: str, object_identifier: str, who: Writer) -> Response:
    row = owned_object(who, bucket_identifier, object_identifier)
    discard_blobs(who.state, row["blobs"])
    who.store.delete("objects", row["id"])
    return Response(status_code=204)
