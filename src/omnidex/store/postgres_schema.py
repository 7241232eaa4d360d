"""The PostgreSQL catalog's schema as numbered migrations, and the function that applies them.

``omnidex_schema`` holds one row per migration applied. :func:`migrate` runs the missing ones in
order, all in one transaction (PostgreSQL's DDL is transactional: a failed migration leaves the
database as it was) under a transaction-level advisory lock, so replicas that start at once, or
``omnidex migrate`` run beside a starting server, apply each migration exactly once: the second
waits for the first and then finds nothing to do. A database migrated by a newer omnidex is
refused rather than misread.

Types follow the data: ``timestamptz`` for times, ``double precision`` for the queue's epoch
seconds, ``bigint`` for sizes and sequence numbers, ``jsonb`` for an object's metadata (the one
JSON a query may look into); specs, features, payloads and event bodies are JSON text that is
only ever read whole. ``rowid`` (an identity column) orders keys, webhooks and deliveries by
creation, as SQLite's own rowid does there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from omnidex.errors import StoreError

PgConnection = psycopg.Connection[dict[str, Any]]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


_CATALOG = """
CREATE TABLE namespaces (
    name TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE collections (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    spec_version INTEGER NOT NULL,
    features TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (namespace, name)
);
CREATE SEQUENCE objects_seq;
CREATE TABLE objects (
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    size BIGINT NOT NULL,
    kind TEXT NOT NULL,
    metadata JSONB NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    document_count INTEGER NOT NULL,
    spec_version INTEGER,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (collection_id, id)
);
CREATE INDEX objects_by_status ON objects (collection_id, status, seq);
CREATE INDEX objects_by_seq ON objects (collection_id, seq);
CREATE SEQUENCE tasks_seq;
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    object_id TEXT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    progress DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    payload TEXT,
    idempotency_key TEXT,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    not_before DOUBLE PRECISION,
    error_code TEXT
);
CREATE INDEX tasks_by_collection ON tasks (collection_id, seq);
CREATE INDEX tasks_by_object ON tasks (collection_id, object_id);
CREATE UNIQUE INDEX tasks_by_idempotency_key
    ON tasks (collection_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_by_state ON tasks (state, seq);
CREATE INDEX tasks_due ON tasks (seq) WHERE state IN ('queued', 'running');
CREATE TABLE retrievers (
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (namespace, name, version)
);
CREATE TABLE api_keys (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('read', 'write')),
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_by_namespace ON api_keys (namespace);
CREATE TABLE webhooks (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_by_namespace ON webhooks (namespace);
CREATE TABLE webhook_deliveries (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    due_at DOUBLE PRECISION NOT NULL,
    lease_owner TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, due_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id);
INSERT INTO namespaces (name, created_at) VALUES ('default', now());
"""

_RATE_LIMITS = """
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    allowed BOOLEAN NOT NULL
);
"""

MIGRATIONS = (
    Migration(1, "namespaces, collections, objects, tasks and the queue, retrievers, keys, "
              "webhooks", _CATALOG),
    Migration(2, "rate limit buckets shared by every replica", _RATE_LIMITS),
)  # fmt: skip
SCHEMA_VERSION = MIGRATIONS[-1].version
MIGRATION_LOCK = 0x6F6D6E69646578
"""The advisory lock key migrations hold ('omnidex' in hex)."""


def migrate(conn: PgConnection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations past the database's version, up to ``target``, on ``conn`` (a
    psycopg connection in autocommit mode); the version it had (0 for an empty database)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS omnidex_schema (version INTEGER PRIMARY KEY,"
            " description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = _version(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(
                "the catalog database was migrated by a newer omnidex",
                schema_version=current,
                supported=SCHEMA_VERSION,
            )
        for migration in MIGRATIONS:
            if current < migration.version <= target:
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO omnidex_schema (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
    return current


def schema_version(conn: PgConnection) -> int:
    """The version of the database's schema; 0 when omnidex never migrated it."""
    row = conn.execute("SELECT to_regclass('omnidex_schema') IS NOT NULL AS present").fetchone()
    return _version(conn) if row and row["present"] else 0


def _version(conn: PgConnection) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM omnidex_schema").fetchone()
    return int(row["v"]) if row else 0
