"""``/v1/health`` (the process answers; no key needed) and ``/v1/ready`` (stores open)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(prefix="/v1", tags=["health"])


class Health(BaseModel):
    status: str
    auth: bool


@router.get("/health")
def health(request: Request) -> Health:
    return Health(status="ok", auth=not request.app.state.omnidex.config.dev)


@router.get("/ready")
def ready(request: Request) -> Health:
    state = request.app.state.omnidex
    state.catalog.list_namespaces()  # raises (→ 500) when the catalog cannot be read
    return Health(status="ready", auth=not state.config.dev)
