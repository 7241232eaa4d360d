"""The durable ingest queue of the SQL catalog: queued tasks, claimed under leases.

A queued task carries its ``payload`` (where the file is, its metadata) and may carry an
idempotency key, unique per collection: queuing the same key again returns the first task. A
worker claims the oldest task that is queued and due, or running with an expired lease (its
worker died), in one transaction that locks the row it takes (SQLite: the whole file; PostgreSQL:
``FOR UPDATE SKIP LOCKED``, so claimers on other replicas take the next row instead of waiting),
so two workers never hold the same task; the claim counts an attempt and sets the lease, which the
worker renews while it works. Only the lease's holder may renew or release it. Leases are times
on the claimer's clock: replicas on several hosts keep their clocks in step (NTP).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from omnidex.errors import TaskStateError
from omnidex.store.sql_rows import CatalogRows, Connection, now_iso
from omnidex.types import TaskRecord, TaskState


class QueueRows(CatalogRows):
    """The queue half of the SQL catalog; it lends its connections, transactions and rows."""

    def enqueue_task(
        self,
        collection_id: str,
        payload: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        max_attempts: int = 4,
    ) -> tuple[TaskRecord, bool]:
        """A queued ingest task, and True; or the task queued before with the same idempotency
        key in this collection, and False."""
        task_id, now = "task_" + secrets.token_hex(12), now_iso()
        with self._write() as conn:
            self._require_collection_id(conn, collection_id)
            added = conn.execute(
                "INSERT INTO tasks (id, seq, collection_id, object_id, kind, state, stage,"
                " progress, attempts, error, created_at, updated_at, payload, idempotency_key,"
                " max_attempts, not_before) VALUES (?, ?, ?, NULL, 'ingest', 'queued', NULL, 0,"
                " 0, NULL, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection_id, idempotency_key)"
                " WHERE idempotency_key IS NOT NULL DO NOTHING",
                (task_id, self._next_seq(conn, "tasks", collection_id), collection_id, now, now,
                 json.dumps(payload), idempotency_key, max_attempts, time.time()),
            ).rowcount  # fmt: skip
            if added == 1:
                return self._task(conn, task_id), True
            earlier = _by_key(conn, collection_id, idempotency_key or "")
            return self._task(conn, earlier), False

    def claim_task(self, worker: str, lease_s: float) -> TaskRecord | None:
        """The oldest due task, now running under ``worker``'s lease; None when there is none."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM tasks WHERE payload IS NOT NULL AND ((state = 'queued' AND"
                " coalesce(not_before, 0) <= ?) OR (state = 'running' AND lease_until < ?))"
                " ORDER BY seq LIMIT 1" + self.skip_locked,
                (now, now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE tasks SET state = 'running', lease_owner = ?, lease_until = ?,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (worker, now + lease_s, now_iso(), row["id"]),
            )
            return self._task(conn, row["id"])

    def renew_lease(self, task_id: str, worker: str, lease_s: float) -> bool:
        """Extend ``worker``'s lease; False when it no longer holds the task."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE tasks SET lease_until = ? WHERE id = ? AND lease_owner = ?"
                " AND state = 'running'",
                (time.time() + lease_s, task_id, worker),
            ).rowcount
        return changed == 1

    def hold_task(self, task_id: str, owner: str, lease_s: float) -> TaskRecord:
        """Run a task its own process made under ``owner``'s lease, with one more attempt."""
        with self._write() as conn:
            self._task(conn, task_id)
            conn.execute(
                "UPDATE tasks SET state = 'running', lease_owner = ?, lease_until = ?,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (owner, time.time() + lease_s, now_iso(), task_id),
            )
            return self._task(conn, task_id)

    def settle_abandoned_tasks(
        self, gone: Callable[[str], bool], error: str, *, repair: bool = True
    ) -> list[TaskRecord]:
        """Fail the running tasks outside the queue whose lease ran out or whose owner is
        ``gone`` (or that have no owner: made before leases were kept), and set their objects
        that are still processing, under no other running task, back to pending. Without
        ``repair``, only find them."""
        now = time.time()
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, lease_owner, lease_until FROM tasks"
                " WHERE state = 'running' AND payload IS NULL"
            ).fetchall()
        dead = [
            row["id"]
            for row in rows
            if row["lease_owner"] is None
            or (row["lease_until"] or 0.0) < now
            or gone(row["lease_owner"])
        ]
        if not dead or not repair:
            with self._read() as conn:
                return [self._task(conn, task_id) for task_id in dead]
        settled: list[TaskRecord] = []
        with self._write() as conn:
            for task_id in dead:
                changed = conn.execute(
                    "UPDATE tasks SET state = 'failed', error = ?, error_code = 'abandoned',"
                    " lease_owner = NULL, lease_until = NULL, updated_at = ?"
                    " WHERE id = ? AND state = 'running'",
                    (error, now_iso(), task_id),
                ).rowcount
                if changed != 1:
                    continue  # it ended meanwhile
                task = self._task(conn, task_id)
                settled.append(task)
                if task.object_id is None:
                    continue
                conn.execute(
                    "UPDATE objects SET status = 'pending', error = ?, updated_at = ?"
                    " WHERE collection_id = ? AND id = ? AND status = 'processing'"
                    " AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.state = 'running'"
                    " AND tasks.collection_id = objects.collection_id"
                    " AND tasks.object_id = objects.id)",
                    (error, now_iso(), task.collection_id, task.object_id),
                )
        return settled

    def release_task(
        self,
        task_id: str,
        worker: str,
        state: TaskState,
        *,
        error: str | None = None,
        error_code: str | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        """End ``worker``'s lease with ``state`` (``queued`` again after ``delay_s``, or a final
        state), keeping the error and its code; False when it no longer holds the task."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE tasks SET state = ?, error = coalesce(?, error),"
                " error_code = coalesce(?, error_code), lease_owner = NULL, lease_until = NULL,"
                " not_before = ?, updated_at = ? WHERE id = ? AND lease_owner = ?"
                " AND state = 'running'",
                (
                    state.value,
                    error,
                    error_code,
                    time.time() + delay_s,
                    now_iso(),
                    task_id,
                    worker,
                ),
            ).rowcount
        return changed == 1

    def cancel_task(self, task_id: str) -> TaskRecord:
        """Cancel a queued task; TaskStateError (409) for a task past that."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE tasks SET state = 'canceled', updated_at = ? WHERE id = ?"
                " AND state = 'queued'",
                (now_iso(), task_id),
            ).rowcount
            task = self._task(conn, task_id)
            if changed != 1:
                raise TaskStateError(
                    f"task {task_id!r} is {task.state.value}; only queued tasks can be canceled",
                    task=task_id,
                    state=task.state.value,
                )
            return task

    def retry_task(self, task_id: str) -> TaskRecord:
        """Queue a failed or canceled task again, with a fresh count of attempts."""
        with self._write() as conn:
            task = self._task(conn, task_id)
            if task.state in (TaskState.FAILED, TaskState.CANCELED) and not task.retryable:
                raise TaskStateError(f"task {task_id!r} has no stored input to retry", task=task_id)
            changed = conn.execute(
                "UPDATE tasks SET state = 'queued', attempts = 0, error = NULL, error_code = NULL,"
                " progress = 0, stage = NULL, not_before = ?, updated_at = ? WHERE id = ?"
                " AND state IN ('failed', 'canceled')",
                (time.time(), now_iso(), task_id),
            ).rowcount
            if changed != 1:
                raise TaskStateError(
                    f"task {task_id!r} is {task.state.value}; only failed or canceled tasks "
                    "can be retried",
                    task=task_id,
                    state=task.state.value,
                )
            return self._task(conn, task_id)


def _by_key(conn: Connection, collection_id: str, key: str) -> str:
    row = conn.execute(
        "SELECT id FROM tasks WHERE collection_id = ? AND idempotency_key = ?",
        (collection_id, key),
    ).fetchone()
    return str(row["id"])
