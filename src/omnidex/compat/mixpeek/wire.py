"""Shapes shared by the Mixpeek routes: pagination, links the server can serve, status names."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from omnidex.types import TaskState

TASK_STATUS = {
    TaskState.QUEUED: "QUEUED",
    TaskState.RUNNING: "PROCESSING",
    TaskState.SUCCEEDED: "COMPLETED",
    TaskState.FAILED: "FAILED",
    TaskState.CANCELED: "CANCELED",
}
"""omnidex task states as Mixpeek's ``TaskStatusEnum``."""


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
