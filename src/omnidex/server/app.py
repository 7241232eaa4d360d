"""The FastAPI application: ``create_app(settings, config)``; ``omnidex serve`` runs it.

Routes live under ``/v1`` (OpenAPI at ``/openapi.json``, Swagger UI at ``/docs``, served
with no CDN: :mod:`omnidex.server.routes.api_docs`), a Mixpeek-compatible
API under ``/mixpeek`` (:mod:`omnidex.compat.mixpeek`); every route but the probes
(``/v1/health``, ``/v1/ready``) needs an API key unless the server runs with ``--dev``
(:mod:`omnidex.server.auth`); every error has one JSON shape (:mod:`omnidex.server.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from omnidex import __version__
from omnidex.compat.mixpeek import app as mixpeek
from omnidex.config import Settings
from omnidex.server import errors
from omnidex.server.config import ServerConfig
from omnidex.server.routes import (
    api_docs,
    ask,
    collections,
    documents,
    health,
    namespaces,
    objects,
    retrievers,
    studio,
    tasks,
    webhooks,
)
from omnidex.server.state import ServerState
from omnidex.server.webhooks import Senders
from omnidex.server.workers import Workers


def create_app(settings: Settings | None = None, config: ServerConfig | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    config = config or ServerConfig.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServerState.open(settings, config)
        app.state.omnidex = state
        workers = Workers(state, config.workers)
        app.state.workers = workers
        senders = Senders(state, config.webhook_senders)
        workers.start()
        senders.start()
        try:
            yield
        finally:
            workers.stop()
            senders.stop()
            state.close()

    app = FastAPI(
        title="omnidex",
        version=__version__,
        description="Multimodal retrieval: ingest media, search inside it.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: api_docs serves it from here
        redoc_url=None,
    )
    errors.install(app)
    routes = (health, namespaces, collections, objects, documents, retrievers, tasks, ask, webhooks)
    for module in routes:
        app.include_router(module.router, responses=errors.ERROR_RESPONSES)
    app.include_router(documents.media_router, responses=errors.ERROR_RESPONSES)
    app.include_router(studio.router, include_in_schema=False)  # the web UI, /studio
    app.include_router(api_docs.router)  # Swagger UI, /docs, with no CDN
    mixpeek.mount(app)  # the Mixpeek-compatible API, /mixpeek (docs/mixpeek.md)
    return app
