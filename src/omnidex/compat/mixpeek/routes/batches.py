"""Batches and tasks: a batch names bucket objects; submitting it queues one omnidex ingest task
per blob and target collection (the durable queue underneath), and its Mixpeek task reports
their progress until all are done. Cancel stops what is still queued.

Target collections are those whose source lists the batch's bucket (or the ``collection_ids``
asked for, among them). Each document made carries ``source_object_id``, ``bucket_id`` and
``blob_property`` in its metadata, with the object's own metadata.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from omnidex.compat.mixpeek.access import Caller, Reader, Writer, note_ignored
from omnidex.compat.mixpeek.routes.buckets import owned_object
from omnidex.compat.mixpeek.routes.collections import find_collection
from omnidex.compat.mixpeek.store import Row
from omnidex.compat.mixpeek.wire import TASK_STATUS, Paged, listing
from omnidex.errors import InvalidSpecError, NotFoundError, TaskStateError
from omnidex.metadata import check_metadata
from omnidex.types import TaskRecord, TaskState

router = APIRouter(tags=["batches"])
TASK_PREFIX = "tsk_"
_DONE = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELED})


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    object_ids: list[str] = Field(default_factory=list, max_length=10_000)
    collection_ids: list[str] | None = None
    batch_name: str | None = Field(None, max_length=200)
    auto_submit: bool = False


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    collection_ids: list[str] | None = None


class ObjectsIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    object_ids: list[str] = Field(min_length=1, max_length=10_000)


def _tasks(who: Caller, batch: Row) -> list[TaskRecord]:
    return [who.state.catalog.get_task(t) for t in batch.get("task_ids", [])]


def status_of(batch: Row, tasks: list[TaskRecord]) -> str:
    """The batch's Mixpeek status from its omnidex tasks."""
    if batch["status"] in ("DRAFT", "CANCELED") and not tasks:
        return str(batch["status"])
    states = Counter(t.state for t in tasks)
    if not tasks or any(s not in _DONE for s in states):
        return (
            "PROCESSING" if states[TaskState.RUNNING] or states[TaskState.SUCCEEDED] else "QUEUED"
        )
    if states[TaskState.SUCCEEDED] == len(tasks):
        return "COMPLETED"
    if states[TaskState.CANCELED] and not states[TaskState.FAILED]:
        return "CANCELED"
    return "COMPLETED_WITH_ERRORS" if states[TaskState.SUCCEEDED] else "FAILED"


def batch_out(who: Caller, batch: Row) -> dict[str, Any]:
    tasks = _tasks(who, batch)
    failed = [t for t in tasks if t.state is TaskState.FAILED]
    return {
        "batch_id": batch["id"],
        "bucket_id": batch["bucket_id"],
        "namespace_id": f"ns_{who.namespace}",
        "batch_name": batch.get("batch_name"),
        "status": status_of(batch, tasks),
        "object_ids": batch["object_ids"],
        "collection_ids": batch.get("collection_ids") or [],
        "task_id": batch.get("task_id"),
        "error": failed[0].error if failed else None,
        "failed_object_count": len(failed),
        "error_summary": dict(Counter(t.error_code or "error" for t in failed)),
        "created_at": batch["created_at"],
        "updated_at": batch["updated_at"],
        "max_node_death_resubmits": 0,
        "max_deploy_resubmits": 0,
        "lifecycle": None,
        "lifecycle_reason": None,
    }


def task_out(who: Caller, batch: Row) -> dict[str, Any]:
    tasks = _tasks(who, batch)
    failed = [t for t in tasks if t.state is TaskState.FAILED]
    counts = Counter(TASK_STATUS[t.state] for t in tasks)
    return {
        "task_id": batch["task_id"],
        "task_type": "api_buckets_batches_submit",
        "status": status_of(batch, tasks),
        "additional_data": {
            "batch_id": batch["id"],
            "bucket_id": batch["bucket_id"],
            "ingest_tasks": dict(counts),
            "progress": sum(1 for t in tasks if t.state in _DONE) / len(tasks) if tasks else 0.0,
        },
        "error": "; ".join(f"{t.error_code}: {t.error}" for t in failed[:3]) or None,
    }


def _batch(who: Caller, bucket_identifier: str, batch_id: str) -> Row:
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    batch = who.store.get("batches", who.namespace, batch_id)
    if batch["bucket_id"] != bucket["id"]:
        raise NotFoundError(f"batch {batch_id!r} does not exist", batch=batch_id)
    return batch


def _targets(who: Caller, bucket_id: str, wanted: list[str] | None) -> list[Row]:
    sourced = [
        c for c in who.store.rows("collections", who.namespace) if bucket_id in c["bucket_ids"]
    ]
    if wanted:
        named = {who.store.get("collections", who.namespace, w)["id"] for w in wanted}
        sourced = [c for c in sourced if c["id"] in named]
    if not sourced:
        raise InvalidSpecError(
            f"no collection takes bucket {bucket_id!r} as its source; create one with "
            f"source {{type: bucket, bucket_ids: [{bucket_id!r}]}} first",
            field="collection_ids",
        )
    return sourced


def _submit(who: Caller, batch: Row, wanted: list[str] | None) -> Row:
    if batch["status"] != "DRAFT":
        raise TaskStateError(f"batch {batch['id']!r} was already submitted", batch=batch["id"])
    if not batch["object_ids"]:
        raise InvalidSpecError(f"batch {batch['id']!r} has no objects", field="object_ids")
    targets = _targets(who, batch["bucket_id"], wanted or batch.get("collection_ids"))
    blobs = []
    for object_id in batch["object_ids"]:
        obj = who.store.get("objects", who.namespace, object_id)
        for index, blob in enumerate(obj["blobs"]):
            metadata = {
                **(obj.get("metadata") or {}),
                **(blob.get("metadata") or {}),
                "source_object_id": obj["id"],
                "bucket_id": obj["bucket_id"],
                "blob_property": blob["property"],
            }
            check_metadata(metadata, who.state.settings.limits)  # before any task is queued
            blobs.append((obj, index, blob, metadata))
    task_ids = []
    for obj, index, blob, metadata in blobs:
        source = {"url": blob["url"]} if blob.get("url") else {"path": blob["path"]}
        for collection in targets:
            info = who.state.catalog.get_collection(who.namespace, collection["collection_name"])
            task, _ = who.state.catalog.enqueue_task(
                info.id,
                {**source, "metadata": metadata, "filename": blob.get("filename")},
                idempotency_key=f"mixpeek:{batch['id']}:{obj['id']}:{index}:{info.id}",
                max_attempts=who.state.config.max_attempts,
            )
            task_ids.append(task.id)
    who.state.wake_workers()
    return who.store.update(
        "batches",
        batch,
        status="SUBMITTED",
        task_ids=task_ids,
        collection_ids=[c["id"] for c in targets],
    )


@router.post("/v1/buckets/{bucket_identifier}/batches")
def create_batch(
    bucket_identifier: str, body: BatchIn, who: Writer, response: Response
) -> dict[str, Any]:
    note_ignored(response, body, {"object_ids", "collection_ids", "batch_name", "auto_submit"})
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    for object_id in body.object_ids:
        owned_object(who, bucket["id"], object_id)
    batch = _new_batch(who, bucket["id"], body.object_ids, body.batch_name)
    if body.collection_ids:
        batch = who.store.update("batches", batch, collection_ids=body.collection_ids)
    if body.auto_submit:
        batch = _submit(who, batch, None)
    return batch_out(who, batch)


@router.post("/v1/buckets/{bucket_identifier}/batches/list")
def list_batches(bucket_identifier: str, who: Reader, at: Paged) -> dict[str, Any]:
    bucket = who.store.get("buckets", who.namespace, bucket_identifier)
    rows = who.store.rows("batches", who.namespace, bucket["id"])
    chosen, pagination = listing(rows, at)
    results = [batch_out(who, b) for b in chosen]
    return {"results": results, "total_count": len(rows), "pagination": pagination}


@router.get("/v1/buckets/{bucket_identifier}/batches/{batch_id}")
def get_batch(bucket_identifier: str, batch_id: str, who: Reader) -> dict[str, Any]:
    return batch_out(who, _batch(who, bucket_identifier, batch_id))


@router.get("/v1/batches/{batch_id}")
def get_batch_by_id(batch_id: str, who: Reader) -> dict[str, Any]:
    return batch_out(who, who.store.get("batches", who.namespace, batch_id))


@router.post("/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects")
def add_objects(
    bucket_identifier: str, batch_id: str, body: ObjectsIn, who: Writer
) -> dict[str, Any]:
    batch = _batch(who, bucket_identifier, batch_id)
    if batch["status"] != "DRAFT":
        raise TaskStateError(f"batch {batch_id!r} was already submitted", batch=batch_id)
    for object_id in body.object_ids:
        owned_object(who, batch["bucket_id"], object_id)
    merged = list(dict.fromkeys([*batch["object_ids"], *body.object_ids]))
    return batch_out(who, who.store.update("batches", batch, object_ids=merged))


@router.post("/v1/buckets/{bucket_identifier}/batches/{batch_id}/submit")
def submit_batch(
    bucket_identifier: str,
    batch_id: str,
    who: Writer,
    response: Response,
    body: SubmitIn | None = None,
) -> dict[str, Any]:
    if body is not None:
        note_ignored(response, body, {"collection_ids"})
    batch = _batch(who, bucket_identifier, batch_id)
    return task_out(who, _submit(who, batch, body.collection_ids if body else None))


def _cancel(who: Caller, batch: Row) -> Row:
    for task in _tasks(who, batch):
        if task.state is TaskState.QUEUED:
            with contextlib.suppress(TaskStateError):  # claimed meanwhile: it runs to its end
                who.state.catalog.cancel_task(task.id)
    return who.store.update("batches", batch, status="CANCELED")


@router.post("/v1/buckets/{bucket_identifier}/batches/{batch_id}/cancel")
def cancel_batch(bucket_identifier: str, batch_id: str, who: Writer) -> dict[str, Any]:
    return task_out(who, _cancel(who, _batch(who, bucket_identifier, batch_id)))


@router.delete("/v1/buckets/{bucket_identifier}/batches/{batch_id}")
def delete_batch(bucket_identifier: str, batch_id: str, who: Writer) -> dict[str, Any]:
    batch = _cancel(who, _batch(who, bucket_identifier, batch_id))
    who.store.delete("batches", batch["id"])
    return {"success": True, "message": f"batch {batch_id} deleted"}


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_buckets: list[str] | None = None
    object_ids: list[str] | None = None


def _new_batch(who: Caller, bucket_id: str, object_ids: list[str], name: str | None) -> Row:
    batch = who.store.insert(
        "batches",
        who.namespace,
        {
            "bucket_id": bucket_id,
            "batch_name": name,
            "object_ids": list(dict.fromkeys(object_ids)),
            "collection_ids": None,
            "status": "DRAFT",
        },
        bucket_id=bucket_id,
    )
    return who.store.update("batches", batch, task_id=TASK_PREFIX + batch["id"].split("_", 1)[1])


@router.post("/v1/collections/{collection_identifier}/trigger", status_code=202)
def trigger_collection(
    collection_identifier: str, who: Writer, response: Response, body: TriggerIn | None = None
) -> dict[str, Any]:
    """Process the objects of the collection's source buckets into it: one batch per bucket
    (``include_buckets`` and ``object_ids`` narrow it down), submitted at once."""
    body = body or TriggerIn()
    note_ignored(response, body, {"include_buckets", "object_ids"})
    collection = find_collection(who, collection_identifier)
    buckets = collection["bucket_ids"]
    if body.include_buckets:
        wanted = {who.store.get("buckets", who.namespace, b)["id"] for b in body.include_buckets}
        buckets = [b for b in buckets if b in wanted]
    submitted = []
    for bucket_id in buckets:
        objects = [o["id"] for o in who.store.rows("objects", who.namespace, bucket_id)]
        if body.object_ids is not None:
            objects = [o for o in objects if o in set(body.object_ids)]
        if objects:
            batch = _new_batch(who, bucket_id, objects, f"trigger {collection['collection_name']}")
            submitted.append(_submit(who, batch, [collection["id"]]))
    if not submitted:
        raise InvalidSpecError(
            f"the source buckets of collection {collection['collection_name']!r} hold no objects "
            "to process",
            field="object_ids",
        )
    return {
        "batch_id": submitted[0]["id"],
        "task_id": submitted[0]["task_id"],
        "collection_id": collection["id"],
        "source_bucket_ids": [b["bucket_id"] for b in submitted],
        "object_count": sum(len(b["object_ids"]) for b in submitted),
        "batch_ids": [b["id"] for b in submitted],
        "task_ids": [b["task_id"] for b in submitted],
        "batch_count": len(submitted),
        "total_tiers": 1,
        "message": f"{len(submitted)} batch(es) submitted",
    }


def _batch_of_task(who: Caller, task_id: str) -> Row:
    for batch in who.store.rows("batches", who.namespace):
        if batch.get("task_id") == task_id:
            return batch
    raise NotFoundError(f"task {task_id!r} does not exist", task=task_id)


@router.get("/v1/tasks/{task_id}")
def get_task(task_id: str, who: Reader) -> dict[str, Any]:
    return task_out(who, _batch_of_task(who, task_id))


@router.delete("/v1/tasks/{task_id}")
def kill_task(task_id: str, who: Writer) -> dict[str, Any]:
    _cancel(who, _batch_of_task(who, task_id))
    return {"success": True, "message": f"task {task_id} canceled"}


@router.post("/v1/tasks/list")
def list_tasks(who: Reader, at: Paged) -> dict[str, Any]:
    """The batch tasks, newest first."""
    batches = [b for b in who.store.rows("batches", who.namespace) if b.get("task_ids")]
    chosen, pagination = listing(list(reversed(batches)), at)
    return {"results": [task_out(who, b) for b in chosen], "pagination": pagination}
