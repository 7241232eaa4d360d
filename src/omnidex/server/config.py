"""What the server is told at start: where it listens, whether auth is on, and its own limits.

Each field can be set with an ``OMNIDEX_SERVER_`` variable (``OMNIDEX_SERVER_PORT=9000``); lists
take commas (``OMNIDEX_SERVER_URL_ALLOW_HOSTS=intranet.example,10.1.0.0/16,minio.internal:9000``).
Data folder and media limits come from :class:`omnidex.config.Settings` as for the embedded
database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from omnidex.config import build_from_env
from omnidex.server.object_access import parse_grants
from omnidex.sources.addresses import AllowList, InvalidHostError

ENV_PREFIX = "OMNIDEX_SERVER_"


class ServerConfig(BaseModel):
    host: str = Field("127.0.0.1", description="address to bind; 127.0.0.1 unless told otherwise")
    port: int = Field(8000, ge=0, le=65535)
    dev: bool = Field(False, description="no API keys: every request is a writer of any namespace")
    workers: int = Field(2, ge=0, le=64, description="ingest workers in the server process")
    runner: Literal["local", "ray"] = Field(
        "local", description="where workers run ingests: in this process, or on a Ray cluster"
    )
    ray_address: str | None = Field(
        None, description="the Ray cluster to join (ray://host:10001); default RAY_ADDRESS"
    )
    ray_batch: int = Field(
        64, ge=1, le=10_000, description="most queued tasks one Ray run takes at once"
    )
    lease_s: float = Field(60, gt=0, description="a task's lease; renewed by heartbeats")
    max_attempts: int = Field(4, ge=1, le=100, description="tries of a task before it fails")
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="largest upload accepted")
    max_query_image_bytes: int = Field(
        16 * 1024**2, gt=0, description="largest image a search may send (uploaded or base64)"
    )
    uploads_dir: Path | None = Field(
        None,
        description="where uploads are kept until ingested (default <home>/uploads); replicas "
        "sharing one catalog must share it",
    )
    rate_per_minute: float = Field(600, gt=0, description="requests per key per minute")
    rate_burst: int = Field(60, ge=1, description="requests a key may make at once")
    bad_key_rate_per_minute: float = Field(
        30, gt=0, description="requests with a missing or bad key per client address per minute"
    )
    bad_key_rate_burst: int = Field(
        10, ge=1, description="requests with a missing or bad key a client address may make at once"
    )
    url_allow_hosts: list[str] = Field(
        default_factory=list,
        description="hosts or networks URL ingest and webhooks may reach despite SSRF rules; "
        "host:port (or [v6]:port) allows that port alone",
    )
    object_store_allow: list[str] = Field(
        default_factory=list,
        description="namespace=s3://bucket[/prefix] or namespace=gs://bucket[/prefix] entries: "
        "the object storage each namespace may ingest with the server's credentials; none by "
        "default",
    )
    url_fetch_timeout_s: float = Field(
        300,
        gt=0,
        le=24 * 3600,
        description="the longest one URL ingest download may take, redirects included, "
        "however slowly the remote server sends",
    )
    webhook_senders: int = Field(
        2, ge=0, le=32, description="threads delivering webhooks; 0 queues events unsent"
    )
    webhook_timeout_s: float = Field(
        10, gt=0, le=300, description="the longest one webhook delivery attempt may take"
    )
    webhook_max_attempts: int = Field(
        10, ge=1, le=100, description="tries of a webhook delivery before it fails"
    )
    webhook_backoff_s: float = Field(
        10, gt=0, le=3600, description="wait before a delivery's first retry; doubles after each"
    )

    @field_validator("url_allow_hosts", "object_store_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("url_allow_hosts")
    @classmethod
    def _valid_hosts(cls, value: list[str]) -> list[str]:
        try:
            AllowList.parse(value)
        except InvalidHostError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("object_store_allow")
    @classmethod
    def _valid_grants(cls, value: list[str]) -> list[str]:
        parse_grants(value)
        return value

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerConfig:
        """Defaults, then ``OMNIDEX_SERVER_*`` variables, then ``overrides`` (None is ignored)."""
        return build_from_env(cls, ENV_PREFIX, overrides)
