"""Webhooks: events queued in the catalog's outbox, signed and POSTed to the namespace's URLs.

Events: ``task.succeeded`` and ``task.failed`` when an ingest task reaches a final state (not
when it is retried), ``object.deleted`` when an object is deleted through the API. Each goes to
the webhooks of the event's namespace that listen to it, never to another namespace's. Ingests
run by the embedded API, without a server, send none.

A delivery is a ``POST`` of the JSON event ``{"id", "type", "created_at", "namespace", "data"}``
(``data`` is the task or the object, as the API shows it) with these headers:

- ``X-Omnidex-Event``: the event type; ``X-Omnidex-Delivery``: the delivery's id, the same on
  every retry (the event's ``id`` is the same for every webhook it goes to);
- ``X-Omnidex-Timestamp``: Unix seconds when this attempt was signed;
- ``X-Omnidex-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the webhook's
  secret, of ``<timestamp>.<body>`` (the raw body bytes).

A receiver checks the signature on the raw body before it parses it, and refuses old timestamps
(replays)::

    from omnidex.server.webhooks import verify_signature

    if not verify_signature(secret, headers["X-Omnidex-Timestamp"], raw_body,
                            headers["X-Omnidex-Signature"]):
        return 401

This module imports nothing heavy, so a receiver may import it for that alone.

An answer in 2xx means delivered; anything else — another status (redirects are not followed),
a timeout past ``webhook_timeout_s``, a network error — is retried after ``webhook_backoff_s``,
doubling each time (with jitter, capped at an hour), until ``webhook_max_attempts`` tries have
failed; then the delivery is failed. Deliveries are kept a week after they end. The outbox is in
the catalog, so queued events survive a restart; a delivery may arrive more than once (a sender
that dies mid-attempt is retried once its lease ends), and retries change the order.

A webhook URL gets the SSRF guard of :mod:`omnidex.sources.http`, when it is registered and at
each attempt: http or https, no credentials, every address the host resolves to public unless
the server's ``url_allow_hosts`` allows it, and the connection pinned to a checked address.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from omnidex import __version__
from omnidex.errors import OmnidexError, UnsafeUrlError
from omnidex.server.config import ServerConfig
from omnidex.sources.http import FetchPolicy, post
from omnidex.types import DeliveryState, TaskState, WebhookDelivery, WebhookEvent, WebhookEventType

if TYPE_CHECKING:
    from omnidex.server.state import ServerState

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
TOLERANCE_S = 300.0
"""How old a timestamp :func:`verify_signature` accepts by default."""
BACKOFF_MAX_S = 3600.0
RETENTION = timedelta(days=7)
PRUNE_EVERY_S = 3600.0
IDLE_WAIT_S = 0.5
LEASE_MARGIN_S = 30.0
MAX_ERROR_CHARS = 500
_FINAL_EVENTS = {
    TaskState.SUCCEEDED: WebhookEventType.TASK_SUCCEEDED,
    TaskState.FAILED: WebhookEventType.TASK_FAILED,
}


# --- signatures ----------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 43 URL-safe characters (256 bits)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str | int, body: bytes | str) -> str:
    """The ``X-Omnidex-Signature`` value for ``body`` sent at ``timestamp``."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    signature: str,
    *,
    tolerance_s: float | None = TOLERANCE_S,
) -> bool:
    """Whether ``signature`` (the ``X-Omnidex-Signature`` header) is ``secret``'s signature of
    the raw ``body`` at ``timestamp`` (the ``X-Omnidex-Timestamp`` header), and the timestamp is
    no further than ``tolerance_s`` from now (None: any age). Compares in constant time."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if tolerance_s is not None and abs(time.time() - sent) > tolerance_s:
        return False
    expected = sign(secret, str(timestamp), body)
    return hmac.compare_digest(expected.encode(), signature.encode())


# --- the guarded POST ----------------------------------------------------------------------------


def url_policy(config: ServerConfig) -> FetchPolicy:
    """The SSRF rules and time limit of webhook URLs under ``config``."""
    return FetchPolicy(
        timeout_s=config.webhook_timeout_s, allow_hosts=tuple(config.url_allow_hosts)
    )


# --- events --------------------------------------------------------------------------------------


def emit(state: ServerState, kind: WebhookEventType, namespace: str, data: dict[str, Any]) -> None:
    """Queue ``kind`` with ``data`` for ``namespace``'s webhooks that listen to it."""
    event = WebhookEvent(
        id="evt_" + secrets.token_hex(12),
        type=kind,
        created_at=datetime.now(UTC),
        namespace=namespace,
        data=data,
    )
    if state.catalog.queue_webhook_event(event):
        state.wake_senders()


def task_finished(state: ServerState, task_id: str) -> None:
    """Emit ``task.succeeded`` or ``task.failed`` for a task that just reached that state. A
    failure to queue the event is logged, never raised: the task's outcome stands."""
    try:
        task = state.catalog.get_task(task_id)
        kind = _FINAL_EVENTS.get(task.state)
        if kind is not None:
            namespace = state.catalog.collection_by_id(task.collection_id).namespace
            emit(state, kind, namespace, task.model_dump(mode="json"))
    except Exception:
        log.exception("task %s: its webhook event could not be queued", task_id)


# --- delivery ------------------------------------------------------------------------------------


def backoff_s(attempt: int, base_s: float) -> float:
    """Seconds before try ``attempt + 1``: ``base_s`` doubled per try, capped, with jitter."""
    return random.uniform(0.5, 1.0) * min(BACKOFF_MAX_S, base_s * 2 ** (attempt - 1))


class Senders:
    """``count`` threads that claim due deliveries from the outbox and POST them, until
    :meth:`stop`."""

    def __init__(self, state: ServerState, count: int) -> None:
        self.state = state
        self.count = count
        self.policy = url_policy(state.config)
        self._lease_s = state.config.webhook_timeout_s + LEASE_MARGIN_S
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._prune_lock = threading.Lock()
        self._next_prune = 0.0

    def start(self) -> None:
        for number in range(self.count):
            name = f"omnidex-webhooks-{number}-{uuid.uuid4().hex[:6]}"
            thread = threading.Thread(target=self._loop, args=(name,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.state.wake_senders()
        for thread in self._threads:
            thread.join(timeout_s)

    def _loop(self, sender: str) -> None:
        while not self._stop.is_set():
            try:
                delivery = self.state.catalog.claim_webhook_delivery(sender, self._lease_s)
                if delivery is None:
                    self._prune()
                    self.state.webhooks_queued.wait(IDLE_WAIT_S)
                    self.state.webhooks_queued.clear()
                else:
                    self._deliver(sender, delivery)
            except Exception:  # the catalog failed: wait, and go on
                log.exception("webhook sender %s", sender)
                self._stop.wait(IDLE_WAIT_S)

    def _deliver(self, sender: str, delivery: WebhookDelivery) -> None:
        limit = self.state.config.webhook_max_attempts
        if delivery.attempts > limit:  # its senders died mid-attempt until none was left
            self._release(sender, delivery, DeliveryState.FAILED, None, "no attempt left")
            return
        status: int | None = None
        body = delivery.body.encode()
        try:
            status = post(delivery.url, body, self._headers(delivery), self.policy)
        except UnsafeUrlError as exc:  # the host now resolves somewhere it must not go
            log.warning("webhook %s refused: %s", delivery.webhook_id, exc.message)
            self._release(sender, delivery, DeliveryState.FAILED, None, exc.message)
            return
        except OmnidexError as exc:
            error = exc.message
        else:
            if 200 <= status < 300:
                self._release(sender, delivery, DeliveryState.DELIVERED, status, None)
                return
            error = f"the receiver answered {status}"
        if delivery.attempts >= limit:
            self._release(sender, delivery, DeliveryState.FAILED, status, error)
        else:
            delay = backoff_s(delivery.attempts, self.state.config.webhook_backoff_s)
            self._release(sender, delivery, DeliveryState.PENDING, status, error, delay)

    def _headers(self, delivery: WebhookDelivery) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "User-Agent": f"omnidex-webhooks/{__version__}",
            "X-Omnidex-Event": delivery.event.value,
            "X-Omnidex-Delivery": delivery.id,
            "X-Omnidex-Timestamp": timestamp,
            "X-Omnidex-Signature": sign(delivery.secret, timestamp, delivery.body),
        }

    def _release(
        self,
        sender: str,
        delivery: WebhookDelivery,
        outcome: DeliveryState,
        status: int | None,
        error: str | None,
        delay_s: float = 0.0,
    ) -> None:
        released = self.state.catalog.release_webhook_delivery(
            delivery.id,
            sender,
            outcome,
            status=status,
            error=None if error is None else error[:MAX_ERROR_CHARS],
            delay_s=delay_s,
        )
        if not released:
            log.warning("webhook delivery %s: lease lost", delivery.id)

    def _prune(self) -> None:
        """Drop deliveries that ended over :data:`RETENTION` ago, once an hour."""
        with self._prune_lock:
            if time.monotonic() < self._next_prune:
                return
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
        self.state.catalog.prune_webhook_deliveries(datetime.now(UTC) - RETENTION)
