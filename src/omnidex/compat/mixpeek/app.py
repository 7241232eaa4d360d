"""The Mixpeek layer as its own FastAPI app, mounted by the server under ``/mixpeek``: point the
SDK's ``Configuration(host="http://host:8000/mixpeek")`` at it.

It shares the server's state (stores, keys, queue, workers) through the parent app's ``state``,
answers in Mixpeek's error shape, and has its own OpenAPI document (``/mixpeek/openapi.json``),
apart from omnidex's own.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import State

from omnidex import __version__
from omnidex.compat.mixpeek import errors
from omnidex.compat.mixpeek.routes import (
    batches,
    buckets,
    collections,
    documents,
    namespaces,
    retrievers,
    uploads,
)
from omnidex.server.routes import api_docs

PREFIX = "/mixpeek"


def create_app(state: State) -> FastAPI:
    """The layer's app over the parent's ``state`` (where the server keeps ``omnidex``)."""
    app = FastAPI(
        title="omnidex: Mixpeek-compatible API",
        version=__version__,
        description="The core of Mixpeek's v1 API over omnidex; see docs/mixpeek.md.",
        docs_url=None,  # the server's Swagger UI with no CDN, below
        redoc_url=None,
    )
    app.state = state
    errors.install(app)
    for module in (namespaces, buckets, uploads, collections, documents, batches, retrievers):
        app.include_router(module.router)
    app.include_router(api_docs.router)  # /mixpeek/docs
    return app


def mount(parent: FastAPI) -> None:
    parent.mount(PREFIX, create_app(parent.state))
