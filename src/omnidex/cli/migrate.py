"""``omnidex migrate``: bring the catalog's schema to this omnidex's version, and say so.

The catalog is the data folder's SQLite file, or the PostgreSQL database ``OMNIDEX_CATALOG_URL``
names. Opening a catalog migrates it anyway (every server does on start, under a lock, so two
replicas starting at once are safe); this command lets a deployment migrate first, on its own,
before rolling out new servers.
"""

from __future__ import annotations

import typer

from omnidex.cli.context import console, state


def migrate(ctx: typer.Context) -> None:
    """Migrate the catalog (the data folder's, or OMNIDEX_CATALOG_URL's) to the current schema."""
    from omnidex.config import Settings
    from omnidex.errors import StoreError
    from omnidex.store.catalogs import open_catalog
    from omnidex.store.sql_catalog import SqlCatalog

    catalog = open_catalog(Settings.from_env(home=state(ctx).data))
    try:
        if not isinstance(catalog, SqlCatalog):
            raise StoreError(f"{catalog!r} has no versioned schema to migrate")
        before, now = catalog.migrated_from, catalog.schema_version
    finally:
        catalog.close()
    said = f"schema version {now}, up to date" if before == now else f"{before} → {now}"
    if before != now:
        said = "schema version " + said
    console.print(f"{catalog!r}: {said}", soft_wrap=True, markup=False, highlight=False)
