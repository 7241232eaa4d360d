"""The durable ingest queue in the SQLite catalog: queued tasks, claimed under leases.

A queued task carries its ``payload`` (where the file is, its metadata) and may carry an
idempotency key, unique per collection: queuing the same key again returns the first task. A
worker claims the oldest task that is queued and due, or running with an expired lease (its
worker died), in one immediate transaction, so two workers never hold the same task; the claim
counts an attempt and sets the lease, which the worker renews while it works. Only the lease's
holder may renew or release it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from typing import Any

from omnidex.errors import TaskStateError
from omnidex.store.sqlite_rows import CatalogRows, now_iso
from omnidex.types import TaskRecord, TaskState

QUEUE_COLUMNS = {
    "payload": "TEXT",
    "idempotency_key": "TEXT",
    "max_attempts": "INTEGER NOT NULL DEFAULT 1",
    "lease_owner": "TEXT",
    "lease_until": "REAL",
    "not_before": "REAL",
    "error_code": "TEXT",
}
"""Columns the queue adds to ``tasks`` (schema version 4)."""
QUEUE_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_idempotency_key
    ON tasks (collection_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, seq)
"""


def add_queue_columns(conn: sqlite3.Connection) -> None:
    """Give an older ``tasks`` table the queue's columns and indexes (idempotent)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    for column, kind in QUEUE_COLUMNS.items():
        if column not in present:
            conn.execute(f"ALTER TABLE tasks ADD COLUMN {column} {kind}")
    for statement in QUEUE_INDEXES.split(";"):
        conn.execute(statement)


class QueueRows(CatalogRows):
    """The queue half of ``SqliteCatalog``; it lends its connection, transactions and rows."""

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
            if idempotency_key is not None and (
                earlier := _by_key(conn, collection_id, idempotency_key)
            ):
                return self._task(conn, earlier), False
            conn.execute(
                "INSERT INTO tasks (id, seq, collection_id, object_id, kind, state, stage,"
                " progress, attempts, error, created_at, updated_at, payload, idempotency_key,"
                " max_attempts,"
                " not_before) VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM tasks), ?, NULL,"
                " 'ingest', 'queued', NULL, 0, 0, NULL, ?, ?, ?, ?, ?, ?)",
                (task_id, collection_id, now, now, json.dumps(payload), idempotency_key,
                 max_attempts, time.time()),
            )  # fmt: skip
            return self._task(conn, task_id), True

    def claim_task(self, worker: str, lease_s: float) -> TaskRecord | None:
        """The oldest due task, now running under ``worker``'s lease; None when there is none."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM tasks WHERE payload IS NOT NULL AND ((state = 'queued' AND"
                " coalesce(not_before, 0) <= ?) OR (state = 'running' AND lease_until < ?))"
                " ORDER BY seq LIMIT 1",
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
            task = self._task(conn, task_id)
            if task.state is not TaskState.QUEUED:
                raise TaskStateError(
                    f"task {task_id!r} is {task.state.value}; only queued tasks can be canceled",
                    task=task_id,
                    state=task.state.value,
                )
            conn.execute(
                "UPDATE tasks SET state = 'canceled', updated_at = ? WHERE id = ?",
                (now_iso(), task_id),
            )
            return self._task(conn, task_id)

    def retry_task(self, task_id: str) -> TaskRecord:
        """Queue a failed or canceled task again, with a fresh count of attempts."""
        with self._write() as conn:
            task = self._task(conn, task_id)
            if task.state not in (TaskState.FAILED, TaskState.CANCELED):
                raise TaskStateError(
                    f"task {task_id!r} is {task.state.value}; only failed or canceled tasks "
                    "can be retried",
                    task=task_id,
                    state=task.state.value,
                )
            if not task.retryable:
                raise TaskStateError(f"task {task_id!r} has no stored input to retry", task=task_id)
            conn.execute(
                "UPDATE tasks SET state = 'queued', attempts = 0, error = NULL, error_code = NULL,"
                " progress = 0,"
                " stage = NULL, not_before = ?, updated_at = ? WHERE id = ?",
                (time.time(), now_iso(), task_id),
            )
            return self._task(conn, task_id)


def _by_key(conn: sqlite3.Connection, collection_id: str, key: str) -> str | None:
    row = conn.execute(
        "SELECT id FROM tasks WHERE collection_id = ? AND idempotency_key = ?",
        (collection_id, key),
    ).fetchone()
    return None if row is None else str(row["id"])
