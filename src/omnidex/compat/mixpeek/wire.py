"""Shapes shared by the Mixpeek routes: pagination, links the server can serve, status names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request

from omnidex.types import TaskState

TASK_STATUS = {
    TaskState.QUEUED: "QUEUED",
    TaskState.RUNNING: "PROCESSING",
    TaskState.SUCCEEDED: "COMPLETED",
    TaskState.FAILED: "FAILED",
    TaskState.CANCELED: "CANCELED",
}
"""omnidex task states as Mixpeek's ``TaskStatusEnum``."""


T = TypeVar("T")
MAX_PAGE = 1000


@dataclass(frozen=True)
class Paging:
    offset: int
    size: int


def paging(
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
    page_size: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
    offset: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    page: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Paging:
    """Mixpeek's list paging: ``limit`` or ``page_size`` (at most 1000, the default), and
    ``offset`` or ``page``."""
    size = limit or page_size or MAX_PAGE
    return Paging(offset if offset is not None else ((page or 1) - 1) * size, size)


Paged = Annotated[Paging, Depends(paging)]


def listing(items: list[T], at: Paging) -> tuple[list[T], dict[str, Any]]:
    """The page of ``items`` ``at`` asks for, and its ``pagination``."""
    chosen = items[at.offset : at.offset + at.size]
    return chosen, page(len(items), at.size, at.offset // at.size + 1)


def page(total: int, page_size: int | None = None, number: int = 1) -> dict[str, Any]:
    size = page_size or max(total, 1)
    return {
        "total": total,
        "page": number,
        "page_size": size,
        "total_pages": max(1, -(-total // size)),
        "next_page": None,
        "previous_page": None,
    }


def server_url(request: Request) -> str:
    """The omnidex server's own root URL (the Mixpeek layer is mounted below it)."""
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return origin + request.scope.get("app_root_path", "").rstrip("/")


def layer_url(request: Request, path: str) -> str:
    """An absolute URL under the Mixpeek layer's prefix."""
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return origin + request.scope.get("root_path", "").rstrip("/") + path
