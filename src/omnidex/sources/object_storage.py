"""Objects in cloud storage (``s3://bucket/key``, ``gs://bucket/key``), fetched to a local file.

Reading goes through fsspec (``s3fs`` for S3 and S3-compatible stores, ``gcsfs`` for Google Cloud
Storage; ``pip install 'omnidex[cloud]'``), and credentials come from the environment the way the
providers' own tools find them: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE``
and, for another S3-compatible endpoint (MinIO, R2…), ``AWS_ENDPOINT_URL``;
``GOOGLE_APPLICATION_CREDENTIALS`` or the metadata server for GCS. The object's size is checked
before anything is copied and the bytes are counted while copying, against ``max_bytes``; the file
gets a generated name in ``dest_dir``.
"""

from __future__ import annotations

import secrets
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from omnidex.errors import (
    LimitExceededError,
    MissingDependencyError,
    SourceError,
    SourceNotFoundError,
    UnsupportedMediaError,
)
from omnidex.sources.http import Fetched
from omnidex.sources.local import copy_capped

SCHEMES = {"s3": "s3fs", "gs": "gcsfs"}
"""Object-store URL schemes and the fsspec package that reads each."""


def is_object_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in SCHEMES


def fetch_object(url: str, dest_dir: Path, max_bytes: int) -> Fetched:
    """Copy the object at ``url`` into a new file in ``dest_dir``; typed errors for a missing
    object, a missing package, denied access or an object over ``max_bytes``."""
    parts = urlsplit(url)
    scheme, bucket, key = parts.scheme.lower(), parts.netloc, parts.path.lstrip("/")
    if scheme not in SCHEMES or not bucket or not key:
        raise UnsupportedMediaError(
            f"{url}: expected s3://bucket/key or gs://bucket/key", source=url
        )
    filesystem = _filesystem(scheme, url)
    location = f"{bucket}/{key}"
    size = _size(filesystem, location, url)
    if size > max_bytes:
        raise LimitExceededError(
            f"{url}: {size} bytes, over the limit of {max_bytes}",
            source=url,
            limit="max_bytes",
        )
    target = dest_dir / f"fetched-{secrets.token_hex(16)}"
    copied = _copy(filesystem, location, target, max_bytes, url)
    return Fetched(target, url, copied, None, PurePosixPath(key).name or None)


def _filesystem(scheme: str, url: str) -> Any:
    try:
        import fsspec

        return fsspec.filesystem(scheme, skip_instance_cache=True)
    except ImportError:
        raise MissingDependencyError(
            f"{url}: reading {scheme}:// needs {SCHEMES[scheme]}: pip install 'omnidex[cloud]'",
            dependency=SCHEMES[scheme],
        ) from None


def _size(filesystem: Any, location: str, url: str) -> int:
    try:
        info = filesystem.info(location)
    except FileNotFoundError:
        raise SourceNotFoundError(f"{url}: no such object", source=url) from None
    except PermissionError as exc:
        raise SourceError(f"{url}: access denied ({exc})", source=url, reason="denied") from None
    except OSError as exc:
        raise SourceError(f"{url}: {exc}", source=url, reason="connect") from None
    if info.get("type") == "directory":
        raise UnsupportedMediaError(f"{url}: a folder, not an object", source=url)
    return int(info.get("size") or 0)


def _copy(filesystem: Any, location: str, target: Path, max_bytes: int, url: str) -> int:
    def too_big() -> LimitExceededError:  # the object grew since its size was read
        return LimitExceededError(
            f"{url}: over the limit of {max_bytes} bytes", source=url, limit="max_bytes"
        )

    try:
        with filesystem.open(location, "rb") as source:
            return copy_capped(source, target, max_bytes, too_big)
    except OSError as exc:
        raise SourceError(f"{url}: {exc}", source=url, reason="disconnected") from None
