"""Objects of a collection: upload (multipart, streamed) or ingest by URL, list, get, change
metadata, delete.

The list comes in pages of at most 1000, with the total in ``X-Total-Count`` and the next page
in a ``Link: <…>; rel="next"`` header (RFC 8288).

Ingest answers at once with a task (``202``): workers do the work (:mod:`omnidex.server.workers`).
An ``Idempotency-Key`` header makes a repeated request return the first request's task.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from omnidex.embedded import Database
from omnidex.errors import InvalidSpecError, PayloadTooLargeError
from omnidex.metadata import check_metadata
from omnidex.server import content
from omnidex.server.auth import State, database, writable_database
from omnidex.server.object_access import check_object_access
from omnidex.server.uploads import check_filename, keep, save_stream
from omnidex.server.webhooks import emit
from omnidex.sources.object_storage import is_object_url
from omnidex.types import DeletedObjects, ObjectRecord, TaskRecord, WebhookEventType

router = APIRouter(prefix="/v1/collections/{name}/objects", tags=["objects"])
Reader = Annotated[Database, Depends(database)]
Writer = Annotated[Database, Depends(writable_database)]
IdempotencyKey = Annotated[str | None, Header(max_length=200)]
MULTIPART_OVERHEAD = 64 * 1024
MAX_METADATA_CHARS = 64 * 1024


class UrlIn(BaseModel):
    """A URL to ingest: http(s) (fetched through the SSRF guard) or s3:// and gs:// (read with
    the server's own cloud credentials)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=4096, pattern=r"^(?i:https?|s3|gs)://[^\s]+$")
    metadata: dict[str, Any] = Field(default_factory=dict)


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "metadata": {"type": "string", "description": "a JSON object"},
                    },
                }
            }
        },
    }
}


@router.post("", status_code=202, openapi_extra=UPLOAD_BODY, response_model=TaskRecord)
async def upload(
    name: str, request: Request, db: Writer, state: State, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    collection = db.collection(name)
    limit = state.config.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise PayloadTooLargeError(
            f"upload larger than the limit of {limit} bytes", limit="max_upload_bytes"
        )
    form = await _form(request, limit + MULTIPART_OVERHEAD)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise InvalidSpecError("send the media as the multipart field 'file'", field="file")
        metadata = _metadata(form.get("metadata"))
        check_metadata(metadata, state.settings.limits)
        check_filename(file.filename)
        saved = await run_in_threadpool(save_stream, file.file, state.uploads, file.filename, limit)
    finally:
        await form.close()  # the spooled parts
    checked = await run_in_threadpool(keep, saved, file.filename, state.settings.limits)
    return await run_in_threadpool(
        _queue_upload, state, collection.info.id, checked, metadata, file.filename, idempotency_key
    )


def _queue_upload(
    state: State,
    collection_id: str,
    checked: Path,
    metadata: dict[str, Any],
    filename: str | None,
    idempotency_key: str | None,
) -> JSONResponse:
    """Keep the checked upload as its content's one copy and queue its task, together: a
    release meanwhile cannot take the file (:mod:`omnidex.server.content`)."""
    with content.LOCK:
        path = content.place(checked, state.uploads)
        payload = {"path": str(path), "metadata": metadata, "filename": _display(filename)}
        return _queued(state, collection_id, payload, idempotency_key)


@router.post("/url", status_code=202, response_model=TaskRecord)
def ingest_url(
    name: str, body: UrlIn, db: Writer, state: State, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    collection = db.collection(name)
    check_metadata(body.metadata, state.settings.limits)
    if is_object_url(body.url):
        check_object_access(state.config.object_store_allow, db.namespace, body.url)
    payload = {"url": body.url, "metadata": body.metadata}
    return _queued(state, collection.info.id, payload, idempotency_key)


@router.get("")
def list_objects(
    name: str,
    request: Request,
    response: Response,
    db: Reader,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ObjectRecord]:
    """A page of the collection's objects in order of ingest. ``X-Total-Count`` says how many
    there are in all (with ``status``); while more follow, ``Link`` names the next page."""
    collection = db.collection(name)
    records = collection.objects(status, limit, offset)
    total = collection.count_objects(status)
    response.headers["X-Total-Count"] = str(total)
    if records and offset + len(records) < total:
        following = request.url.include_query_params(offset=offset + len(records), limit=limit)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return records


@router.delete("")
def delete_objects(
    name: str,
    db: Writer,
    state: State,
    where: Annotated[str | None, Query(max_length=10_000)] = None,
    dry_run: bool = False,
) -> DeletedObjects:
    """Remove the objects that have a document matching ``where`` (required: an empty filter is
    refused), their documents and stored uploads, emitting ``object.deleted`` for each; with
    ``dry_run``, only say which objects and how many documents."""
    deleted = db.collection(name).delete_objects(where, dry_run=dry_run)
    if not dry_run:
        for record in deleted.objects:
            content.release(Path(record.source), state.uploads, state.catalog)
            emit(
                state, WebhookEventType.OBJECT_DELETED, db.namespace, record.model_dump(mode="json")
            )
    return deleted


@router.get("/{object_id}")
def get_object(name: str, object_id: str, db: Reader) -> ObjectRecord:
    return db.collection(name).object(object_id)


class MetadataIn(BaseModel):
    """A change to an object's metadata: keys to set (merged into it) and keys to remove."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Any] = Field(default_factory=dict)
    remove: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=1000
    )


@router.patch("/{object_id}")
def update_metadata(name: str, object_id: str, body: MetadataIn, db: Writer) -> ObjectRecord:
    """Merge ``metadata`` into the object's metadata and remove the ``remove`` keys, without
    extracting again; its documents get the new metadata at once (the merged metadata is
    checked against the metadata limits there, like an ingest's)."""
    return db.collection(name).update_metadata(object_id, body.metadata, remove=body.remove)


@router.delete("/{object_id}", status_code=204)
def delete_object(name: str, object_id: str, db: Writer, state: State) -> Response:
    """Remove the object, its documents and thumbnails, and its stored content unless another
    object or a queued task needs it; emit ``object.deleted``. Its tasks stay, marked
    ``object_deleted``."""
    collection = db.collection(name)
    record = collection.object(object_id)
    collection.delete_object(object_id)
    content.release(Path(record.source), state.uploads, state.catalog)
    emit(state, WebhookEventType.OBJECT_DELETED, db.namespace, record.model_dump(mode="json"))
    return Response(status_code=204)


def _queued(
    state: State, collection_id: str, payload: dict[str, Any], idempotency_key: str | None
) -> JSONResponse:
    task, new = state.catalog.enqueue_task(
        collection_id,
        payload,
        idempotency_key=idempotency_key,
        max_attempts=state.config.max_attempts,
    )
    if not new and "path" in payload:  # the first request's file is the one ingested
        content.release(Path(payload["path"]), state.uploads, state.catalog)
    state.wake_workers()
    return JSONResponse(task.model_dump(mode="json"), status_code=202 if new else 200)


async def _form(request: Request, max_bytes: int) -> FormData:
    """The multipart form, parsed while the body streams in: PayloadTooLargeError as soon as
    more than ``max_bytes`` arrive, before the rest is read or spooled to disk."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InvalidSpecError("send the upload as multipart/form-data", field="file")

    async def capped() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise PayloadTooLargeError(
                    f"upload larger than the limit of {max_bytes - MULTIPART_OVERHEAD} bytes",
                    limit="max_upload_bytes",
                )
            yield chunk

    parser = MultiPartParser(
        request.headers, capped(), max_files=1, max_fields=2, max_part_size=MAX_METADATA_CHARS
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidSpecError(f"malformed multipart body: {exc.message}", field="file") from None


def _metadata(raw: object) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError as exc:
        raise InvalidSpecError(f"metadata is not valid JSON: {exc}", field="metadata") from None
    if not isinstance(value, dict):
        raise InvalidSpecError("metadata must be a JSON object", field="metadata")
    return value


def _display(filename: str | None) -> str | None:
    """The client's file name, for display only: its last part, printable, at most 255 chars."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:255] or None
