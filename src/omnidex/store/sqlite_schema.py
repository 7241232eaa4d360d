"""The SQLite catalog's tables, and how an older file is brought to the current schema.

``PRAGMA user_version`` records the schema version. Every table is ``CREATE … IF NOT EXISTS``, so
an older catalog gains the tables added since: retrievers in version 2, API keys in 3, webhooks
and their deliveries in 5; version 4 adds the queue's columns to ``tasks``
(:func:`add_queue_columns`).
"""

from __future__ import annotations

from omnidex.store.sql_rows import Connection

SCHEMA_VERSION = 5

TABLES = """
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    spec_version INTEGER NOT NULL,
    features TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (namespace, name)
);
CREATE TABLE IF NOT EXISTS objects (
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    document_count INTEGER NOT NULL,
    spec_version INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection_id, id)
);
CREATE INDEX IF NOT EXISTS objects_by_status ON objects (collection_id, status, seq);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (collection_id, seq);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    object_id TEXT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    progress REAL NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_collection ON tasks (collection_id, seq);
CREATE INDEX IF NOT EXISTS tasks_by_object ON tasks (collection_id, object_id);
CREATE TABLE IF NOT EXISTS retrievers (
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (namespace, name, version)
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('read', 'write')),
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_by_namespace ON api_keys (namespace);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_namespace ON webhooks (namespace);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    due_at REAL NOT NULL,
    lease_owner TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, due_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id)
"""

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


def add_queue_columns(conn: Connection) -> None:
    """Give an older ``tasks`` table the queue's columns and indexes (idempotent)."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(tasks)").fetchall()}
    for column, kind in QUEUE_COLUMNS.items():
        if column not in present:
            conn.execute(f"ALTER TABLE tasks ADD COLUMN {column} {kind}")
    for statement in QUEUE_INDEXES.split(";"):
        conn.execute(statement)


def create_tables(conn: Connection) -> None:
    """Every table and index of :data:`SCHEMA_VERSION` that is missing (idempotent)."""
    for statement in TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)
    add_queue_columns(conn)
