"""The Catalog protocol: namespaces, collections, objects, tasks, retrievers, keys, webhooks: the
bookkeeping.

Two implementations share one SQL core (:mod:`omnidex.store.sql_catalog`): SQLite, the embedded
default (:mod:`omnidex.store.sqlite_catalog`), and PostgreSQL, which several servers and Ray
drivers share (:mod:`omnidex.store.postgres_catalog`); :mod:`omnidex.store.catalogs` picks one.
Each passes the conformance suite in ``tests/store/test_catalog_conformance.py``; any other must
too. An acknowledged write (a method that returned) survives a kill -9 of the process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from omnidex.errors import AlreadyExistsError
from omnidex.types import (
    ApiKeyInfo,
    CollectionInfo,
    CollectionSpec,
    DeliveryState,
    FeatureColumn,
    KeyRole,
    ObjectRecord,
    ObjectStatus,
    RetrieverInfo,
    RetrieverSpec,
    TaskRecord,
    TaskState,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    WebhookInfo,
)

DEFAULT_NAMESPACE = "default"


class Catalog(Protocol):
    # namespaces: "default" always exists
    def create_namespace(self, name: str) -> None:
        """AlreadyExistsError if present; InvalidSpecError for a bad name."""

    def list_namespaces(self) -> list[str]: ...

    # collections
    def create_collection(
        self,
        namespace: str,
        name: str,
        spec: CollectionSpec,
        features: list[FeatureColumn],
    ) -> CollectionInfo:
        """AlreadyExistsError if the name is taken in that namespace; NotFoundError if the
        namespace does not exist; InvalidSpecError for a bad name. spec_version starts at 1."""

    def collection_by_id(self, collection_id: str) -> CollectionInfo:
        """NotFoundError if absent."""

    def get_collection(self, namespace: str, name: str) -> CollectionInfo:
        """NotFoundError if absent."""

    def list_collections(self, namespace: str) -> list[CollectionInfo]:
        """Sorted by name."""

    def update_collection(
        self, namespace: str, name: str, spec: CollectionSpec, features: list[FeatureColumn]
    ) -> CollectionInfo:
        """Replace the spec; spec_version goes up by one."""

    def drop_collection(self, namespace: str, name: str) -> None:
        """Removes its objects and tasks too; NotFoundError if absent."""

    # objects (keyed by collection id + object id)
    def put_object(self, record: ObjectRecord) -> ObjectRecord:
        """Insert, or update every field of an existing one but ``created_at``."""

    def get_object(self, collection_id: str, object_id: str) -> ObjectRecord | None: ...

    def list_objects(
        self,
        collection_id: str,
        status: ObjectStatus | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[ObjectRecord]:
        """In order of creation."""

    def count_objects(self, collection_id: str, status: ObjectStatus | None = None) -> int: ...

    def set_object_status(
        self,
        collection_id: str,
        object_id: str,
        status: ObjectStatus,
        *,
        error: str | None = None,
        document_count: int | None = None,
        spec_version: int | None = None,
    ) -> None:
        """NotFoundError if absent. ``error`` is cleared unless given."""

    def delete_object(self, collection_id: str, object_id: str) -> None:
        """NotFoundError if absent. Its tasks stay, as tombstones: ``object_deleted`` is True
        on each while no object of that id is in the collection."""

    def content_in_use(self, source: str) -> bool:
        """Whether an object that is not failed, in any collection, has ``source`` as its source,
        or a queued or running task's payload names it."""

    # tasks
    def create_task(
        self, collection_id: str, object_id: str | None, kind: str = "ingest"
    ) -> TaskRecord:
        """A new task in state ``queued`` with a fresh unique id."""

    def get_task(self, task_id: str) -> TaskRecord:
        """NotFoundError if absent."""

    def update_task(
        self,
        task_id: str,
        *,
        state: TaskState | None = None,
        stage: str | None = None,
        progress: float | None = None,
        error: str | None = None,
        attempt: bool = False,
        object_id: str | None = None,
    ) -> TaskRecord:
        """Change the given fields; ``attempt`` adds one to ``attempts``. NotFoundError if
        absent."""

    # the durable ingest queue (tasks with a payload, claimed under leases)
    def enqueue_task(
        self,
        collection_id: str,
        payload: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        max_attempts: int = 4,
    ) -> tuple[TaskRecord, bool]:
        """A new queued task and True, or the earlier task with the same idempotency key in the
        collection and False. NotFoundError if the collection does not exist."""

    def claim_task(self, worker: str, lease_s: float) -> TaskRecord | None:
        """The oldest task that is queued and due, or running with an expired lease, now running
        under ``worker``'s lease with one more attempt; None when there is none."""

    def renew_lease(self, task_id: str, worker: str, lease_s: float) -> bool:
        """Extend the lease; False when ``worker`` no longer holds the task."""

    def hold_task(self, task_id: str, owner: str, lease_s: float) -> TaskRecord:
        """Set a task made by :meth:`create_task` running under ``owner``'s lease (renewed with
        :meth:`renew_lease`), with one more attempt. NotFoundError if absent."""

    def settle_abandoned_tasks(
        self, gone: Callable[[str], bool], error: str, *, repair: bool = True
    ) -> list[TaskRecord]:
        """Fail (``abandoned``, with ``error``) the running tasks not of the queue whose lease
        ran out or whose owner is ``gone``, and set their objects that are still processing
        under no other running task back to pending with ``error``; the tasks failed. Without
        ``repair``, the tasks that would be, unchanged."""

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
        """End the lease with ``state`` (``queued`` due after ``delay_s``, or final); False when
        ``worker`` no longer holds the task."""

    def cancel_task(self, task_id: str) -> TaskRecord:
        """Cancel a queued task; TaskStateError otherwise."""

    def retry_task(self, task_id: str) -> TaskRecord:
        """Queue a failed or canceled task again with its attempts reset; TaskStateError
        otherwise."""

    def list_tasks(
        self,
        collection_id: str | None = None,
        state: TaskState | None = None,
        limit: int = 1000,
    ) -> list[TaskRecord]:
        """Newest first."""

    # retrievers (keyed by namespace + name; every change is a new version)
    def save_retriever(self, namespace: str, spec: RetrieverSpec) -> RetrieverInfo:
        """Create ``spec.name``, or add a version when ``spec`` differs from the latest one (the
        same spec again changes nothing). NotFoundError if the namespace does not exist."""

    def get_retriever(self, namespace: str, name: str, version: int | None = None) -> RetrieverInfo:
        """The latest version, or ``version``; NotFoundError if absent."""

    def list_retrievers(self, namespace: str) -> list[RetrieverInfo]:
        """Latest versions, sorted by name."""

    def delete_retriever(self, namespace: str, name: str) -> None:
        """Every version; NotFoundError if absent."""

    # API keys (each scoped to one namespace; only a hash of the key is stored, see
    # omnidex.store.api_keys for the key's form and the hash)
    def create_api_key(
        self, namespace: str, name: str, role: KeyRole, key_hash: str, key_id: str
    ) -> ApiKeyInfo:
        """Store a key by its public ``key_id`` and ``key_hash``. NotFoundError if the namespace
        does not exist; AlreadyExistsError if ``key_id`` or ``key_hash`` is taken;
        InvalidSpecError for a name that is empty, longer than 64 characters or not printable,
        and for a ``key_id`` or ``key_hash`` not of the form ``omnidex.store.api_keys`` gives."""

    def find_api_key(self, key_hash: str) -> ApiKeyInfo | None:
        """The key with that hash, or None when there is none or it was revoked: a key found is
        a key that may be used."""

    def list_api_keys(self, namespace: str | None = None) -> list[ApiKeyInfo]:
        """The keys of ``namespace`` (of every namespace when None), revoked ones included, in
        order of creation."""

    def revoke_api_key(self, key_id: str, namespace: str | None = None) -> ApiKeyInfo:
        """Revoke a key for good (revoking it again keeps the first ``revoked_at``). NotFoundError
        if there is no such key (in ``namespace``, when given)."""

    def touch_api_key(self, key_id: str) -> None:
        """Record that the key was used now. Cheap: nothing is written while the recorded use is
        under a minute old, so ``last_used_at`` is right to a minute. NotFoundError if absent."""

    # webhooks (each scoped to one namespace; the secret is stored as given, since signing a
    # delivery needs it, and is never returned but with a claimed delivery)
    def create_webhook(
        self, namespace: str, url: str, events: list[WebhookEventType], secret: str
    ) -> WebhookInfo:
        """Register ``url`` for ``events`` (kept once each, sorted). NotFoundError if the
        namespace does not exist; InvalidSpecError for no event, or an empty URL or secret. The
        URL is stored as given: whether it may be reached is the caller's check."""

    def get_webhook(self, webhook_id: str, namespace: str | None = None) -> WebhookInfo:
        """NotFoundError if there is no such webhook (in ``namespace``, when given)."""

    def list_webhooks(self, namespace: str | None = None) -> list[WebhookInfo]:
        """The webhooks of ``namespace`` (of every namespace when None), in order of creation."""

    def delete_webhook(self, webhook_id: str, namespace: str | None = None) -> None:
        """Removes its deliveries too; NotFoundError as :meth:`get_webhook`."""

    # the durable outbox of webhook deliveries (claimed under leases, like the ingest queue)
    def queue_webhook_event(self, event: WebhookEvent) -> int:
        """One pending delivery, due now, of ``event`` (its JSON body fixed now) per webhook of
        ``event.namespace`` that listens to ``event.type``; returns how many."""

    def claim_webhook_delivery(self, worker: str, lease_s: float) -> WebhookDelivery | None:
        """The oldest pending delivery that is due, now leased to ``worker`` for ``lease_s`` (it
        is due again when the lease ends) with one more attempt, carrying the webhook's URL and
        secret and the body; None when there is none."""

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
        """End the lease with ``state`` (``pending`` due after ``delay_s``, or final), recording
        the answer's ``status`` and ``error`` (both cleared when not given); False when
        ``worker`` no longer holds the delivery."""

    def list_webhook_deliveries(
        self, webhook_id: str, state: DeliveryState | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        """Newest first."""

    def prune_webhook_deliveries(self, before: datetime) -> int:
        """Remove deliveries that ended (delivered or failed) before ``before``; how many went.
        Pending ones stay."""

    def close(self) -> None: ...


@runtime_checkable
class SharedRateLimits(Protocol):
    """A catalog that keeps rate-limit buckets for every process that opens it (PostgreSQL), so
    that replicas behind one load balancer share one limit per key."""

    def take_rate_token(self, key: str, per_minute: float, burst: int) -> float | None:
        """Take one token from ``key``'s bucket: None when allowed, else the seconds until one
        is back."""


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create ``namespace`` unless it exists; safe when another process creates it at once."""
    if namespace in catalog.list_namespaces():
        return
    with contextlib.suppress(AlreadyExistsError):
        catalog.create_namespace(namespace)


def all_objects(catalog: Catalog, collection_id: str, page: int = 5000) -> list[ObjectRecord]:
    """Every object of a collection, in order of creation, read ``page`` at a time."""
    records: list[ObjectRecord] = []
    while found := catalog.list_objects(collection_id, limit=page, offset=len(records)):
        records.extend(found)
    return records
