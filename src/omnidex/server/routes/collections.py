"""``/v1/collections``: create with a pipeline spec or a preset, list, get, change, add an
extractor over what is stored, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from omnidex.embedded import Database
from omnidex.server import content
from omnidex.server.auth import State, database, writable_database
from omnidex.server.wire import AddExtractorIn, CollectionIn, ExtractorsIn
from omnidex.store.catalog import all_objects
from omnidex.types import CollectionInfo, ReembedReport

router = APIRouter(prefix="/v1/collections", tags=["collections"])
Reader = Annotated[Database, Depends(database)]
Writer = Annotated[Database, Depends(writable_database)]


@router.post("", status_code=201)
def create_collection(body: CollectionIn, db: Writer) -> CollectionInfo:
    extractors = list(body.extractors) if body.extractors is not None else None
    collection = db.create_collection(
        body.name,
        extractors,
        body.segmentation,
        preset=body.preset,
        phi4=body.phi4,
        embedding_model=body.embedding_model,
    )
    return collection.info


@router.get("")
def list_collections(db: Reader) -> list[CollectionInfo]:
    return db.collections()


@router.get("/{name}")
def get_collection(name: str, db: Reader) -> CollectionInfo:
    return db.collection(name).info


@router.put("/{name}/extractors")
def update_extractors(name: str, body: ExtractorsIn, db: Writer) -> CollectionInfo:
    """Replace the pipeline; the spec version goes up and objects are re-extracted when they
    are ingested again."""
    return db.update_collection(name, list(body.extractors), body.segmentation).info


@router.post("/{name}/extractors")
def add_extractor(name: str, body: AddExtractorIn, db: Writer) -> ReembedReport:
    """Add an extractor that works from what is stored (``image_embedding@v1``) and run it over
    the documents already there, without extracting again; the answer comes when it is done.
    Sent again after an interruption, it resumes; searches use the old spec until it is done."""
    return db.collection(name).add_extractor(body.extractor)


@router.delete("/{name}", status_code=204)
def delete_collection(name: str, db: Writer, state: State) -> Response:
    """Drop the collection with its objects, documents and tasks, and release the content its
    objects held (:mod:`omnidex.server.content`)."""
    info = db.catalog.get_collection(db.namespace, name)
    sources = {record.source for record in all_objects(db.catalog, info.id)}
    db.drop_collection(name)
    for source in sources:
        content.release(Path(source), state.uploads, state.catalog)
    return Response(status_code=204)
