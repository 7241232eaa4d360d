"""Fixtures of the store conformance suites: one factory per implementation of each protocol.

To run the suites against another implementation, add one ``pytest.param`` to a list below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omnidex.store.catalog import Catalog
from omnidex.store.documents import DocumentStore
from omnidex.store.lance_documents import LanceDocumentStore
from omnidex.store.sqlite_catalog import SqliteCatalog

CATALOGS = [
    pytest.param(lambda root: SqliteCatalog(root / "catalog.db"), id="sqlite"),
]

DOCUMENT_STORES = [
    pytest.param(lambda root: LanceDocumentStore(root / "documents"), id="lance"),
]


@pytest.fixture(params=CATALOGS)
def open_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Catalog]]:
    """Opens the catalog in this test's folder; calling it again reopens the same catalog."""
    opened: list[Catalog] = []

    def factory() -> Catalog:
        catalog: Catalog = request.param(tmp_path)
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
