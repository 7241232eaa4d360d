"""Fixtures of the store conformance suites: one factory per implementation of each protocol.

To run the suites against another implementation, add one ``pytest.param`` to a list below. A
catalog backend takes the test's folder and the session's PostgreSQL cluster (None for a backend
that needs none) and says how to open its catalog (each call opens the same one again) and how to
read every byte it has written to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omnidex.store.catalog import Catalog
from omnidex.store.documents import DocumentStore
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.store.sqlite_catalog import SqliteCatalog


@dataclass
class Backend:
    open: Callable[[], Catalog]
    written: Callable[[], bytes]
    """Every byte the catalog has on disk (flushed first where the database buffers)."""


def files_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def sqlite_backend(root: Path, _: Any) -> Backend:
    return Backend(lambda: SqliteCatalog(root / "catalog.db"), lambda: files_under(root))


def postgres_backend(_: Path, cluster: Any) -> Backend:
    import psycopg

    from omnidex.store.postgres_catalog import PostgresCatalog

    url = cluster.create_database()

    def written() -> bytes:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            row = conn.execute(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            ).fetchone()
        assert row is not None
        return files_under(cluster.data / "base" / str(row[0]))  # its tables, checkpointed

    return Backend(lambda: PostgresCatalog(url), written)


CATALOGS = [
    pytest.param(sqlite_backend, id="sqlite"),
    pytest.param(postgres_backend, id="postgres", marks=pytest.mark.postgres),
]

DOCUMENT_STORES = [
    pytest.param(lambda root: LanceDocumentStore(root / "documents"), id="lance"),
]


@pytest.fixture(params=CATALOGS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    needs_cluster = request.param is postgres_backend
    cluster = request.getfixturevalue("postgres_cluster") if needs_cluster else None
    made: Backend = request.param(tmp_path, cluster)
    return made


@pytest.fixture
def open_catalog(backend: Backend) -> Iterator[Callable[[], Catalog]]:
    """Opens the test's catalog; calling it again reopens the same catalog."""
    opened: list[Catalog] = []

    def factory() -> Catalog:
        catalog = backend.open()
        opened.append(catalog)
        return catalog

    yield factory
    for catalog in opened:
        catalog.close()


@pytest.fixture
def catalog(open_catalog: Callable[[], Catalog]) -> Catalog:
    return open_catalog()


@pytest.fixture(params=DOCUMENT_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DocumentStore:
    document_store: DocumentStore = request.param(tmp_path)
    return document_store
