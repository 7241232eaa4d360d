"""``/v1/tasks``: an ingest's state, stage and progress while it runs; cancel and retry."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from omnidex.errors import NotFoundError, StorageFullError
from omnidex.pipeline.leases import settle_abandoned
from omnidex.server.auth import Principal, State, principal, writer
from omnidex.types import TaskRecord, TaskState

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])
Who = Annotated[Principal, Depends(principal)]
Writer = Annotated[Principal, Depends(writer)]


def _owned(state: State, who: Principal, task_id: str) -> TaskRecord:
    """The task if its collection is in the caller's namespace; NotFoundError otherwise, so
    that ids of other namespaces cannot be probed. Tasks of killed runs are found abandoned
    first (:mod:`omnidex.pipeline.leases`)."""
    _settle_abandoned(state)
    task = state.catalog.get_task(task_id)
    ids = {c.id for c in state.catalog.list_collections(who.namespace)}
    if task.collection_id not in ids:
        raise NotFoundError(f"task {task_id!r} does not exist", task=task_id)
    return task


def _settle_abandoned(state: State) -> None:
    """Fail the tasks of killed runs before they are shown; on a full disk they are shown as
    they are, since a read must not fail for a write it did on the side."""
    with contextlib.suppress(StorageFullError):
        settle_abandoned(state.catalog)


@router.get("/{task_id}")
def get_task(task_id: str, state: State, who: Who) -> TaskRecord:
    return _owned(state, who, task_id)


@router.get("")
def list_tasks(
    state: State,
    who: Who,
    collection: str | None = None,
    task_state: Annotated[TaskState | None, Query(alias="state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskRecord]:
    _settle_abandoned(state)
    if collection is not None:
        ids = [state.catalog.get_collection(who.namespace, collection).id]
    else:
        ids = [c.id for c in state.catalog.list_collections(who.namespace)]
    tasks = [t for cid in ids for t in state.catalog.list_tasks(cid, task_state, limit)]
    return sorted(tasks, key=lambda t: t.created_at or 0, reverse=True)[:limit]


@router.post("/{task_id}/cancel")
def cancel_task(task_id: str, state: State, who: Writer) -> TaskRecord:
    _owned(state, who, task_id)
    return state.catalog.cancel_task(task_id)


@router.post("/{task_id}/retry")
def retry_task(task_id: str, state: State, who: Writer) -> TaskRecord:
    _owned(state, who, task_id)
    task = state.catalog.retry_task(task_id)
    state.wake_workers()
    return task
