"""omnidex: an open, self-hostable multimodal retrieval engine.

``db = omnidex.connect(path)`` opens (or creates) an embedded database in one folder;
``omnidex.Client(url, api_key)`` has the same methods against an omnidex server. Importing this
package is cheap: nothing heavy (no torch, no LanceDB, not even pydantic) loads until it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from omnidex.embedded import Collection, Database
    from omnidex.remote import Client

__all__ = ["Client", "Collection", "Database", "__version__", "connect"]


def connect(
    path: str | Path | None = None,
    *,
    namespace: str = "default",
    catalog_url: str | None = None,
) -> Database:
    """Open the embedded database in folder ``path`` (default: ``$OMNIDEX_HOME`` or ~/.omnidex);
    its catalog is ``path/catalog.sqlite`` unless ``catalog_url`` (or ``$OMNIDEX_CATALOG_URL``)
    names a PostgreSQL one (``postgresql://user:password@host/db``)."""
    from omnidex.embedded import Database

    return Database.open(path, namespace=namespace, catalog_url=catalog_url)


def __getattr__(name: str) -> Any:
    if name in ("Database", "Collection"):
        from omnidex import embedded

        return getattr(embedded, name)
    if name == "Client":
        from omnidex.remote import Client

        return Client
    raise AttributeError(f"module 'omnidex' has no attribute {name!r}")
