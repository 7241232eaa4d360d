"""What only the PostgreSQL catalog does: versioned migrations (from an empty database, from each
earlier version, by replicas starting at once), claims shared by processes, rate limits shared by
replicas, typed errors for an unreachable database and for values it cannot store.

The behaviour both backends share is the conformance suite's (test_catalog_conformance.py).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnidex.errors import CatalogUnavailableError, InvalidSpecError, StoreError
from omnidex.server.ratelimit import SharedRateLimiter
from omnidex.store.catalog import DEFAULT_NAMESPACE
from omnidex.types import CollectionSpec, ExtractorSpec, ObjectRecord, TaskState

psycopg = pytest.importorskip("psycopg", reason="a PostgreSQL catalog needs omnidex[postgres]")

from omnidex.store.postgres_catalog import PostgresCatalog, redacted, to_psycopg  # noqa: E402
from omnidex.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION, migrate  # noqa: E402

pytestmark = pytest.mark.postgres
SPEC = CollectionSpec(extractors=[ExtractorSpec(name="page_text@v1")])


@pytest.fixture
def url(postgres_cluster: Any) -> str:
    made: str = postgres_cluster.create_database()
    return made


@pytest.fixture
def catalog(url: str) -> Iterator[PostgresCatalog]:
    opened = PostgresCatalog(url)
    yield opened
    opened.close()


def test_placeholders_and_passwords() -> None:
    assert to_psycopg("a = ? AND b = :name AND c LIKE '5%'") == (
        "a = %s AND b = %(name)s AND c LIKE '5%%'"
    )
    assert redacted("postgresql://me:s3cret@db:5433/x") == "postgresql://me:***@db:5433/x"
    assert redacted("postgresql://db/x") == "postgresql://db/x"


# --- migrations --------------------------------------------------------------------------------


def test_an_empty_database_is_migrated_to_the_current_version(url: str) -> None:
    catalog = PostgresCatalog(url)
    try:
        assert (catalog.migrated_from, catalog.schema_version) == (0, SCHEMA_VERSION)
        assert catalog.list_namespaces() == [DEFAULT_NAMESPACE]
    finally:
        catalog.close()
    again = PostgresCatalog(url)
    try:
        assert (again.migrated_from, again.schema_version) == (SCHEMA_VERSION, SCHEMA_VERSION)
    finally:
        again.close()


def written_by_version(url: str, version: int) -> None:
    """A database at ``version`` holding what a catalog of that version wrote: a namespace, a
    collection, an object and a queued task (tables and columns every version has)."""
    with psycopg.connect(url, autocommit=True) as conn:
        from psycopg.rows import dict_row

        conn.row_factory = dict_row  # type: ignore[assignment]
        assert migrate(conn, target=version) == 0  # type: ignore[arg-type]
        now = "2025-01-01T00:00:00+00:00"
        conn.execute("INSERT INTO namespaces VALUES ('acme', %s)", (now,))
        conn.execute(
            "INSERT INTO collections VALUES ('col_old', 'acme', 'docs', %s, 3, '[]', %s, %s)",
            (SPEC.model_dump_json(), now, now),
        )
        conn.execute(
            "INSERT INTO objects (collection_id, id, seq, sha256, source, size, kind, metadata,"
            " status, document_count, created_at, updated_at) VALUES ('col_old', 'o1',"
            " nextval('objects_seq'), %s, '/data/a.txt', 5000000000, 'text', %s, 'succeeded', 7,"
            " %s, %s)",
            ("a" * 64, json.dumps({"team": "red", "n": 3}), now, now),
        )
        conn.execute(
            "INSERT INTO tasks (id, seq, collection_id, kind, state, progress, attempts,"
            " created_at, updated_at, payload, idempotency_key, max_attempts, not_before)"
            " VALUES ('task_old', nextval('tasks_seq'), 'col_old', 'ingest', 'queued', 0, 0,"
            " %s, %s, %s, 'k1', 4, 0)",
            (now, now, json.dumps({"path": "/data/b.txt"})),
        )


@pytest.mark.parametrize("version", [m.version for m in MIGRATIONS[:-1]])
def test_a_database_of_an_earlier_version_is_migrated_keeping_its_rows(
    url: str, version: int
) -> None:
    written_by_version(url, version)
    catalog = PostgresCatalog(url)
    try:
        assert (catalog.migrated_from, catalog.schema_version) == (version, SCHEMA_VERSION)
        info = catalog.get_collection("acme", "docs")
        assert (info.id, info.spec, info.spec_version) == ("col_old", SPEC, 3)
        record = catalog.get_object("col_old", "o1")
        assert record is not None
        assert (record.size, record.metadata, record.document_count) == (
            5_000_000_000,
            {"team": "red", "n": 3},
            7,
        )
        again, new = catalog.enqueue_task("col_old", {"path": "/x"}, idempotency_key="k1")
        assert (again.id, new) == ("task_old", False)
        claimed = catalog.claim_task("w", 60)
        assert claimed is not None and claimed.payload == {"path": "/data/b.txt"}
    finally:
        catalog.close()


def test_a_database_of_a_newer_omnidex_is_refused(url: str) -> None:
    PostgresCatalog(url).close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO omnidex_schema (version, description) VALUES (%s, 'from the future')",
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(StoreError, match="newer omnidex"):
        PostgresCatalog(url)


def test_replicas_starting_at_once_migrate_once(url: str) -> None:
    """Eight catalogs open an empty database at the same instant: each migration runs once (the
    advisory lock; without it the second CREATE TABLE fails), and every catalog works."""
    start = threading.Barrier(8)
    opened: list[PostgresCatalog] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgresCatalog(url))
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(c.migrated_from for c in opened) == [0] + [SCHEMA_VERSION] * 7
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT version FROM omnidex_schema ORDER BY version").fetchall()
        assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
        for catalog in opened:
            assert catalog.list_namespaces() == [DEFAULT_NAMESPACE]
    finally:
        for catalog in opened:
            catalog.close()


# --- claims across processes -------------------------------------------------------------------

CLAIMER = """
import json, random, sys, threading, time
from omnidex.store.postgres_catalog import PostgresCatalog
from omnidex.types import TaskState

url, name, log = sys.argv[1], sys.argv[2], sys.argv[3]
catalog = PostgresCatalog(url)
lock = threading.Lock()
rng = random.Random(name)

def work(n):
    worker = f"{name}-{n}"
    idle = 0
    with open(f"{log}.{worker}", "w") as out:
        while idle < 20:
            asked = time.time()  # the lease the claim sets ends no earlier than asked + 0.5
            task = catalog.claim_task(worker, 0.5)
            if task is None:
                idle += 1
                time.sleep(0.02)
                continue
            idle = 0
            start = time.time()
            if rng.random() < 0.05:  # this worker "dies": it never renews nor releases
                out.write(json.dumps([task.id, worker, start, asked + 0.5, "abandoned"]) + "\\n")
                continue
            for _ in range(3):
                time.sleep(rng.uniform(0, 0.01))
                assert catalog.renew_lease(task.id, worker, 0.5)
            end = time.time()
            assert catalog.release_task(task.id, worker, TaskState.SUCCEEDED)
            out.write(json.dumps([task.id, worker, start, end, "done"]) + "\\n")

threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
for t in threads: t.start()
for t in threads: t.join()
catalog.close()
"""


def test_two_processes_never_hold_one_task_at_once(url: str, tmp_path: Path) -> None:
    """Two processes of three claimers each drain 150 tasks, with 0.5 s leases; some claims are
    abandoned (a dead worker), and are claimed again only after their lease ended. Every task
    succeeds once, and no task is ever held by two workers at the same time."""
    catalog = PostgresCatalog(url)
    try:
        info = catalog.create_collection(DEFAULT_NAMESPACE, "docs", SPEC, [])
        ids = [catalog.enqueue_task(info.id, {"path": f"/{i}"})[0].id for i in range(150)]
        log = tmp_path / "runs"
        children = [
            subprocess.Popen([sys.executable, "-c", CLAIMER, url, name, str(log)], env=os.environ)
            for name in ("a", "b")
        ]
        for child in children:
            assert child.wait(120) == 0
        runs: dict[str, list[tuple[float, float, str, str]]] = {}
        for path in tmp_path.glob("runs.*"):
            for line in path.read_text().splitlines():
                task_id, worker, start, end, how = json.loads(line)
                runs.setdefault(task_id, []).append((start, end, worker, how))
        assert sorted(runs) == sorted(ids)
        abandoned = 0
        for task_id, held in runs.items():
            held.sort()
            assert [how for *_, how in held][-1] == "done"
            assert sum(how == "done" for *_, how in held) == 1
            for (_, end, _, _), (start, _, _, _) in itertools.pairwise(held):
                assert start >= end, (task_id, held)  # never two holders at once
            abandoned += len(held) - 1
            task = catalog.get_task(task_id)
            assert (task.state, task.attempts) == (TaskState.SUCCEEDED, len(held))
        assert {worker[0] for hs in runs.values() for _, _, worker, _ in hs} == {"a", "b"}
        assert abandoned > 0, "no claim was abandoned: the lease expiry went untested"
    finally:
        catalog.close()


# --- rate limits -------------------------------------------------------------------------------


def test_replicas_share_one_rate_limit(url: str) -> None:
    """Two replicas' limiters on one database: a burst of 5 is 5 in all, not 5 each; the sixth
    waits about the refill time, and a fresh key is unaffected."""
    first, second = PostgresCatalog(url), PostgresCatalog(url)
    try:
        limiters = [SharedRateLimiter(c, per_minute=6, burst=5) for c in (first, second)]
        answers = [limiters[i % 2].check("key_a") for i in range(6)]
        assert answers[:5] == [None] * 5
        assert answers[5] is not None and 9 < answers[5] <= 10  # one token per 10 s
        assert limiters[1].check("key_b") is None
    finally:
        first.close()
        second.close()


# --- failures ------------------------------------------------------------------------------------


def test_values_postgres_cannot_store_are_refused_clearly(catalog: PostgresCatalog) -> None:
    info = catalog.create_collection(DEFAULT_NAMESPACE, "docs", SPEC, [])
    record = ObjectRecord(
        id="o1",
        collection_id=info.id,
        sha256="0" * 64,
        source="/a",
        size=1,
        kind="text",
        metadata={"note": "nul \x00 inside"},
    )
    with pytest.raises(InvalidSpecError, match="cannot store"):
        catalog.put_object(record)
    with pytest.raises(InvalidSpecError, match="cannot store"):
        catalog.put_object(record.model_copy(update={"metadata": {"score": float("nan")}}))
    assert catalog.get_object(info.id, "o1") is None
    task = catalog.create_task(info.id, None)
    with pytest.raises(InvalidSpecError, match="cannot store"):
        catalog.update_task(task.id, stage="a\x00b")
    assert catalog.get_task(task.id).stage is None  # nothing half-written


def test_an_unreachable_database_is_a_typed_error_and_the_catalog_recovers(
    own_postgres_cluster: Any,
) -> None:
    """Stop the database under an open catalog: calls fail fast with CatalogUnavailableError
    (HTTP 503, retry after); start it again: the same catalog works, with no reopen."""
    cluster = own_postgres_cluster
    catalog = PostgresCatalog(cluster.create_database(), timeout_s=1.0)
    try:
        info = catalog.create_collection(DEFAULT_NAMESPACE, "docs", SPEC, [])
        cluster.stop()
        began = time.monotonic()
        with pytest.raises(CatalogUnavailableError) as caught:
            catalog.enqueue_task(info.id, {"path": "/a"})
        assert time.monotonic() - began < 10
        assert caught.value.http_status == 503 and caught.value.context["retry_after_s"] > 0
        with pytest.raises(CatalogUnavailableError):
            catalog.list_namespaces()
        cluster.start()
        deadline = time.monotonic() + 30  # the pool reconnects with a backoff of its own
        while True:
            try:
                task, new = catalog.enqueue_task(info.id, {"path": "/a"})
                break
            except CatalogUnavailableError:
                assert time.monotonic() < deadline, "the catalog did not recover"
                time.sleep(0.2)
        assert new and catalog.claim_task("w", 60) == catalog.get_task(task.id)
    finally:
        catalog.close()


def test_a_database_that_is_not_there_is_a_clear_error() -> None:
    from ..postgres_cluster import free_port

    url = f"postgresql://nobody:pw@127.0.0.1:{free_port()}/none"
    with pytest.raises(CatalogUnavailableError, match=r"nobody:\*\*\*@127\.0\.0\.1"):
        PostgresCatalog(url, timeout_s=1.0)
