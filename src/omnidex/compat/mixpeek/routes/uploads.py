"""``/v1/buckets/{bucket}/uploads``: Mixpeek's presigned-upload flow, served by omnidex itself.

``create`` answers with a ``presigned_url``: a signed link under this layer (no key; the
signature names the namespace and the upload and expires) that takes the file's bytes with a
``PUT``, streamed to disk within the upload limit. ``confirm`` checks the bytes like any upload
and, unless told otherwise, registers the bucket object that holds them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import Reader, Writer, note_ignored, store_of
from omnidex.compat.mixpeek.blobs import file_properties, folder
from omnidex.compat.mixpeek.store import Row, new_id
from omnidex.compat.mixpeek.wire import layer_url
from omnidex.errors import InvalidSpecError, NotFoundError, PayloadTooLargeError, TaskStateError
from omnidex.server.auth import server_state
from omnidex.server.media_links import MediaLinks, MediaTarget
from omnidex.server.uploads import check_filename, keep, stored_name

router = APIRouter(tags=["bucket uploads"])
LINKS = MediaLinks()
"""Signs upload links; its secret is drawn per process, so links die with the server."""
_LINK_KIND = "mixpeek-upload"


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)
    file_size_bytes: int | None = Field(None, ge=1)
    presigned_url_expiration: int = Field(3600, ge=60, le=86400)
    metadata: dict[str, Any] = Field(default_factory=dict)
    create_object_on_confirm: bool = True
    object_metadata: dict[str, Any] = Field(default_factory=dict)
    blob_property: str | None = None
    blob_type: str | None = None


def upload_out(row: Row, url: str | None = None) -> dict[str, Any]:
    return {
        "upload_id": row["id"],
        "bucket_id": row["bucket_id"],
        "filename": row["filename"],
        "content_type": row["content_type"],
        "file_size_bytes": row.get("size"),
        "presigned_url": url,
        "presigned_url_expiration": row["expiration_s"],
        "s3_key": row.get("path") or row["id"],
        "status": row["status"],
        "metadata": row.get("metadata") or {},
        "create_object_on_confirm": row["create_object_on_confirm"],
        "object_metadata": row.get("object_metadata") or {},
        "blob_property": row.get("blob_property"),
        "blob_type": row.get("blob_type"),
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "object_id": row.get("object_id"),
    }


@router.post("/v1/buckets/{bucket_identifier}/uploads")
def create_upload(
    bucket_identifier: str, body: UploadIn, who: Writer, request: Request, response: Response
) -> dict[str, Any]:
    note_ignored(response, body, set(UploadIn.model_fields) - {"file_size_bytes"})
    check_filename(body.filename)
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    files = file_properties(bucket)
    prop = body.blob_property or (next(iter(files)) if len(files) == 1 else None)
    if body.create_object_on_confirm and prop not in files:
        raise InvalidSpecError(
            f"name the blob_property to create the object with; bucket {bucket['bucket_name']!r} "
            f"has file properties: {', '.join(sorted(files)) or 'none'}",
            field="blob_property",
        )
    limit = who.state.config.max_upload_bytes
    if body.file_size_bytes and body.file_size_bytes > limit:
        raise PayloadTooLargeError(
            f"upload larger than the limit of {limit} bytes", limit="max_upload_bytes"
        )
    upload_id = new_id("uploads")
    # A link lives LINKS.ttl_s from the time it is issued at; issue it as of the moment that
    # makes it expire presigned_url_expiration seconds from now.
    issued_at = time.time() + body.presigned_url_expiration - LINKS.ttl_s
    token, expires = LINKS.issue(MediaTarget(who.namespace, _LINK_KIND, upload_id), now=issued_at)
    row = who.store.insert(
        "uploads",
        who.namespace,
        {
            "id": upload_id,
            "bucket_id": bucket["id"],
            "filename": body.filename,
            "content_type": body.content_type,
            "expiration_s": body.presigned_url_expiration,
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
            "status": "PENDING",
            "metadata": body.metadata,
            "create_object_on_confirm": body.create_object_on_confirm,
            "object_metadata": body.object_metadata,
            "blob_property": prop,
            "blob_type": files.get(prop or ""),
        },
        bucket_id=bucket["id"],
    )
    return upload_out(row, layer_url(request, f"/v1/uploads/{token}"))


@router.put("/v1/uploads/{token}", status_code=200)
async def put_upload(token: str, request: Request) -> Response:
    """The bytes of an upload, sent to its presigned URL (the signature is the permission)."""
    target = LINKS.verify(token)
    state = server_state(request)
    store = store_of(state)
    row = await run_in_threadpool(store.get, "uploads", target.namespace, target.document_id)
    if row["status"] != "PENDING":
        raise TaskStateError(f"upload {row['id']!r} has already been received")
    limit = state.config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"upload larger than the limit of {limit} bytes", limit="max_upload_bytes"
        )
    path = folder(state) / stored_name(row["filename"])
    size = 0
    try:
        with open(path, "xb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(
                        f"upload larger than the limit of {limit} bytes", limit="max_upload_bytes"
                    )
                await run_in_threadpool(out.write, chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    await run_in_threadpool(
        partial(store.update, "uploads", row, status="UPLOADED", path=str(path), size=size)
    )
    return Response(status_code=200, headers={"ETag": f'"{row["id"]}"'})


@router.post("/v1/buckets/{bucket_identifier}/uploads/{upload_id}/confirm")
def confirm_upload(bucket_identifier: str, upload_id: str, who: Writer) -> dict[str, Any]:
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    row = who.store.get("uploads", who.namespace, upload_id)
    if row["bucket_id"] != bucket["id"] or row["status"] == "PENDING":
        state = "not of this bucket" if row["bucket_id"] != bucket["id"] else "not uploaded yet"
        raise TaskStateError(f"upload {upload_id!r} is {state}; PUT the file to its presigned_url")
    if row["status"] == "UPLOADED":
        try:
            kept = keep(Path(row["path"]), row["filename"], who.state.settings.limits)
        except Exception:
            who.store.update("uploads", row, status="FAILED")
            raise
        row = who.store.update("uploads", row, status="COMPLETED", path=str(kept))
        if row["create_object_on_confirm"]:
            blob = {
                "property": row["blob_property"],
                "type": row["blob_type"],
                "path": row["path"],
                "filename": row["filename"],
                "size": row["size"],
                "metadata": row.get("metadata") or {},
            }
            obj = who.store.insert(
                "objects",
                who.namespace,
                {
                    "bucket_id": bucket["id"],
                    "key_prefix": None,
                    "blobs": [blob],
                    "metadata": row.get("object_metadata") or {},
                },
                bucket_id=bucket["id"],
            )
            row = who.store.update("uploads", row, object_id=obj["id"])
    return {
        "upload_id": row["id"],
        "status": row["status"],
        "file_size_bytes": row.get("size"),
        "completed_at": row["updated_at"],
        "object_id": row.get("object_id"),
        "message": "upload confirmed",
    }


@router.get("/v1/buckets/{bucket_identifier}/uploads/{upload_id}")
def get_upload(bucket_identifier: str, upload_id: str, who: Reader) -> dict[str, Any]:
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    row = who.store.get("uploads", who.namespace, upload_id)
    if row["bucket_id"] != bucket["id"]:
        raise NotFoundError(f"upload {upload_id!r} does not exist", upload=upload_id)
    return upload_out(row)
