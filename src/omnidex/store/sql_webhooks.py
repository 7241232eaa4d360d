"""Webhooks in the SQL catalog: the registered webhooks and the durable outbox of deliveries.

A webhook keeps its signing secret as given, not a hash of it: the server needs the secret itself
to sign every delivery (HMAC), so unlike an API key it cannot be stored one-way. Whoever can read
the catalog (its file, or its database) can read the secrets; they are never returned by a listing.

An event is queued as one delivery per webhook of its namespace that listens to its type, in one
transaction, with the event's JSON body fixed then, so every attempt sends the same bytes and the
outbox survives a restart. A sender claims the oldest due delivery under a lease: claiming moves
its due time to the lease's end and counts an attempt, so a delivery whose sender died is claimed
again once the lease runs out (at-least-once). Only the lease's holder may release it: delivered,
failed for good, or pending again after a delay. Deleting a webhook drops its deliveries.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from omnidex.errors import InvalidSpecError, NotFoundError
from omnidex.store.sql_rows import CatalogRows, Connection, as_json, as_time, now_iso
from omnidex.types import (
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookInfo,
)

_DELIVERIES = (
    "SELECT d.*, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
)


class WebhookRows(CatalogRows):
    """The webhook half of the SQL catalog; it lends its connections and transactions."""

    # --- webhooks ---------------------------------------------------------------------------

    def create_webhook(
        self, namespace: str, url: str, events: list[WebhookEventType], secret: str
    ) -> WebhookInfo:
        """Register ``url`` for ``events`` of ``namespace``, signing with ``secret``."""
        kinds = sorted({WebhookEventType(event) for event in events})
        if not kinds:
            raise InvalidSpecError("a webhook listens to at least one event", field="events")
        for field, value in (("url", url), ("secret", secret)):
            if not isinstance(value, str) or not value:
                raise InvalidSpecError(f"a webhook needs a {field}", field=field)
        webhook_id = "wh_" + secrets.token_hex(8)
        with self._write() as conn:
            self._require_namespace(conn, namespace)
            conn.execute(
                "INSERT INTO webhooks (id, namespace, url, events, secret, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (webhook_id, namespace, url, json.dumps(kinds), secret, now_iso()),
            )
            return self._webhook(conn, webhook_id, None)

    def get_webhook(self, webhook_id: str, namespace: str | None = None) -> WebhookInfo:
        with self._read() as conn:
            return self._webhook(conn, webhook_id, namespace)

    def list_webhooks(self, namespace: str | None = None) -> list[WebhookInfo]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM webhooks WHERE (CAST(? AS TEXT) IS NULL OR namespace = ?)"
                " ORDER BY rowid",
                (namespace, namespace),
            ).fetchall()
        return [_webhook_info(row) for row in rows]

    def delete_webhook(self, webhook_id: str, namespace: str | None = None) -> None:
        with self._write() as conn:
            self._webhook(conn, webhook_id, namespace)
            conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))

    def _webhook(self, conn: Connection, webhook_id: str, namespace: str | None) -> WebhookInfo:
        row = conn.execute(
            "SELECT * FROM webhooks WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR namespace = ?)",
            (webhook_id, namespace, namespace),
        ).fetchone()
        if row is None:
            where = f" in namespace {namespace!r}" if namespace is not None else ""
            raise NotFoundError(
                f"webhook {webhook_id!r} does not exist{where}",
                namespace=namespace,
                webhook=webhook_id,
            )
        return _webhook_info(row)

    # --- the outbox -------------------------------------------------------------------------

    def queue_webhook_event(self, event: WebhookEvent) -> int:
        """One pending delivery of ``event`` per webhook of its namespace that listens to its
        type; how many were queued."""
        body, now = event.model_dump_json(), now_iso()
        with self._write() as conn:
            rows = [
                row
                for row in conn.execute(
                    "SELECT id, events FROM webhooks WHERE namespace = ? ORDER BY rowid",
                    (event.namespace,),
                ).fetchall()
                if event.type.value in as_json(row["events"])
            ]
            for row in rows:
                conn.execute(
                    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, body, state,"
                    " attempts, due_at, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                    (
                        "dlv_" + secrets.token_hex(12),
                        row["id"],
                        event.id,
                        event.type.value,
                        body,
                        time.time(),
                        now,
                        now,
                    ),
                )
        return len(rows)

    def claim_webhook_delivery(self, worker: str, lease_s: float) -> WebhookDelivery | None:
        """The oldest due pending delivery, now leased to ``worker`` for ``lease_s`` with one
        more attempt, with the webhook's URL and secret; None when none is due."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND due_at <= ?"
                " ORDER BY due_at, rowid LIMIT 1" + self.skip_locked,
                (now,),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE webhook_deliveries SET lease_owner = ?, due_at = ?,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (worker, now + lease_s, now_iso(), row["id"]),
            )
            return _delivery(conn.execute(f"{_DELIVERIES} WHERE d.id = ?", (row["id"],)).fetchone())

    def release_webhook_delivery(
        self,
        delivery_id: str,
        worker: str,
        state: DeliveryState,
        *,
        status: int | None = None,
        error: str | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        """End ``worker``'s lease with ``state`` (``pending`` again after ``delay_s``, or final),
        recording the answer's ``status`` and the ``error``; False when ``worker`` no longer
        holds the delivery."""
        with self._write() as conn:
            changed = conn.execute(
                "UPDATE webhook_deliveries SET state = ?, last_status = ?, last_error = ?,"
                " lease_owner = NULL, due_at = ?, updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                (
                    DeliveryState(state).value,
                    status,
                    error,
                    time.time() + delay_s,
                    now_iso(),
                    delivery_id,
                    worker,
                ),
            ).rowcount
        return changed == 1

    def list_webhook_deliveries(
        self, webhook_id: str, state: DeliveryState | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        value = None if state is None else DeliveryState(state).value
        with self._read() as conn:
            rows = conn.execute(
                f"{_DELIVERIES} WHERE d.webhook_id = ? AND (CAST(? AS TEXT) IS NULL OR d.state = ?)"
                " ORDER BY d.rowid DESC LIMIT ?",
                (webhook_id, value, value, limit),
            ).fetchall()
        return [_delivery(row) for row in rows]

    def prune_webhook_deliveries(self, before: datetime) -> int:
        """Drop deliveries that ended (delivered or failed) before ``before``; how many."""
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM webhook_deliveries WHERE state != 'pending' AND updated_at < ?",
                (before.astimezone(UTC).isoformat(),),
            ).rowcount


def _webhook_info(row: Any) -> WebhookInfo:
    return WebhookInfo(
        id=row["id"],
        namespace=row["namespace"],
        url=row["url"],
        events=as_json(row["events"]),
        created_at=as_time(row["created_at"]),
    )


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event_id=row["event_id"],
        event=WebhookEventType(row["event"]),
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=as_time(row["created_at"]),
        updated_at=as_time(row["updated_at"]),
        url=row["url"],
        secret=row["secret"],
        body=row["body"],
    )
