"""Which object-storage URLs (``s3://``, ``gs://``) each namespace may ingest over the server.

The server reads object storage with its own credentials, and they reach whatever the operator's
account reaches — other tenants' buckets and the operator's own included. So over the server an
object URL is read only when the operator's allow-list (``object_store_allow``) grants the
caller's namespace a prefix that holds it; by default nothing is granted and every ``s3://`` or
``gs://`` ingest is refused (403) before anything is fetched. An entry is
``namespace=scheme://bucket[/prefix]``: ``acme=s3://media/acme/`` lets namespace ``acme`` read the
keys of bucket ``media`` that start with ``acme/``; ``acme=gs://acme-media`` the whole bucket. A
key with ``.`` or ``..`` segments is refused whatever the list says, so no path games reach
outside a prefix. The embedded API reads with its user's own credentials and is not limited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from omnidex.errors import PermissionDeniedError
from omnidex.sources.object_storage import SCHEMES

SETTING = "OMNIDEX_SERVER_OBJECT_STORE_ALLOW"


@dataclass(frozen=True)
class ObjectGrant:
    """One namespace's right to read the keys of a bucket that start with ``prefix``."""

    namespace: str
    scheme: str
    bucket: str
    prefix: str

    def covers(self, namespace: str, scheme: str, bucket: str, key: str) -> bool:
        return (namespace, scheme, bucket) == (
            self.namespace,
            self.scheme,
            self.bucket,
        ) and key.startswith(self.prefix)


def parse_grants(entries: Iterable[str]) -> tuple[ObjectGrant, ...]:
    """The grants ``entries`` describe; ValueError naming a malformed entry."""
    grants = []
    for entry in entries:
        namespace, sep, url = entry.strip().partition("=")
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if not sep or not namespace.strip() or scheme not in SCHEMES or not parts.netloc:
            raise ValueError(
                f"object-store allow-list entry {entry!r} is not namespace=s3://bucket[/prefix] "
                "or namespace=gs://bucket[/prefix]"
            )
        grants.append(ObjectGrant(namespace.strip(), scheme, parts.netloc, parts.path.lstrip("/")))
    return tuple(grants)


def check_object_access(entries: Iterable[str], namespace: str, url: str) -> None:
    """PermissionDeniedError unless the allow-list ``entries`` let ``namespace`` read ``url``."""
    parts = urlsplit(url)
    scheme, bucket, key = parts.scheme.lower(), parts.netloc, parts.path.lstrip("/")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise PermissionDeniedError(
            f"{url}: object keys with '.' or '..' segments are not read over the server",
            field="url",
        )
    if not any(g.covers(namespace, scheme, bucket, key) for g in parse_grants(entries)):
        raise PermissionDeniedError(
            f"{url}: namespace {namespace!r} may not read this bucket or prefix over the server; "
            f"the operator grants object storage with {SETTING}",
            field="url",
            namespace=namespace,
        )
