"""``/v1/namespaces``: the namespaces the caller may use — its key's one (every one in dev mode)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from omnidex.server.auth import Principal, State, principal

router = APIRouter(prefix="/v1/namespaces", tags=["namespaces"])


class NamespaceOut(BaseModel):
    name: str
    current: bool


@router.get("")
def list_namespaces(
    state: State, who: Annotated[Principal, Depends(principal)]
) -> list[NamespaceOut]:
    visible = state.catalog.list_namespaces() if who.key_id is None else [who.namespace]
    return [NamespaceOut(name=name, current=name == who.namespace) for name in visible]
