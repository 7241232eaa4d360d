"""``/v1/collections/{collection}/documents``: list and get, in Mixpeek's document form, and the
signed thumbnail links those documents carry.

A document has Mixpeek's fields (``document_id``, ``collection_id``, ``source_object_id``,
``start_time``/``end_time`` in seconds for a video or audio segment, ``page_number``,
``thumbnail_url``, ``source_url``) plus omnidex's own features by address (vectors left out). The
two URLs are signed links that need no key and expire (see :mod:`omnidex.server.media_links`).
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import Caller, Reader, note_ignored
from omnidex.compat.mixpeek.routes.collections import find_collection
from omnidex.compat.mixpeek.store import Row
from omnidex.compat.mixpeek.wire import layer_url, page, server_url
from omnidex.errors import NotFoundError
from omnidex.server.auth import server_state
from omnidex.server.media_links import MediaTarget
from omnidex.types import Document

router = APIRouter(tags=["documents"])


class ListIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=100_000)


def document_out(who: Caller, request: Request, collection: Row, doc: Document) -> dict[str, Any]:
    token, _ = who.state.media_links.issue(
        MediaTarget(who.namespace, collection["collection_name"], doc.id)
    )
    features = {
        address: value
        for address, value in doc.features.items()
        if not isinstance(value, np.ndarray)
        and not (isinstance(value, list) and value and isinstance(value[0], float))
    }
    return {
        "document_id": doc.id,
        "collection_id": collection["id"],
        "source_object_id": doc.metadata.get("source_object_id"),
        "root_object_id": doc.metadata.get("source_object_id"),
        "bucket_id": doc.metadata.get("bucket_id"),
        "modality": doc.kind,
        "start_time": doc.start_s,
        "end_time": doc.end_s,
        "page_number": doc.page,
        "text": doc.text(),
        "features": features,
        "metadata": doc.metadata,
        "thumbnail_url": layer_url(request, f"/v1/thumbnails/{token}") if doc.thumbnail else None,
        "source_url": f"{server_url(request)}/v1/media/{token}",
    }


def _page(
    who: Caller, request: Request, identifier: str, limit: int, offset: int
) -> dict[str, Any]:
    row = find_collection(who, identifier)
    collection = who.db.collection(row["collection_name"])
    docs = collection.documents(limit=limit, offset=offset)
    total = collection.count()
    return {
        "results": [document_out(who, request, row, d) for d in docs],
        "pagination": page(total, limit, offset // limit + 1),
        "total_documents": total,
    }


@router.get("/v1/collections/{collection_identifier}/documents")
def list_documents(
    collection_identifier: str,
    who: Reader,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    return _page(who, request, collection_identifier, limit, offset)


@router.post("/v1/collections/{collection_identifier}/documents/list")
def list_documents_post(
    collection_identifier: str,
    who: Reader,
    request: Request,
    response: Response,
    body: ListIn | None = None,
) -> dict[str, Any]:
    body = body or ListIn()
    note_ignored(response, body, {"limit", "offset"})
    return _page(who, request, collection_identifier, body.limit, body.offset)


@router.get("/v1/collections/{collection_identifier}/documents/{document_id}")
def get_document(
    collection_identifier: str, document_id: str, who: Reader, request: Request
) -> dict[str, Any]:
    row = find_collection(who, collection_identifier)
    doc = who.db.collection(row["collection_name"]).get(document_id)
    return document_out(who, request, row, doc)


@router.get("/v1/thumbnails/{token}", response_class=Response)
def thumbnail(token: str, request: Request) -> Response:
    """A document's thumbnail by signed link (no key: the link is the permission)."""
    state = server_state(request)
    target = state.media_links.verify(token)
    doc = state.database(target.namespace).collection(target.collection).get(target.document_id)
    if not doc.thumbnail:
        raise NotFoundError(f"document {target.document_id!r} has no thumbnail")
    return Response(
        doc.thumbnail, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )
