"""``/v1/health`` (the process answers) and ``/v1/ready`` (stores open, every ingest worker
running). Neither needs a key, so that load balancers can probe them; neither says more than a
status, whether auth is on and how many workers run."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from omnidex.server.errors import error_body

router = APIRouter(prefix="/v1", tags=["health"])


class Health(BaseModel):
    status: str
    auth: bool


@router.get("/health")
def health(request: Request) -> Health:
    return Health(status="ok", auth=not request.app.state.omnidex.config.dev)


@router.get("/ready", response_model=Health)
def ready(request: Request) -> Health | JSONResponse:
    """Ready when the catalog can be read and every ingest worker runs; 503 otherwise (a server
    whose workers are gone would take uploads it never ingests)."""
    state = request.app.state.omnidex
    state.catalog.list_namespaces()  # raises (→ 500) when the catalog cannot be read
    workers = request.app.state.workers
    if (alive := workers.alive()) < workers.count:
        message = f"{workers.count - alive} of {workers.count} ingest workers are not running"
        body = error_body("workers_down", message, alive=alive, expected=workers.count)
        return JSONResponse(body, status_code=503)
    return Health(status="ready", auth=not state.config.dev)
