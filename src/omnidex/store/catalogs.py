"""Which catalog a deployment uses: SQLite in the data folder (the embedded default), or the
PostgreSQL database ``OMNIDEX_CATALOG_URL`` names, which several servers and Ray drivers share.

``catalog_url`` takes ``postgresql://…`` (or ``postgres://…``; libpq's URL, so ``?sslmode=…``
and the other connection parameters work) or ``sqlite:///path/to/catalog.sqlite``; unset, the
catalog is ``<home>/catalog.sqlite``. The PostgreSQL backend needs ``pip install
'omnidex[postgres]'`` and is imported only when chosen, so ``import omnidex`` stays light.
"""

from __future__ import annotations

from pathlib import Path

from omnidex.config import Settings
from omnidex.errors import InvalidSpecError, MissingDependencyError
from omnidex.store.catalog import Catalog
from omnidex.store.sqlite_catalog import SqliteCatalog

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


def is_postgres(url: str | None) -> bool:
    return url is not None and url.lower().startswith(POSTGRES_SCHEMES)


def open_catalog(settings: Settings) -> Catalog:
    """The catalog ``settings`` name, open and migrated to the current schema."""
    url = settings.catalog_url
    if url is None:
        return SqliteCatalog(settings.home.expanduser() / "catalog.sqlite")
    if url.lower().startswith(SQLITE_SCHEME):
        return SqliteCatalog(Path(url[len(SQLITE_SCHEME) - 1 :]).expanduser())
    if is_postgres(url):
        try:
            from omnidex.store.postgres_catalog import PostgresCatalog
        except ImportError:
            raise MissingDependencyError(
                "a PostgreSQL catalog needs psycopg: pip install 'omnidex[postgres]'",
                dependency="psycopg",
            ) from None
        return PostgresCatalog(
            url, pool_size=settings.catalog_pool_size, timeout_s=settings.catalog_timeout_s
        )
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise InvalidSpecError(
        f"catalog_url must start with postgresql:// or sqlite:///, not {scheme!r}",
        field="catalog_url",
    )
