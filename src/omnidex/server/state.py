"""What the running server holds: its stores, settings, rate limiter and ingest workers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from omnidex.config import Settings
from omnidex.embedded import Collection, Database
from omnidex.server.config import ServerConfig
from omnidex.server.media_links import MediaLinks
from omnidex.server.ratelimit import Limiter, RateLimiter, SharedRateLimiter
from omnidex.store.catalog import Catalog, SharedRateLimits, ensure_namespace
from omnidex.store.catalogs import open_catalog
from omnidex.store.lance_documents import LanceDocumentStore


@dataclass
class ServerState:
    settings: Settings
    config: ServerConfig
    catalog: Catalog
    documents: LanceDocumentStore
    limiter: Limiter
    """One bucket per API key."""
    bad_key_limiter: Limiter
    """One bucket per client address, taken from only by requests whose key is missing or bad."""
    media_links: MediaLinks = field(default_factory=MediaLinks)
    """Signs the short-lived links a video player fetches source media with."""
    work_queued: threading.Event = field(default_factory=threading.Event)
    """Set when a task is queued, so that idle workers look at once."""
    webhooks_queued: threading.Event = field(default_factory=threading.Event)
    """Set when a webhook delivery is queued, so that idle senders look at once."""
    _namespaces_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings, config: ServerConfig) -> ServerState:
        settings.home.expanduser().mkdir(parents=True, exist_ok=True)
        catalog = open_catalog(settings)
        return cls(
            settings=settings,
            config=config,
            catalog=catalog,
            documents=LanceDocumentStore(settings.documents, settings.limits.max_metadata_columns),
            limiter=_limiter(catalog, config.rate_per_minute, config.rate_burst),
            bad_key_limiter=_limiter(
                catalog, config.bad_key_rate_per_minute, config.bad_key_rate_burst
            ),
        )

    @property
    def uploads(self) -> Path:
        """Where uploaded and fetched files live, under generated names: ``uploads_dir``, else
        ``<home>/uploads``. Replicas that share a catalog must share this folder too, since the
        replica that runs a task may not be the one that took its upload."""
        folder = (self.config.uploads_dir or self.settings.home / "uploads").expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def wake_workers(self) -> None:
        self.work_queued.set()

    def wake_senders(self) -> None:
        self.webhooks_queued.set()

    def database(self, namespace: str) -> Database:
        return Database(self.catalog, self.documents, self.settings, namespace)

    def collection_by_id(self, collection_id: str) -> Collection:
        info = self.catalog.collection_by_id(collection_id)
        return self.database(info.namespace).collection(info.name)

    def ensure_namespace(self, namespace: str) -> None:
        with self._namespaces_lock:
            ensure_namespace(self.catalog, namespace)

    def close(self) -> None:
        self.catalog.close()


def _limiter(catalog: Catalog, per_minute: float, burst: int) -> Limiter:
    """Buckets in the catalog's database when it can share them between replicas, else here."""
    if isinstance(catalog, SharedRateLimits):
        return SharedRateLimiter(catalog, per_minute, burst)
    return RateLimiter(per_minute, burst)
