"""Documents of a collection: list with filters, get one, its thumbnail, its source media, search.

The source media is served with HTTP range requests (``Range: bytes=…``), so a browser can seek
a video to the moment a hit points at. It goes out with the content type its bytes show, never
one its name suggests (:mod:`omnidex.media.served`), with ``nosniff`` and a sandboxing CSP, and as
an attachment unless a browser plays it inline: a stored file cannot run on the server's origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel

from omnidex.embedded import Database
from omnidex.errors import NotFoundError
from omnidex.media.served import served_as
from omnidex.server.auth import State, database
from omnidex.server.media_links import MediaTarget
from omnidex.server.search_body import SEARCH_BODY, search_request
from omnidex.server.state import ServerState
from omnidex.server.wire import DocumentOut, DocumentPage
from omnidex.types import Hit, RetrievalResult

router = APIRouter(prefix="/v1/collections/{name}", tags=["documents"])
media_router = APIRouter(tags=["documents"])
"""Routes that need no key: the signed link is the permission."""
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
    ),
}
Reader = Annotated[Database, Depends(database)]


def _base(request: Request, name: str) -> str:
    return f"/v1/collections/{name}/documents"


@router.get("/documents")
def list_documents(
    name: str,
    request: Request,
    db: Reader,
    where: Annotated[str | None, Query(max_length=4000)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    vectors: bool = False,
) -> DocumentPage:
    collection = db.collection(name)
    documents = collection.documents(where=where, limit=limit, offset=offset)
    return DocumentPage(
        documents=[DocumentOut.of(d, _base(request, name), vectors) for d in documents],
        total=collection.count(where=where),
        limit=limit,
        offset=offset,
    )


@router.get("/documents/{doc_id}")
def get_document(
    name: str, doc_id: str, request: Request, db: Reader, vectors: bool = False
) -> DocumentOut:
    return DocumentOut.of(db.collection(name).get(doc_id), _base(request, name), vectors)


@router.get(
    "/documents/{doc_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def get_thumbnail(name: str, doc_id: str, db: Reader) -> Response:
    document = db.collection(name).get(doc_id)
    if not document.thumbnail:
        raise NotFoundError(f"document {doc_id!r} has no thumbnail", id=doc_id)
    return Response(
        document.thumbnail,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get(
    "/documents/{doc_id}/media",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "a range"}},
)
def get_media(name: str, doc_id: str, db: Reader) -> FileResponse:
    """The source file of the document's object, with range requests."""
    return _source_file(db, name, doc_id)


def _source_file(db: Database, name: str, doc_id: str) -> FileResponse:
    collection = db.collection(name)
    document = collection.get(doc_id)
    record = collection.object(document.object_id)
    path = Path(record.source)
    if not path.is_file() or record.kind == "unknown":  # a refused object has no documents
        raise NotFoundError(f"the source of document {doc_id!r} is no longer stored", id=doc_id)
    served = served_as(path, record.kind)
    disposition = "inline" if served.inline else "attachment"
    return FileResponse(
        path,
        media_type=served.content_type,
        headers={**MEDIA_HEADERS, "Content-Disposition": disposition},
    )


class MediaLink(BaseModel):
    url: str
    expires_at: int
    """Unix time after which the link no longer opens."""


@router.post("/documents/{doc_id}/media-link")
def media_link(name: str, doc_id: str, db: Reader, state: State) -> MediaLink:
    """A link to the document's source media that needs no key for an hour, for players that
    cannot send one (a ``<video>`` element); it opens this one file, with range requests."""
    db.collection(name).get(doc_id)
    token, expires = state.media_links.issue(MediaTarget(db.namespace, name, doc_id))
    return MediaLink(url=f"/v1/media/{token}", expires_at=int(expires))


@media_router.get(
    "/v1/media/{token}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "a range"}},
)
def get_media_by_link(token: str, state: State) -> FileResponse:
    """The source media a signed link names (no key: the link is the permission)."""
    target = state.media_links.verify(token)
    return _source_file(state.database(target.namespace), target.collection, target.document_id)


@router.post("/search", openapi_extra=SEARCH_BODY, response_model=list[Hit])
async def search(name: str, request: Request, db: Reader, state: State) -> list[Hit]:
    """Search by text (``query``), by example (``image``: base64 in JSON, or a multipart file),
    or both, fused."""
    return (await _explained(name, request, db, state)).hits


@router.post("/search/explain", openapi_extra=SEARCH_BODY, response_model=RetrievalResult)
async def explain_search(name: str, request: Request, db: Reader, state: State) -> RetrievalResult:
    """The search with each stage's timing and candidate counts."""
    return await _explained(name, request, db, state)


async def _explained(
    name: str, request: Request, db: Database, state: ServerState
) -> RetrievalResult:
    body, image = await search_request(request, state.config.max_query_image_bytes)
    collection = db.collection(name)
    return await run_in_threadpool(collection.explain, body.query, body.k, body.where, image=image)
